// The CPU ops of the decoder reference (Qwen3): RMSNorm, rotary embeddings, grouped-query
// causal attention over a key/value cache, SwiGLU. Each is the oracle of a CUDA kernel
// (native/cuda/kernels/{rmsnorm,rope,decoder_attention,elementwise}.cu) in the op harness.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crossrank/thread_pool.h"

namespace crossrank::ref {

// x[dim] = x / sqrt(mean(x^2) + eps) * gamma, the sum of squares in double.
void RmsNorm(float* x, size_t dim, const float* gamma, float eps);

// Rotary embedding of one head vector at `position`: pairs (i, i + d/2) rotate by
// position * theta^(-2i/d), as transformers' rotate_half formulation.
void Rope(float* v, int32_t head_dim, int32_t position, double theta);
// The same rotation with its angles' cosines and sines given (head_dim / 2 of each): computed
// once per position by RopeAngles and applied to every head, bitwise as Rope.
void RopeAngles(int32_t head_dim, int32_t position, double theta, float* cos, float* sin);
void RopeRotate(float* v, int32_t head_dim, const float* cos, const float* sin);

// n new tokens at positions start .. start+n-1 attend causally over a cache holding the keys
// and values of positions 0 .. start+n-1. q, ctx: [n x heads x head_dim]; k, v:
// [(start + n) x kv_heads x head_dim]; query head j reads key/value head j / (heads / kv_heads).
void CausalAttention(ThreadPool& pool, const float* q, const float* k, const float* v, size_t n, size_t start,
                     int32_t heads, int32_t kv_heads, int32_t head_dim, float* ctx);

// out[i] = SiLU(gate[i]) * up[i]
void SwiGlu(const float* gate, const float* up, size_t n, float* out);

}  // namespace crossrank::ref
