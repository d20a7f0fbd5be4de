// The CPU ops of the reference forward pass, in fp32, parallel over rows (LayerNorm, GELU) or
// over sequences and heads (attention). The linear layer and the attention step each have a
// file of their own (reference/linear.cc, reference/attend_head.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "crossrank/encoder.h"
#include "crossrank/thread_pool.h"
#include "reference/linear.h"  // LinearForward, used with these ops

namespace crossrank::ref {

// x[rows x dim] = LayerNorm(x + residual) (residual may be null)
void AddLayerNorm(ThreadPool& pool, float* x, const float* residual, size_t rows, const LayerNormParams& p, float eps);
// exact GELU in place: x * 0.5 * (1 + erf(x / sqrt 2)), eight lanes at a time (vec8.h; within
// 1.5e-7 of |x| of the value in double precision)
void Gelu(ThreadPool& pool, float* x, size_t n);
// Multi-head self-attention per packed sequence: ctx = softmax(q k^T / sqrt(d)) v.
// q, k, v, ctx are [tokens x hidden]; no padding exists, so no mask.
void PackedAttention(ThreadPool& pool, const float* q, const float* k, const float* v, const int32_t* cu_seqlens,
                     int32_t num_seqs, int32_t num_heads, int32_t head_dim, float* ctx);

}  // namespace crossrank::ref
