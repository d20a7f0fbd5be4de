#include "reference/decoder_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/attend_one.h"

namespace crossrank::ref {

void RmsNorm(float* x, size_t dim, const float* gamma, float eps) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(dim) + eps));
  for (size_t i = 0; i < dim; ++i) x[i] = x[i] * inv * gamma[i];
}

void Rope(float* v, int32_t d, int32_t position, double theta) {
  const int32_t half = d / 2;
  for (int32_t i = 0; i < half; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / d);
    const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    const float a = v[i], b = v[i + half];
    v[i] = a * c - b * s;
    v[i + half] = b * c + a * s;
  }
}

void CausalAttention(ThreadPool& pool, const float* q, const float* k, const float* v, size_t n, size_t start,
                     int32_t heads, int32_t kv_heads, int32_t head_dim, float* ctx) {
  const size_t nH = static_cast<size_t>(heads), nKV = static_cast<size_t>(kv_heads), hd = static_cast<size_t>(head_dim);
  const size_t group = nH / nKV;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  pool.ParallelFor(n * nH, 1, [&](size_t begin, size_t end) {
    std::vector<float> scores(start + n);
    for (size_t item = begin; item < end; ++item) {
      const size_t t = item / nH, j = item % nH, kv = j / group;
      const size_t visible = start + t + 1;  // the cache and the token itself
      AttendOne(q + (t * nH + j) * hd, k + kv * hd, v + kv * hd, visible, nKV * hd, hd, scale, scores.data(),
                ctx + (t * nH + j) * hd);
    }
  });
}

void SwiGlu(const float* gate, const float* up, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace crossrank::ref
