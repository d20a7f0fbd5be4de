#include "reference/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "reference/attend_one.h"
#include "reference/vector_math.h"

namespace crossrank::ref {
namespace {

// y[r][j] = x[r] . w[j] + b[j] for j in [j0, j1) and a group of rows r at once: each weight row
// is read once for all of them (the layer is bound by streaming weights, not by arithmetic).
// Every row's dot product keeps its own eight partial sums in the same order as Dot(), so
// results do not depend on how rows are grouped.
constexpr size_t kRowGroup = 4;

CROSSRANK_VECTOR_CLONES void LinearRows(const float* x, size_t rows, const float* w, const float* b, float* y, size_t j0,
                                        size_t j1, size_t in, size_t out) {
  if (rows < kRowGroup) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = j0; j < j1; ++j) y[r * out + j] = Dot(x + r * in, w + j * in, in) + b[j];
    return;
  }
  // Eight lanes per row as GCC vectors (AVX2, or SSE halves): the same lanes Dot() keeps.
  typedef float V8 __attribute__((vector_size(32)));
  for (size_t j = j0; j < j1; ++j) {
    const float* wj = w + j * in;
    V8 s[kRowGroup] = {};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
      V8 wv, xv;
      std::memcpy(&wv, wj + i, sizeof wv);
      for (size_t r = 0; r < kRowGroup; ++r) {
        std::memcpy(&xv, x + r * in + i, sizeof xv);
        s[r] += xv * wv;
      }
    }
    for (size_t r = 0; r < kRowGroup; ++r) {
      float total = ((s[r][0] + s[r][1]) + (s[r][2] + s[r][3])) + ((s[r][4] + s[r][5]) + (s[r][6] + s[r][7]));
      for (size_t t = i; t < in; ++t) total += x[r * in + t] * wj[t];
      y[r * out + j] = total + b[j];
    }
  }
}

}  // namespace

void LinearForward(ThreadPool& pool, const float* x, size_t rows, const Linear& layer, float* y) {
  const size_t in = layer.in, out = layer.out;
  const float* w = layer.weight.data();
  const float* b = layer.bias.data();
  // Parallel over (group of rows, output block) so small batches still use every thread.
  const size_t block = 64, group = kRowGroup;
  const size_t blocks_per_group = (out + block - 1) / block;
  const size_t groups = (rows + group - 1) / group;
  pool.ParallelFor(groups * blocks_per_group, 1, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      const size_t r0 = (t / blocks_per_group) * group;
      const size_t j0 = (t % blocks_per_group) * block;
      const size_t j1 = std::min(out, j0 + block);
      LinearRows(x + r0 * in, std::min(group, rows - r0), w, b, y + r0 * out, j0, j1, in, out);
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
        const size_t row = (start + i) * hidden + h * head_dim;
        AttendOne(q + row, k + start * hidden + h * head_dim, v + start * hidden + h * head_dim, len, hidden,
                  static_cast<size_t>(head_dim), scale, scores.data(), ctx + row);
      }
    }
  });
}

}  // namespace crossrank::ref
