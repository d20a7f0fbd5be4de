// Test entry points: each CUDA op on host fp32 data (converted to fp16 on the way in and
// back to fp32 on the way out), for the op harness (native/tests/cuda_ops.cc) to compare
// with the CPU reference. Not used by the engine's forward pass.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "cuda/api.h"
#include "cuda/kernels/attention.cuh"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/layernorm.cuh"

#define CROSSRANK_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// Device buffers freed on every exit path.
struct Buffers {
  std::vector<void*> ptrs;
  ~Buffers() {
    for (void* p : ptrs) cudaFree(p);
  }
  template <typename T>
  T* Alloc(size_t count) {
    void* p = nullptr;
    if (cudaMalloc(&p, count * sizeof(T) + 16) != cudaSuccess) return nullptr;
    ptrs.push_back(p);
    return static_cast<T*>(p);
  }
};

__half* UploadHalf(Buffers& b, const float* host, size_t n) {
  std::vector<__half> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = __float2half(host[i]);
  __half* d = b.Alloc<__half>(n);
  if (d && cudaMemcpy(d, h.data(), n * sizeof(__half), cudaMemcpyHostToDevice) != cudaSuccess) return nullptr;
  return d;
}

template <typename T>
T* Upload(Buffers& b, const T* host, size_t n) {
  T* d = b.Alloc<T>(n);
  if (d && cudaMemcpy(d, host, n * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) return nullptr;
  return d;
}

bool DownloadHalf(const __half* d, float* host, size_t n) {
  std::vector<__half> h(n);
  if (cudaMemcpy(h.data(), d, n * sizeof(__half), cudaMemcpyDeviceToHost) != cudaSuccess) return false;
  for (size_t i = 0; i < n; ++i) host[i] = __half2float(h[i]);
  return true;
}

int Finish(cudaError_t launch, char* message, size_t len) {
  cudaError_t err = launch != cudaSuccess ? launch : cudaDeviceSynchronize();
  if (err == cudaSuccess) return CROSSRANK_CUDA_STATUS_OK;
  if (message && len) snprintf(message, len, "%s", cudaGetErrorString(err));
  cudaGetLastError();
  return err == cudaErrorMemoryAllocation ? CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY : CROSSRANK_CUDA_STATUS_ERROR;
}

int OutOfMemory(char* message, size_t len) {
  if (message && len) snprintf(message, len, "%s", "device allocation or copy failed");
  cudaGetLastError();
  return CROSSRANK_CUDA_STATUS_OUT_OF_MEMORY;
}

}  // namespace

// y[m x n] = x[m x k] w[n x k]^T + bias (gelu != 0: then exact GELU)
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_linear(const float* x, const float* w, const float* bias, float* y, int m,
                                                   int n, int k, int gelu, char* message, size_t message_len) {
  Buffers b;
  __half* dx = UploadHalf(b, x, size_t(m) * k);
  __half* dw = UploadHalf(b, w, size_t(n) * k);
  float* db = Upload(b, bias, n);
  __half* dy = b.Alloc<__half>(size_t(m) * n);
  if (!dx || !dw || !db || !dy) return OutOfMemory(message, message_len);
  int rc = Finish(crossrank::cuda::LaunchLinear(dx, dw, db, dy, m, n, k,
                                                 gelu ? crossrank::cuda::Epilogue::kBiasGelu : crossrank::cuda::Epilogue::kBias,
                                                 nullptr),
                  message, message_len);
  if (rc == 0 && !DownloadHalf(dy, y, size_t(m) * n)) return OutOfMemory(message, message_len);
  return rc;
}

// x[rows x dim] = LayerNorm(x + residual)
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_add_layernorm(float* x, const float* residual, const float* gamma,
                                                          const float* beta, int rows, int dim, float eps,
                                                          char* message, size_t message_len) {
  Buffers b;
  __half* dx = UploadHalf(b, x, size_t(rows) * dim);
  __half* dr = residual ? UploadHalf(b, residual, size_t(rows) * dim) : nullptr;
  float* dg = Upload(b, gamma, dim);
  float* dbeta = Upload(b, beta, dim);
  if (!dx || (residual && !dr) || !dg || !dbeta) return OutOfMemory(message, message_len);
  int rc = Finish(crossrank::cuda::LaunchAddLayerNorm(dx, dr, dg, dbeta, rows, dim, eps, nullptr), message, message_len);
  if (rc == 0 && !DownloadHalf(dx, x, size_t(rows) * dim)) return OutOfMemory(message, message_len);
  return rc;
}

// ctx = varlen attention(q, k, v) over cu_seqlens
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_attention(const float* q, const float* k, const float* v,
                                                      const int* cu_seqlens, int num_seqs, int num_heads,
                                                      int head_dim, float* ctx, char* message, size_t message_len) {
  const int total = cu_seqlens[num_seqs];
  int max_len = 0;
  for (int s = 0; s < num_seqs; ++s) max_len = cu_seqlens[s + 1] - cu_seqlens[s] > max_len ? cu_seqlens[s + 1] - cu_seqlens[s] : max_len;
  const size_t n = size_t(total) * num_heads * head_dim;
  Buffers b;
  __half* dq = UploadHalf(b, q, n);
  __half* dk = UploadHalf(b, k, n);
  __half* dv = UploadHalf(b, v, n);
  int* dcu = Upload(b, cu_seqlens, num_seqs + 1);
  __half* dctx = b.Alloc<__half>(n);
  if (!dq || !dk || !dv || !dcu || !dctx) return OutOfMemory(message, message_len);
  int rc = Finish(crossrank::cuda::LaunchVarlenAttention(dq, dk, dv, dcu, num_seqs, max_len, num_heads, head_dim, dctx,
                                                          nullptr),
                  message, message_len);
  if (rc == 0 && !DownloadHalf(dctx, ctx, n)) return OutOfMemory(message, message_len);
  return rc;
}
