// The step between the fused q/k/v projection and attention in Qwen3: each query and key
// head RMS-normalised (q_norm / k_norm) and rotated by its token's position (rotary
// embeddings, rotate_half pairs (i, i + d/2)); values copied out. Normalised values stay fp32
// until rotated. CPU references: ref::RmsNorm and ref::Rope (native/reference/decoder_ops.cc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace crossrank::cuda {

// T: __half or __nv_bfloat16.
template <typename T>
struct QkNormRopeParams {
  const T* qkv;             // [tokens x (heads + 2 kv_heads) * head_dim]: q heads, k heads, v heads
  const int* positions;     // [tokens]
  const float* q_norm;      // [head_dim]
  const float* k_norm;      // [head_dim]
  const float* inv_freq;    // [head_dim / 2]: theta^(-2i / head_dim)
  int tokens, heads, kv_heads, head_dim;
  float eps;
};

// q_out [tokens x heads x head_dim]; k_out, v_out [tokens x kv_heads x head_dim]. head_dim
// even and at most 256.
template <typename T>
cudaError_t LaunchQkNormRope(const QkNormRopeParams<T>& p, T* q_out, T* k_out, T* v_out, cudaStream_t stream);

}  // namespace crossrank::cuda
