// cuBLASLt, opened at run time where the machine has it (the build machines have no cuBLAS, so
// nothing here links it or includes its headers). Declares the small part of its C API the
// linear layers use, with the values of NVIDIA's cublasLt.h (stable across CUDA 12 and 13),
// and opens libcublasLt.so.13 or .so.12 with dlopen.
// Used by kernels/linear_library.cu (see there for when). (A .cu file only so that
// both CUDA builds, nvcc and the CPU emulation, compile it like the rest.)
#pragma once

#include <cuda_runtime.h>
#include <library_types.h>  // cudaDataType_t

#include <cstddef>
#include <cstdint>
#include <string>

namespace crossrank::cuda::lt {

using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0;
constexpr Status kAllocFailed = 3;
constexpr Status kInvalidValue = 7;
constexpr Status kNotSupported = 15;

using Handle = struct Context*;         // cublasLtHandle_t
using MatmulDesc = struct MatmulDescOpaque*;  // cublasLtMatmulDesc_t
using MatrixLayout = struct MatrixLayoutOpaque*;  // cublasLtMatrixLayout_t
using Preference = struct PreferenceOpaque*;  // cublasLtMatmulPreference_t

struct MatmulAlgo {  // cublasLtMatmulAlgo_t: opaque, 64 bytes
  uint64_t data[8];
};
struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  MatmulAlgo algo;
  size_t workspace_size;
  Status state;
  float waves_count;
  int reserved[4];
};

// cublasComputeType_t
constexpr int kCompute32F = 68;
// cublasOperation_t
constexpr int32_t kOpN = 0, kOpT = 1;
// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8;
// cublasLtEpilogue_t
// GELU_BIAS: the bias, then GELU in its tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
constexpr uint32_t kEpilogueDefault = 1, kEpilogueBias = 4, kEpilogueGeluBias = 36;
// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspaceBytes = 1;
constexpr int kPrefReductionSchemeMask = 3;  // uint32_t; 0: only algorithms that do not split K
constexpr int kPrefMinAlignmentA = 5, kPrefMinAlignmentB = 6, kPrefMinAlignmentC = 7, kPrefMinAlignmentD = 8;

// The entry points, resolved with dlsym.
struct Api {
  size_t (*GetVersion)();
  Status (*Create)(Handle*);
  Status (*Destroy)(Handle);
  Status (*MatmulDescCreate)(MatmulDesc*, int compute_type, cudaDataType_t scale_type);
  Status (*MatmulDescDestroy)(MatmulDesc);
  Status (*MatmulDescSetAttribute)(MatmulDesc, int attribute, const void* value, size_t size);
  Status (*MatrixLayoutCreate)(MatrixLayout*, cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld);
  Status (*MatrixLayoutDestroy)(MatrixLayout);
  Status (*MatmulPreferenceCreate)(Preference*);
  Status (*MatmulPreferenceDestroy)(Preference);
  Status (*MatmulPreferenceSetAttribute)(Preference, int attribute, const void* value, size_t size);
  Status (*MatmulAlgoGetHeuristic)(Handle, MatmulDesc, MatrixLayout a, MatrixLayout b, MatrixLayout c,
                                   MatrixLayout d, Preference, int requested, HeuristicResult* results, int* returned);
  Status (*Matmul)(Handle, MatmulDesc, const void* alpha, const void* a, MatrixLayout, const void* b, MatrixLayout,
                   const void* beta, const void* c, MatrixLayout, void* d, MatrixLayout, const MatmulAlgo*,
                   void* workspace, size_t workspace_bytes, cudaStream_t);
  const char* (*StatusName)(Status);  // cublasLtGetStatusName: may be missing (then null)
  size_t version = 0;                 // e.g. 130100 for 13.1.0
  std::string path;                   // the file dlopen found
};

// The library, opened once per process: CROSSRANK_CUBLASLT (a file; `off`: none) if set,
// else libcublasLt.so.13 then .so.12 from the loader's search path. Null when none opens or a
// symbol is missing; *why then says which.
const Api* OpenCublasLt(std::string* why);

// "CUBLAS_STATUS_NOT_SUPPORTED" or "cuBLASLt status 15".
std::string StatusText(const Api& api, Status status);

}  // namespace crossrank::cuda::lt
