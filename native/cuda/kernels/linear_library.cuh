// cuBLASLt as the engine of a model's linear layers: a handle, a workspace and the plans found
// for each shape, one LinearLibrary per model stream. The encoders' default where the library
// opens (the first device run, H200: correct, and 1.3-1.9x the own kernels end to end); the
// layers' own kernels (kernels/gemm.cu) run everywhere else and are the reference it is
// checked against (op harness, model parity). The decoder uses it only on request: with
// plans chosen per batch shape its rounding followed the batch, and a shared prefix's scores
// drifted from the unshared prompt's in bf16 (first device run); it now asks for
// batch-invariant plans (Init), not yet run on a card.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "cuda/cublaslt.h"

namespace crossrank::cuda {

// True when CROSSRANK_CUDA_GEMM asks for cuBLASLt.
bool CublasLtRequested();
// True when CROSSRANK_CUDA_GELU=tanh: GELU may be its tanh approximation where that saves a pass
// (cuBLASLt's fused epilogue; within 4.7e-4 of the exact GELU, about fp16's rounding of
// activations near 1; TEI runs BERT's FFN this way). Unset or `exact`: exact GELU everywhere.
bool TanhGeluRequested();

// Which models use cuBLASLt unless CROSSRANK_CUDA_GEMM says otherwise.
enum class LibraryUse {
  kOnRequest,     // only with CROSSRANK_CUDA_GEMM=cublaslt (the decoder; the op harness)
  kWhereItOpens,  // also when it is unset or `auto`, where the library opens (encoders)
};

class LinearLibrary {
 public:
  LinearLibrary() = default;
  LinearLibrary(const LinearLibrary&) = delete;
  LinearLibrary& operator=(const LinearLibrary&) = delete;
  ~LinearLibrary();

  // On the current device: opens cuBLASLt, creates a handle and the workspace when `use`
  // and CROSSRANK_CUDA_GEMM call for it; else stays inactive (the own kernels run). Where it
  // was asked for by name, not opening is an error (error() says why); where it was only
  // preferred, the own kernels run and unavailable() says why.
  // batch_invariant: every row's result independent of the batch it is in (the decoder's
  // shared prefix must compute as the unshared prompt does): one algorithm per shape, found
  // once for a fixed row count, that does not split K, whatever the batch's rows.
  cudaError_t Init(LibraryUse use = LibraryUse::kOnRequest, bool batch_invariant = false);
  bool active() const { return api_ != nullptr; }
  // Whether GELU after a product runs in cuBLASLt's epilogue (tanh approximation), as chosen at Init.
  bool tanh_gelu() const { return tanh_gelu_; }

  // Y[m x n] = X[m x k] W^T (+ bias, same type as Y, length n; null: none), all row-major as
  // PyTorch stores them; tanh_gelu (with a bias): then GELU in the tanh approximation, the one
  // cuBLASLt's epilogue has. In cuBLASLt's column-major terms: D[n x m] = op(W)[n x k] X^T[k x m]
  // with W read transposed. On failure error() names the cuBLASLt status.
  template <typename T>
  cudaError_t Matmul(const T* x, const T* w, const T* bias, T* y, int m, int n, int k, cudaStream_t stream,
                     bool tanh_gelu = false);

  const std::string& error() const { return error_; }
  const std::string& unavailable() const { return unavailable_; }
  // A failed step's name for the model's error message, with cuBLASLt's reason when the last
  // call into it failed. Valid until the next call.
  const char* Describe(const char* step);
  const lt::Api* api() const { return api_; }

 private:
  struct Plan {
    lt::MatmulDesc desc = nullptr;
    lt::MatrixLayout a = nullptr, b = nullptr, d = nullptr;
    lt::MatmulAlgo algo{};
    int rows = 0;  // the m that layouts b and d describe now
  };
  // Rows (a bucket of m, or m itself: see PlanRows), n, k, data type, the epilogue (lt::kEpilogue*),
  // the alignments (bytes, up to 256) of W, X and Y (the heuristic assumes 256 unless told, and
  // picks algorithms that need it), and whether the plan is for exactly that m.
  using Key = std::tuple<int, int, int, int, uint32_t, uint32_t, uint32_t, uint32_t, bool>;

  cudaError_t Fail(lt::Status status, const char* step);
  // The plan of `key` (found once, then cached) with its layouts set to m rows.
  cudaError_t FindPlan(const Key& key, int m, Plan** plan);
  cudaError_t MakePlan(const Key& key, Plan* plan);
  cudaError_t SetRows(const Key& key, Plan* plan, int m);
  void Release(Plan* plan);

  const lt::Api* api_ = nullptr;
  lt::Handle handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
  bool batch_invariant_ = false, tanh_gelu_ = false;
  std::string error_, described_, unavailable_;
};

}  // namespace crossrank::cuda
