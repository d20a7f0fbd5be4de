// One head's attention as two small register-tiled products (the shape of linear.cc's):
// scores = Q K^T with the keys packed transposed, so a step over the head dimension updates 16
// keys' scores per vector pair with no horizontal sums; then softmax per row on whole vectors
// (Exp8); then out = P V with the values packed, 16 output dims per vector pair. Tiles of 6
// query rows share every key and value load. It replaces a dot product per (query, key) with
// a horizontal sum each (at head_dim 32: as many shuffles as multiply-adds) and a scalar expf.
//
// Every sum runs in a fixed order per output (over the head dimension for a score, over the
// keys for an output dim), so a row's result never depends on its tile mates; a row that sees
// fewer keys than its tile's last row adds exact zeros for the rest.
#include "reference/attend_head.h"

#include <algorithm>
#include <cmath>

#include "reference/vec8.h"
#include "reference/vector_math.h"  // CROSSRANK_FMA_CLONES

namespace crossrank::ref {
namespace {

constexpr size_t kTileRows = 6;  // 12 accumulators + 2 loads + 1 broadcast: AVX2's 16 registers
constexpr size_t kLanes = 16;    // keys per score step, output dims per weighted-sum step

size_t RoundUp(size_t n, size_t m) { return (n + m - 1) / m * m; }

// keys_t[d * kp + s] = k[s][d] and values[s * dp + d] = v[s][d], zero past `keys` / head_dim.
void Pack(const HeadView& h, size_t keys, size_t kp, size_t dp, float* keys_t, float* values) {
  const size_t hd = h.head_dim;
  std::fill_n(keys_t, hd * kp, 0.0f);
  std::fill_n(values, kp * dp, 0.0f);
  for (size_t s = 0; s < keys; ++s) {
    const float* k = h.k + s * h.kv_stride;
    const float* v = h.v + s * h.kv_stride;
    for (size_t d = 0; d < hd; ++d) keys_t[d * kp + s] = k[d];
    std::copy_n(v, hd, values + s * dp);
  }
}

// scores[r * kp + s] = (q[r] . k[s]) * scale for r < R and s < span (a multiple of 16).
template <size_t R>
__attribute__((always_inline)) inline void Scores(const float* q, size_t q_stride, const float* keys_t, size_t kp,
                                                  size_t span, size_t hd, float scale, float* scores) {
  for (size_t s0 = 0; s0 < span; s0 += kLanes) {
    V8 acc[R][2];
    TileProduct<R>(q, q_stride, keys_t + s0, kp, hd, acc);
    for (size_t r = 0; r < R; ++r) {
      Store8(scores + r * kp + s0, acc[r][0] * scale);
      Store8(scores + r * kp + s0 + 8, acc[r][1] * scale);
    }
  }
}

// Row scores [0, visible) -> softmax probabilities in place; [visible, span) -> 0. Lanes are
// fixed by the key index (s mod 8), so the sum's order is the row's own.
__attribute__((always_inline)) inline void Softmax(float* row, size_t visible, size_t span) {
  float max = -INFINITY;
  for (size_t s = 0; s < visible; ++s) max = std::max(max, row[s]);
  const V8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
  V8 sum{};
  for (size_t s0 = 0; s0 < visible; s0 += 8) {
    const V8 e = Exp8(Load8(row + s0) - max);
    const V8 kept = (lane + static_cast<int32_t>(s0)) < static_cast<int32_t>(visible) ? e : V8{};
    Store8(row + s0, kept);
    sum += kept;
  }
  const float total = ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
  const V8 inv = Splat8(1.0f / total);
  const size_t filled = RoundUp(visible, 8);
  for (size_t s0 = 0; s0 < filled; s0 += 8) Store8(row + s0, Load8(row + s0) * inv);
  if (filled < span) std::fill(row + filled, row + span, 0.0f);
}

// out[r][d] = sum_{s < span} p[r][s] * v[s][d] for r < R, d < hd.
template <size_t R>
__attribute__((always_inline)) inline void Weighted(const float* p, size_t kp, const float* values, size_t dp,
                                                    size_t span, size_t hd, float* out, size_t out_stride) {
  for (size_t d0 = 0; d0 < dp; d0 += kLanes) {
    V8 acc[R][2];
    TileProduct<R>(p, kp, values + d0, dp, span, acc);
    const size_t n = std::min(kLanes, hd - d0);
    for (size_t r = 0; r < R; ++r) {
      float lanes[kLanes];
      Store8(lanes, acc[r][0]);
      Store8(lanes + 8, acc[r][1]);
      std::copy_n(lanes, n, out + r * out_stride + d0);
    }
  }
}

template <size_t R>
__attribute__((always_inline)) inline void Tile(const HeadView& h, size_t r0, size_t keys, size_t first_visible,
                                                float scale, const float* keys_t, const float* values, size_t kp,
                                                size_t dp, float* scores) {
  const auto visible = [&](size_t r) { return std::min(keys, first_visible + r); };
  const size_t last = visible(r0 + R - 1);  // rows see nondecreasing numbers of keys
  Scores<R>(h.q + r0 * h.q_stride, h.q_stride, keys_t, kp, RoundUp(last, kLanes), h.head_dim, scale, scores);
  for (size_t r = 0; r < R; ++r) Softmax(scores + r * kp, visible(r0 + r), last);
  Weighted<R>(scores, kp, values, dp, last, h.head_dim, h.out + r0 * h.out_stride, h.out_stride);
}

CROSSRANK_FMA_CLONES void Rows(const HeadView& h, size_t rows, size_t keys, size_t first_visible, float scale,
                               const float* keys_t, const float* values, size_t kp, size_t dp, float* scores) {
  for (size_t r0 = 0; r0 < rows; r0 += kTileRows) {
    switch (std::min(kTileRows, rows - r0)) {
      case 6: Tile<6>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
      case 5: Tile<5>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
      case 4: Tile<4>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
      case 3: Tile<3>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
      case 2: Tile<2>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
      default: Tile<1>(h, r0, keys, first_visible, scale, keys_t, values, kp, dp, scores); break;
    }
  }
}

}  // namespace

void AttendHead(const HeadView& h, size_t rows, size_t keys, size_t first_visible, float scale,
                AttendScratch* scratch) {
  if (rows == 0) return;
  const size_t kp = RoundUp(keys, kLanes), dp = RoundUp(h.head_dim, kLanes);
  scratch->keys.resize(h.head_dim * kp);
  scratch->values.resize(kp * dp);
  scratch->scores.resize(kTileRows * kp);
  Pack(h, keys, kp, dp, scratch->keys.data(), scratch->values.data());
  Rows(h, rows, keys, first_visible, scale, scratch->keys.data(), scratch->values.data(), kp, dp,
       scratch->scores.data());
}

}  // namespace crossrank::ref
