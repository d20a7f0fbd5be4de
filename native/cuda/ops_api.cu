// Test entry points: each CUDA op on host fp32 data (converted to 16-bit elements on the way
// in and back to fp32 on the way out), for the op harness (native/tests/cuda_ops.cc) to
// compare with the CPU reference. Not used by the engine's forward pass.
//
// The element type is fp16, or bf16 when CROSSRANK_CUDA_OP_ELEMENT=bf16 (every op the forward
// passes run in either type): read at each call, so the harness checks both.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda/api.h"
#include "cuda/common.cuh"
#include "cuda/kernels/answer_head.cuh"
#include "cuda/kernels/attention.cuh"
#include "cuda/kernels/decoder_attention.cuh"
#include "cuda/kernels/elementwise.cuh"
#include "cuda/kernels/gemm.cuh"
#include "cuda/kernels/layernorm.cuh"
#include "cuda/kernels/linear_library.cuh"
#include "cuda/kernels/rmsnorm.cuh"
#include "cuda/kernels/rope.cuh"

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

// Host fp32 to a device array of T (__half or __nv_bfloat16).
template <typename T = __half>
T* UploadHalf(Buffers& b, const float* host, size_t n) {
  std::vector<T> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = crossrank::cuda::FromFloat<T>(host[i]);
  T* d = b.Alloc<T>(n);
  if (d && cudaMemcpy(d, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) return nullptr;
  return d;
}

template <typename T>
T* Upload(Buffers& b, const T* host, size_t n) {
  T* d = b.Alloc<T>(n);
  if (d && cudaMemcpy(d, host, n * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) return nullptr;
  return d;
}

template <typename T>
bool DownloadHalf(const T* d, float* host, size_t n) {
  std::vector<T> h(n);
  if (cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) return false;
  for (size_t i = 0; i < n; ++i) host[i] = crossrank::cuda::ToFloat(h[i]);
  return true;
}

// Calls op(T{}) with T the element type chosen by CROSSRANK_CUDA_OP_ELEMENT (see above).
template <typename Op>
int WithElement(Op&& op) {
  const char* v = std::getenv("CROSSRANK_CUDA_OP_ELEMENT");
  if (v && std::strcmp(v, "bf16") == 0) return op(__nv_bfloat16{});
  return op(__half{});
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

int LibraryError(const crossrank::cuda::LinearLibrary& library, char* message, size_t len) {
  if (message && len) snprintf(message, len, "%s", library.error().c_str());
  cudaGetLastError();
  return CROSSRANK_CUDA_STATUS_ERROR;
}

}  // namespace

// y[m x n] = x[m x k] w[n x k]^T + bias (null: none; gelu != 0: then exact GELU), on the
// linear kernel CROSSRANK_CUDA_GEMM names (cublaslt: cuBLASLt).
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_linear(const float* x, const float* w, const float* bias, float* y, int m,
                                                   int n, int k, int gelu, char* message, size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    crossrank::cuda::LinearLibrary library;
    if (library.Init() != cudaSuccess) return LibraryError(library, message, message_len);
    Buffers b;
    T* dx = UploadHalf<T>(b, x, size_t(m) * k);
    T* dw = UploadHalf<T>(b, w, size_t(n) * k);
    float* db = bias ? Upload(b, bias, n) : nullptr;
    T* db_same = bias && library.active() ? UploadHalf<T>(b, bias, n) : nullptr;
    T* dy = b.Alloc<T>(size_t(m) * n);
    if (!dx || !dw || (bias && !db) || (bias && library.active() && !db_same) || !dy) {
      return OutOfMemory(message, message_len);
    }
    const auto epilogue = gelu ? crossrank::cuda::Epilogue::kBiasGelu : crossrank::cuda::Epilogue::kBias;
    int rc = Finish(crossrank::cuda::LaunchLinear(dx, dw, db, dy, m, n, k, epilogue, nullptr, &library, db_same),
                    message, message_len);
    if (rc && !library.error().empty()) return LibraryError(library, message, message_len);
    if (rc == 0 && !DownloadHalf(dy, y, size_t(m) * n)) return OutOfMemory(message, message_len);
    return rc;
  });
}

