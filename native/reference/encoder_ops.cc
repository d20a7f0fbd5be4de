#include "reference/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/attend_one.h"

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

void Gelu(ThreadPool& pool, float* x, size_t n) {
  pool.ParallelFor(n, 4096, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
  });
}

void PackedAttention(ThreadPool& pool, const float* q, const float* k, const float* v, const int32_t* cu_seqlens,
                     int32_t num_seqs, int32_t num_heads, int32_t head_dim, float* ctx) {
  const size_t hidden = static_cast<size_t>(num_heads) * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  pool.ParallelFor(static_cast<size_t>(num_seqs) * num_heads, 1, [&](size_t begin, size_t end) {
    std::vector<float> scores;
    for (size_t task = begin; task < end; ++task) {
      const int32_t s = static_cast<int32_t>(task / num_heads);
      const size_t h = task % num_heads;
      const size_t start = cu_seqlens[s];
      const size_t len = cu_seqlens[s + 1] - cu_seqlens[s];
      scores.resize(len);
      for (size_t i = 0; i < len; ++i) {
        const size_t row = (start + i) * hidden + h * head_dim;
        AttendOne(q + row, k + start * hidden + h * head_dim, v + start * hidden + h * head_dim, len, hidden,
                  static_cast<size_t>(head_dim), scale, scores.data(), ctx + row);
      }
    }
  });
}

}  // namespace crossrank::ref
