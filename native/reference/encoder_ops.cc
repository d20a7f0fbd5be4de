#include "reference/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace crossrank::ref {
namespace {

// Built for AVX2 and for the baseline; the loader picks the best the CPU has, so a
// portable prebuilt binary still uses wide vectors where they exist.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CROSSRANK_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CROSSRANK_VECTOR_CLONES
#endif

__attribute__((always_inline)) inline float Dot(const float* a, const float* b, size_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  }
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

// y[j] = x . w[j] + b[j] for j in [j0, j1): the hot loop of every linear layer.
CROSSRANK_VECTOR_CLONES void LinearRow(const float* x, const float* w, const float* b, float* y, size_t j0, size_t j1,
                                       size_t in) {
  for (size_t j = j0; j < j1; ++j) y[j] = Dot(x, w + j * in, in) + b[j];
}

}  // namespace

void LinearForward(ThreadPool& pool, const float* x, size_t rows, const Linear& layer, float* y) {
  const size_t in = layer.in, out = layer.out;
  const float* w = layer.weight.data();
  const float* b = layer.bias.data();
  // Parallel over (row, output-block) so small batches still use every thread.
  const size_t block = 64;
  const size_t blocks_per_row = (out + block - 1) / block;
  pool.ParallelFor(rows * blocks_per_row, 1, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t r = t / blocks_per_row;
      const size_t j0 = (t % blocks_per_row) * block;
      const size_t j1 = std::min(out, j0 + block);
      LinearRow(x + r * in, w, b, y + r * out, j0, j1, in);
    }
  });
}

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
        const float* qi = q + (start + i) * hidden + h * head_dim;
        float max = -INFINITY;
        for (size_t j = 0; j < len; ++j) {
          scores[j] = Dot(qi, k + (start + j) * hidden + h * head_dim, head_dim) * scale;
          max = std::max(max, scores[j]);
        }
        float sum = 0;
        for (size_t j = 0; j < len; ++j) sum += scores[j] = std::exp(scores[j] - max);
        const float inv = 1.0f / sum;
        float* out = ctx + (start + i) * hidden + h * head_dim;
        std::fill(out, out + head_dim, 0.0f);
        for (size_t j = 0; j < len; ++j) {
          const float pj = scores[j] * inv;
          const float* vj = v + (start + j) * hidden + h * head_dim;
          for (int32_t d = 0; d < head_dim; ++d) out[d] += pj * vj[d];
        }
      }
    }
  });
}

}  // namespace crossrank::ref
