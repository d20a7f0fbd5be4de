// The CPU ops of the reference forward pass. Plain loops, parallel over rows; fp32 with
// several partial sums per dot product (vectorisable without -ffast-math). The linear layer
// has a file of its own (reference/linear.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "crossrank/encoder.h"
#include "crossrank/thread_pool.h"
#include "reference/linear.h"  // LinearForward, used with these ops

namespace crossrank::ref {

// x[rows x dim] = LayerNorm(x + residual) (residual may be null)
void AddLayerNorm(ThreadPool& pool, float* x, const float* residual, size_t rows, const LayerNormParams& p, float eps);
// exact GELU in place: x * 0.5 * (1 + erf(x / sqrt 2))
void Gelu(ThreadPool& pool, float* x, size_t n);
// Multi-head self-attention per packed sequence: ctx = softmax(q k^T / sqrt(d)) v.
// q, k, v, ctx are [tokens x hidden]; no padding exists, so no mask.
void PackedAttention(ThreadPool& pool, const float* q, const float* k, const float* v, const int32_t* cu_seqlens,
                     int32_t num_seqs, int32_t num_heads, int32_t head_dim, float* ctx);

}  // namespace crossrank::ref