// Whether cuBLASLt opens here: 1 and "cuBLASLt <version> (<file>)" in `out`, or 0 and why not.
CROSSRANK_CUDA_EXPORT int crossrank_cuda_cublaslt_info(char* out, size_t out_len) {
  std::string why;
  const crossrank::cuda::lt::Api* api = crossrank::cuda::lt::OpenCublasLt(&why);
  if (!api) {
    if (out && out_len) snprintf(out, out_len, "%s", why.c_str());
    return 0;
  }
  if (out && out_len) {
    snprintf(out, out_len, "cuBLASLt %zu.%zu.%zu (%s)", api->version / 10000, api->version / 100 % 100,
             api->version % 100, api->path.c_str());
  }
  return 1;
}

// x[rows x dim] = LayerNorm(x + residual)
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_add_layernorm(float* x, const float* residual, const float* gamma,
                                                          const float* beta, int rows, int dim, float eps,
                                                          char* message, size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    Buffers b;
    T* dx = UploadHalf<T>(b, x, size_t(rows) * dim);
    T* dr = residual ? UploadHalf<T>(b, residual, size_t(rows) * dim) : nullptr;
    float* dg = Upload(b, gamma, dim);
    float* dbeta = Upload(b, beta, dim);
    if (!dx || (residual && !dr) || !dg || !dbeta) return OutOfMemory(message, message_len);
    int rc = Finish(crossrank::cuda::LaunchAddLayerNorm(dx, dr, dg, dbeta, rows, dim, eps, nullptr), message, message_len);
    if (rc == 0 && !DownloadHalf(dx, x, size_t(rows) * dim)) return OutOfMemory(message, message_len);
    return rc;
  });
}

// ctx = varlen attention(q, k, v) over cu_seqlens. q, k and v go to the device side by side
// in one [tokens x 3 * hidden] buffer, the layout of the encoder's fused q/k/v projection.
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_attention(const float* q, const float* k, const float* v,
                                                      const int* cu_seqlens, int num_seqs, int num_heads,
                                                      int head_dim, float* ctx, char* message, size_t message_len) {
  const int total = cu_seqlens[num_seqs];
  int max_len = 0;
  for (int s = 0; s < num_seqs; ++s) max_len = std::max(max_len, cu_seqlens[s + 1] - cu_seqlens[s]);
  const size_t hidden = size_t(num_heads) * head_dim, n = size_t(total) * hidden;
  std::vector<float> qkv(3 * n);
  for (size_t t = 0; t < size_t(total); ++t) {
    std::copy(q + t * hidden, q + (t + 1) * hidden, qkv.begin() + 3 * t * hidden);
    std::copy(k + t * hidden, k + (t + 1) * hidden, qkv.begin() + (3 * t + 1) * hidden);
    std::copy(v + t * hidden, v + (t + 1) * hidden, qkv.begin() + (3 * t + 2) * hidden);
  }
  return WithElement([&](auto element) {
    using T = decltype(element);
    Buffers b;
    T* dqkv = UploadHalf<T>(b, qkv.data(), qkv.size());
    int* dcu = Upload(b, cu_seqlens, num_seqs + 1);
    T* dctx = b.Alloc<T>(n);
    if (!dqkv || !dcu || !dctx) return OutOfMemory(message, message_len);
    const crossrank::cuda::VarlenAttentionArgs<T> args{dqkv,    dqkv + hidden, dqkv + 2 * hidden, 3 * hidden, dcu,
                                                       num_seqs, max_len,      num_heads,         head_dim,   dctx,
                                                       hidden};
    int rc = Finish(crossrank::cuda::LaunchVarlenAttention(args, nullptr), message, message_len);
    if (rc == 0 && !DownloadHalf(dctx, ctx, n)) return OutOfMemory(message, message_len);
    return rc;
  });
}

