#include "reference/decoder_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/attend_head.h"

namespace crossrank::ref {

void RmsNorm(float* x, size_t dim, const float* gamma, float eps) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(dim) + eps));
  for (size_t i = 0; i < dim; ++i) x[i] = x[i] * inv * gamma[i];
}

void RopeAngles(int32_t d, int32_t position, double theta, float* cos, float* sin) {
  for (int32_t i = 0; i < d / 2; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / d);
    cos[i] = static_cast<float>(std::cos(angle)), sin[i] = static_cast<float>(std::sin(angle));
  }
}

void RopeRotate(float* v, int32_t d, const float* cos, const float* sin) {
  const int32_t half = d / 2;
  for (int32_t i = 0; i < half; ++i) {
    const float a = v[i], b = v[i + half];
    v[i] = a * cos[i] - b * sin[i];
    v[i + half] = b * cos[i] + a * sin[i];
  }
}

void Rope(float* v, int32_t d, int32_t position, double theta) {
  std::vector<float> cos(static_cast<size_t>(d / 2)), sin(static_cast<size_t>(d / 2));
  RopeAngles(d, position, theta, cos.data(), sin.data());
  RopeRotate(v, d, cos.data(), sin.data());
}

void CausalAttention(ThreadPool& pool, const float* q, const float* k, const float* v, size_t n, size_t start,
                     int32_t heads, int32_t kv_heads, int32_t head_dim, float* ctx) {
  const size_t nH = static_cast<size_t>(heads), nKV = static_cast<size_t>(kv_heads), hd = static_cast<size_t>(head_dim);
  const size_t group = nH / nKV;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Tasks of (head, chunk of rows): each packs its head's keys and values once for the chunk.
  const size_t chunk = 24, chunks = (n + chunk - 1) / chunk;
  pool.ParallelFor(nH * chunks, 1, [&](size_t begin, size_t end) {
    AttendScratch scratch;
    for (size_t task = begin; task < end; ++task) {
      const size_t j = task / chunks, t0 = (task % chunks) * chunk, rows = std::min(chunk, n - t0);
      const size_t kv = j / group;
      const HeadView head{q + (t0 * nH + j) * hd, nH * hd, k + kv * hd, v + kv * hd, nKV * hd,
                          ctx + (t0 * nH + j) * hd, nH * hd, hd};
      // Row t0 + i sees the cache and the tokens up to itself: start + t0 + i + 1 keys.
      AttendHead(head, rows, start + t0 + rows, start + t0 + 1, scale, &scratch);
    }
  });
}

void SwiGlu(const float* gate, const float* up, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace crossrank::ref
