#include "reference/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/attend_head.h"
#include "reference/vec8.h"
#include "reference/vector_math.h"  // CROSSRANK_FMA_CLONES

namespace crossrank::ref {

void AddLayerNorm(ThreadPool& pool, float* x, const float* residual, size_t rows, const LayerNormParams& p, float eps) {
  const size_t dim = p.gamma.size();
  pool.ParallelFor(rows, 8, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      float* row = x + r * dim;
      if (residual) {
        const float* res = residual + r * dim;
        for (size_t i = 0; i < dim; ++i) row[i] += res[i];
      }
      double mean = 0;
      for (size_t i = 0; i < dim; ++i) mean += row[i];
      mean /= static_cast<double>(dim);
      double var = 0;
      for (size_t i = 0; i < dim; ++i) var += (row[i] - mean) * (row[i] - mean);
      var /= static_cast<double>(dim);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (size_t i = 0; i < dim; ++i) {
        row[i] = static_cast<float>((row[i] - mean) * inv) * p.gamma[i] + p.beta[i];
      }
    }
  });
}

// A function of its own, not inlined into the thread pool's lambda, so the FMA clone covers it.
CROSSRANK_FMA_CLONES void GeluRange(float* x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) Store8(x + i, Gelu8(Load8(x + i)));
  if (i < n) {  // the tail through a zero-padded vector, so every element takes the same formula
    float tail[8] = {};
    std::copy(x + i, x + n, tail);
    Store8(tail, Gelu8(Load8(tail)));
    std::copy_n(tail, n - i, x + i);
  }
}

void Gelu(ThreadPool& pool, float* x, size_t n) {
  pool.ParallelFor(n, 4096, [&](size_t begin, size_t end) { GeluRange(x + begin, end - begin); });
}

void PackedAttention(ThreadPool& pool, const float* q, const float* k, const float* v, const int32_t* cu_seqlens,
                     int32_t num_seqs, int32_t num_heads, int32_t head_dim, float* ctx) {
  const size_t hidden = static_cast<size_t>(num_heads) * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  pool.ParallelFor(static_cast<size_t>(num_seqs) * num_heads, 1, [&](size_t begin, size_t end) {
    AttendScratch scratch;
    for (size_t task = begin; task < end; ++task) {
      const int32_t s = static_cast<int32_t>(task / num_heads);
      const size_t at = static_cast<size_t>(cu_seqlens[s]) * hidden + (task % num_heads) * head_dim;
      const size_t len = static_cast<size_t>(cu_seqlens[s + 1] - cu_seqlens[s]);
      const HeadView head{q + at, hidden, k + at, v + at, hidden, ctx + at, hidden, static_cast<size_t>(head_dim)};
      AttendHead(head, len, len, len, scale, &scratch);
    }
  });
}

}  // namespace crossrank::ref