// Kernel time of one op on zero-filled device buffers (see crossrank_cuda_op_bench_fn).
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_bench(int op, const int* shape, int iters, double* ms, char* message,
                                                  size_t message_len) {
  Buffers b;
  std::vector<int> cu;
  auto zeros = [&](size_t bytes) -> void* {
    char* p = b.Alloc<char>(bytes);
    return p && cudaMemset(p, 0, bytes) == cudaSuccess ? p : nullptr;
  };
  std::function<cudaError_t()> launch;
  crossrank::cuda::LinearLibrary library;  // cuBLASLt when CROSSRANK_CUDA_GEMM=cublaslt
  if (op == 0) {
    if (library.Init() != cudaSuccess) return LibraryError(library, message, message_len);
    const int m = shape[0], n = shape[1], k = shape[2];
    auto* x = static_cast<__half*>(zeros(size_t(m) * k * 2));
    auto* w = static_cast<__half*>(zeros(size_t(n) * k * 2));
    auto* bias = static_cast<float*>(zeros(size_t(n) * 4));
    auto* bias_same = static_cast<__half*>(zeros(size_t(n) * 2));
    auto* y = static_cast<__half*>(zeros(size_t(m) * n * 2));
    if (!x || !w || !bias || !bias_same || !y) return OutOfMemory(message, message_len);
    const auto epilogue = shape[3] ? crossrank::cuda::Epilogue::kBiasGelu : crossrank::cuda::Epilogue::kBias;
    crossrank::cuda::LinearLibrary* lib = &library;
    launch = [=] { return crossrank::cuda::LaunchLinear(x, w, bias, y, m, n, k, epilogue, nullptr, lib, bias_same); };
  } else if (op == 1) {
    const int seqs = shape[0], len = shape[1], heads = shape[2], dim = shape[3];
    for (int s = 0; s <= seqs; ++s) cu.push_back(s * len);
    const size_t hidden = size_t(heads) * dim, tokens = size_t(seqs) * len;
    auto* qkv = static_cast<__half*>(zeros(tokens * 3 * hidden * 2));
    auto* ctx = static_cast<__half*>(zeros(tokens * hidden * 2));
    int* dcu = Upload(b, cu.data(), cu.size());
    if (!qkv || !ctx || !dcu) return OutOfMemory(message, message_len);
    const crossrank::cuda::VarlenAttentionArgs<__half> args{qkv, qkv + hidden, qkv + 2 * hidden, 3 * hidden, dcu, seqs,
                                                    len, heads,        dim,              ctx,        hidden};
    launch = [=] { return crossrank::cuda::LaunchVarlenAttention(args, nullptr); };
  } else if (op == 2) {
    const int rows = shape[0], dim = shape[1];
    auto* x = static_cast<__half*>(zeros(size_t(rows) * dim * 2));
    auto* r = static_cast<__half*>(zeros(size_t(rows) * dim * 2));
    auto* gamma = static_cast<float*>(zeros(size_t(dim) * 4));
    auto* beta = static_cast<float*>(zeros(size_t(dim) * 4));
    if (!x || !r || !gamma || !beta) return OutOfMemory(message, message_len);
    launch = [=] { return crossrank::cuda::LaunchAddLayerNorm(x, r, gamma, beta, rows, dim, 1e-12f, nullptr); };
  } else if (op == 3) {
    // Decoder attention: `seqs` sequences of `len` tokens, all continuing one prefix of
    // `prefix_len` tokens (one query's documents, as the shared-prefix pass runs them).
    const int seqs = shape[0], len = shape[1], prefix_len = shape[2], heads = shape[3], kv_heads = shape[4],
              dim = shape[5];
    for (int s = 0; s <= seqs; ++s) cu.push_back(s * len);
    const size_t tokens = size_t(seqs) * len, q_width = size_t(heads) * dim, kv_width = size_t(kv_heads) * dim;
    auto* q = static_cast<__half*>(zeros(tokens * q_width * 2));
    auto* k = static_cast<__half*>(zeros(tokens * kv_width * 2));
    auto* v = static_cast<__half*>(zeros(tokens * kv_width * 2));
    auto* pk = static_cast<__half*>(zeros((size_t(prefix_len) + 1) * kv_width * 2));
    auto* pv = static_cast<__half*>(zeros((size_t(prefix_len) + 1) * kv_width * 2));
    auto* ctx = static_cast<__half*>(zeros(tokens * q_width * 2));
    int* dcu = Upload(b, cu.data(), cu.size());
    const int prefix_cu[2] = {0, prefix_len};
    int* dprefix_cu = Upload(b, prefix_cu, 2);
    int* dprefix_of = static_cast<int*>(zeros(size_t(seqs) * sizeof(int)));  // all sequences: prefix 0
    if (!q || !k || !v || !pk || !pv || !ctx || !dcu || !dprefix_cu || !dprefix_of) return OutOfMemory(message, message_len);
    const crossrank::cuda::DecoderAttentionParams<__half> p{
        q, k, v, dcu, seqs, len, pk, pv, dprefix_cu, prefix_len > 0 ? dprefix_of : nullptr, heads, kv_heads, dim};
    launch = [=] { return crossrank::cuda::LaunchDecoderAttention(p, ctx, nullptr); };
  } else {
    if (message && message_len) snprintf(message, message_len, "unknown op %d", op);
    return CROSSRANK_CUDA_STATUS_INVALID_ARGUMENT;
  }
  int rc = Finish(launch(), message, message_len);  // warm-up
  if (rc && !library.error().empty()) return LibraryError(library, message, message_len);
  if (rc) return rc;
  const auto t0 = std::chrono::steady_clock::now();
  cudaError_t e = cudaSuccess;
  for (int i = 0; i < iters && e == cudaSuccess; ++i) e = launch();
  if ((rc = Finish(e, message, message_len))) return rc;
  *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / std::max(iters, 1);
  return CROSSRANK_CUDA_STATUS_OK;
}

