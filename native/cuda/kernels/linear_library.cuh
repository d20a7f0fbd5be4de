// cuBLASLt as the engine of a model's linear layers (CROSSRANK_CUDA_GEMM=cublaslt, a
// candidate while it is unverified on a card): a handle, a workspace and the plan found for each
// shape, one LinearLibrary per model stream. The layers' own kernels (kernels/gemm.cu) stay
// the default and the reference it is checked against (op harness, model parity).
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

class LinearLibrary {
 public:
  LinearLibrary() = default;
  LinearLibrary(const LinearLibrary&) = delete;
  LinearLibrary& operator=(const LinearLibrary&) = delete;
  ~LinearLibrary();

  // On the current device. Does nothing (and stays inactive) unless cuBLASLt is requested;
  // then opens it, creates a handle and the workspace. On failure error() says why.
  cudaError_t Init();
  bool active() const { return api_ != nullptr; }

  // Y[m x n] = X[m x k] W^T (+ bias, same type as Y, length n; null: none), all row-major as
  // PyTorch stores them. In cuBLASLt's column-major terms: D[n x m] = op(W)[n x k] X^T[k x m]
  // with W read transposed. On failure error() names the cuBLASLt status.
  template <typename T>
  cudaError_t Matmul(const T* x, const T* w, const T* bias, T* y, int m, int n, int k, cudaStream_t stream);

  const std::string& error() const { return error_; }
  // A failed step's name for the model's error message, with cuBLASLt's reason when the last
  // call into it failed. Valid until the next call.
  const char* Describe(const char* step);
  const lt::Api* api() const { return api_; }

 private:
  struct Plan {
    lt::MatmulDesc desc = nullptr;
    lt::MatrixLayout a = nullptr, b = nullptr, d = nullptr;
    lt::MatmulAlgo algo{};
  };
  // m, n, k, data type, bias, and the alignments (bytes, up to 256) of W, X and Y: the
  // heuristic assumes 256 unless told, and picks algorithms that need it.
  using Key = std::tuple<int, int, int, int, bool, uint32_t, uint32_t, uint32_t>;

  cudaError_t Fail(lt::Status status, const char* step);
  cudaError_t MakePlan(const Key& key, Plan* plan);
  void Release(Plan* plan);

  const lt::Api* api_ = nullptr;
  lt::Handle handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
  std::string error_, described_;
};

}  // namespace crossrank::cuda