// ---- decoder ops ----------------------------------------------------------------------

namespace {

bool DownloadFloat(const float* d, float* host, size_t n) {
  return cudaMemcpy(host, d, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
}

}  // namespace

// x = x + delta (fp32 residual), out = RMSNorm(x) * gamma (16-bit on the device)
CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_add_rmsnorm(float* x, const float* delta, const float* gamma, int rows,
                                                        int dim, float eps, float* out, char* message,
                                                        size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    const size_t n = size_t(rows) * dim;
    Buffers b;
    float* dx = Upload(b, x, n);
    T* dd = delta ? UploadHalf<T>(b, delta, n) : nullptr;
    float* dg = Upload(b, gamma, dim);
    T* dout = b.Alloc<T>(n);
    if (!dx || (delta && !dd) || !dg || !dout) return OutOfMemory(message, message_len);
    int rc = Finish(crossrank::cuda::LaunchAddRmsNorm(dx, dd, dg, rows, dim, eps, dout, nullptr), message, message_len);
    if (rc == 0 && (!DownloadFloat(dx, x, n) || !DownloadHalf(dout, out, n))) return OutOfMemory(message, message_len);
    return rc;
  });
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_qk_norm_rope(const float* qkv, const int* positions, const float* q_norm,
                                                         const float* k_norm, int tokens, int heads, int kv_heads,
                                                         int head_dim, float eps, double theta, float* q, float* k,
                                                         float* v, char* message, size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    const size_t width = size_t(heads + 2 * kv_heads) * head_dim;
    std::vector<float> inv_freq(head_dim / 2);
    for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(std::pow(theta, -2.0 * double(i) / head_dim));
    Buffers b;
    T* dqkv = UploadHalf<T>(b, qkv, tokens * width);
    int* dpos = Upload(b, positions, tokens);
    float* dqn = Upload(b, q_norm, head_dim);
    float* dkn = Upload(b, k_norm, head_dim);
    float* dfreq = Upload(b, inv_freq.data(), inv_freq.size());
    T* dq = b.Alloc<T>(size_t(tokens) * heads * head_dim);
    T* dk = b.Alloc<T>(size_t(tokens) * kv_heads * head_dim);
    T* dv = b.Alloc<T>(size_t(tokens) * kv_heads * head_dim);
    if (!dqkv || !dpos || !dqn || !dkn || !dfreq || !dq || !dk || !dv) return OutOfMemory(message, message_len);
    crossrank::cuda::QkNormRopeParams<T> p{dqkv, dpos, dqn, dkn, dfreq, tokens, heads, kv_heads, head_dim, eps};
    int rc = Finish(crossrank::cuda::LaunchQkNormRope(p, dq, dk, dv, nullptr), message, message_len);
    if (rc == 0 && (!DownloadHalf(dq, q, size_t(tokens) * heads * head_dim) ||
                    !DownloadHalf(dk, k, size_t(tokens) * kv_heads * head_dim) ||
                    !DownloadHalf(dv, v, size_t(tokens) * kv_heads * head_dim))) {
      return OutOfMemory(message, message_len);
    }
    return rc;
  });
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_decoder_attention(const float* q, const float* k, const float* v,
                                                              const int* cu_seqlens, int num_seqs,
                                                              const float* prefix_k, const float* prefix_v,
                                                              const int* prefix_cu, int num_prefixes,
                                                              const int* prefix_of, int heads, int kv_heads,
                                                              int head_dim, float* ctx, char* message,
                                                              size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    const int total = cu_seqlens[num_seqs], prefix_total = num_prefixes > 0 ? prefix_cu[num_prefixes] : 0;
    int max_len = 0;
    for (int s = 0; s < num_seqs; ++s) max_len = std::max(max_len, cu_seqlens[s + 1] - cu_seqlens[s]);
    const size_t nq = size_t(total) * heads * head_dim, nkv = size_t(total) * kv_heads * head_dim;
    const size_t npkv = size_t(prefix_total) * kv_heads * head_dim;
    Buffers b;
    T* dq = UploadHalf<T>(b, q, nq);
    T* dk = UploadHalf<T>(b, k, nkv);
    T* dv = UploadHalf<T>(b, v, nkv);
    int* dcu = Upload(b, cu_seqlens, num_seqs + 1);
    T* dctx = b.Alloc<T>(nq);
    if (!dq || !dk || !dv || !dcu || !dctx) return OutOfMemory(message, message_len);
    crossrank::cuda::DecoderAttentionParams<T> p{dq,      dk,      dv,      dcu,   num_seqs, max_len, nullptr,
                                                 nullptr, nullptr, nullptr, heads, kv_heads, head_dim};
    if (num_prefixes > 0) {
      p.prefix_k = UploadHalf<T>(b, prefix_k, npkv);
      p.prefix_v = UploadHalf<T>(b, prefix_v, npkv);
      p.prefix_cu = Upload(b, prefix_cu, num_prefixes + 1);
      p.prefix_of = Upload(b, prefix_of, num_seqs);
      if (!p.prefix_k || !p.prefix_v || !p.prefix_cu || !p.prefix_of) return OutOfMemory(message, message_len);
    }
    int rc = Finish(crossrank::cuda::LaunchDecoderAttention(p, dctx, nullptr), message, message_len);
    if (rc == 0 && !DownloadHalf(dctx, ctx, nq)) return OutOfMemory(message, message_len);
    return rc;
  });
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_swiglu(const float* gate_up, int tokens, int inter, float* out,
                                                   char* message, size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    Buffers b;
    T* dgu = UploadHalf<T>(b, gate_up, size_t(tokens) * 2 * inter);
    T* dout = b.Alloc<T>(size_t(tokens) * inter);
    if (!dgu || !dout) return OutOfMemory(message, message_len);
    int rc = Finish(crossrank::cuda::LaunchSwiGlu(dgu, tokens, inter, dout, nullptr), message, message_len);
    if (rc == 0 && !DownloadHalf(dout, out, size_t(tokens) * inter)) return OutOfMemory(message, message_len);
    return rc;
  });
}

CROSSRANK_CUDA_EXPORT int crossrank_cuda_op_answer_head(const float* x, const float* delta, const int* last,
                                                        int num_seqs, int rows, const float* norm,
                                                        const float* answer, int hidden, int num_answers, float eps,
                                                        float* logits, char* message, size_t message_len) {
  return WithElement([&](auto element) {
    using T = decltype(element);
    Buffers b;
    float* dx = Upload(b, x, size_t(rows) * hidden);
    T* dd = delta ? UploadHalf<T>(b, delta, size_t(rows) * hidden) : nullptr;
    int* dlast = Upload(b, last, num_seqs);
    float* dnorm = Upload(b, norm, hidden);
    float* dans = Upload(b, answer, size_t(num_answers) * hidden);
    float* dlogits = b.Alloc<float>(size_t(num_seqs) * num_answers);
    if (!dx || (delta && !dd) || !dlast || !dnorm || !dans || !dlogits) return OutOfMemory(message, message_len);
    crossrank::cuda::AnswerHeadParams<T> p{dx, dd, dlast, dnorm, dans, num_seqs, hidden, num_answers, eps};
    int rc = Finish(crossrank::cuda::LaunchAnswerHead(p, dlogits, nullptr), message, message_len);
    if (rc == 0 && !DownloadFloat(dlogits, logits, size_t(num_seqs) * num_answers)) {
      return OutOfMemory(message, message_len);
    }
    return rc;
  });
}
