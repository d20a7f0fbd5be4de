// The reference's vector exp and GELU against double-precision libm, and its attention step
// (reference/attend_head.cc) against a plain double-precision softmax(q k^T) v, on shapes that
// hit every edge of its tiling (rows not a multiple of the 6-row tile, keys and head dims not
// multiples of 16, causal rows seeing different numbers of keys, strided heads), plus the
// promise the decoder's prefix sharing rests on: a row's result does not depend on which other
// rows share the call.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "reference/attend_head.h"
#include "reference/encoder_ops.h"
#include "reference/vec8.h"

using namespace crossrank;

namespace {

// |got - want| in units of float's spacing at want (1 ulp = 2^-23 relative).
double Ulps(float got, double want) {
  const double spacing = std::ldexp(1.0, std::ilogb(want) - 23);
  return std::fabs(static_cast<double>(got) - want) / spacing;
}

double GeluExact(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

struct Layout {
  size_t rows, keys, first_visible, head_dim, q_stride, kv_stride;
};

// Plain attention in double: out[i] = sum_s softmax_s(q_i . k_s * scale) v_s over s < visible(i);
// error_scale[i] = sum_s p_s max_d |v_s[d]|, the size of the sum the error is relative to.
void Attend(const Layout& l, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
            float scale, std::vector<double>* out, std::vector<double>* error_scale) {
  out->assign(l.rows * l.head_dim, 0.0);
  error_scale->assign(l.rows, 0.0);
  for (size_t i = 0; i < l.rows; ++i) {
    const size_t visible = std::min(l.keys, l.first_visible + i);
    std::vector<double> p(visible);
    double max = -INFINITY, sum = 0;
    for (size_t s = 0; s < visible; ++s) {
      double dot = 0;
      for (size_t d = 0; d < l.head_dim; ++d) dot += double(q[i * l.q_stride + d]) * k[s * l.kv_stride + d];
      p[s] = dot * scale;
      max = std::max(max, p[s]);
    }
    for (double& x : p) sum += (x = std::exp(x - max));
    for (size_t s = 0; s < visible; ++s) {
      double largest = 0;
      for (size_t d = 0; d < l.head_dim; ++d) {
        (*out)[i * l.head_dim + d] += p[s] / sum * v[s * l.kv_stride + d];
        largest = std::max(largest, std::fabs(double(v[s * l.kv_stride + d])));
      }
      (*error_scale)[i] += p[s] / sum * largest;
    }
  }
}

std::vector<float> RunHead(const Layout& l, const std::vector<float>& q, const std::vector<float>& k,
                           const std::vector<float>& v, float scale, size_t first_row, size_t rows) {
  std::vector<float> out(rows * l.q_stride, NAN);
  const ref::HeadView head{q.data() + first_row * l.q_stride, l.q_stride, k.data(), v.data(), l.kv_stride,
                           out.data(), l.q_stride, l.head_dim};
  ref::AttendScratch scratch;
  ref::AttendHead(head, rows, std::min(l.keys, l.first_visible + first_row + rows - 1), l.first_visible + first_row,
                  scale, &scratch);
  return out;
}

}  // namespace

void TestVectorExp() {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 0.00173) {
    const float xf = static_cast<float>(x);
    worst = std::max(worst, Ulps(ref::Exp8(ref::Splat8(xf))[3], std::exp(double(xf))));
  }
  if (!(worst <= 2.0)) std::fprintf(stderr, "Exp8: %g ulp\n", worst);
  CHECK(worst <= 2.0);
  const ref::V8 edges = {0.0f, -87.5f, -1000.0f, -INFINITY, 1000.0f, NAN, 1e-30f, -1e-30f};
  const ref::V8 e = ref::Exp8(edges);
  CHECK(e[0] == 1.0f && e[1] == 0.0f && e[2] == 0.0f && e[3] == 0.0f);
  CHECK(Ulps(e[4], std::exp(88.0)) <= 2.0);  // clamped to e^88: finite
  CHECK(std::isnan(e[5]) && e[6] == 1.0f && e[7] == 1.0f);
}

void TestGelu() {
  // Through ref::Gelu as the forward pass calls it, including a tail shorter than a vector.
  std::vector<float> x;
  for (double v = -12.0; v <= 12.0; v += 0.000731) x.push_back(static_cast<float>(v));
  x.push_back(1e-30f), x.push_back(-1e-30f), x.push_back(0.0f);
  CHECK(x.size() % 8 != 0);
  std::vector<float> y = x;
  ThreadPool pool(2);
  ref::Gelu(pool, y.data(), y.size());
  // Absolute error against |x| (GELU's scale): erfcc's 1.2e-7 fractional error plus float
  // rounding. A wrong polynomial coefficient or a lost sign shows up at >= 1e-4.
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = GeluExact(x[i]);
    worst = std::max(worst, std::fabs(y[i] - want) / std::max(std::fabs(double(x[i])), 1e-30));
  }
  if (!(worst < 4e-7)) std::fprintf(stderr, "Gelu: %g relative to |x|\n", worst);
  CHECK(worst < 4e-7);
  std::vector<float> special = {INFINITY, NAN};
  ref::Gelu(pool, special.data(), special.size());
  CHECK(special[0] == INFINITY && std::isnan(special[1]));
}

void TestAttendHead() {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const Layout layouts[] = {
      // rows, keys, first_visible (= keys: every row sees all), head_dim, q_stride, kv_stride
      {1, 1, 1, 1, 1, 1},         {7, 7, 7, 8, 8, 8},          {13, 13, 13, 32, 96, 96},
      {17, 17, 17, 20, 40, 20},   {100, 100, 100, 64, 64, 64}, {3, 300, 300, 128, 128, 256},
      {6, 16, 16, 16, 16, 16},
      // causal: row i sees first_visible + i keys (a decoder continuing a cache)
      {9, 9, 1, 8, 24, 16},       {25, 95, 71, 64, 128, 64},   {40, 40, 1, 33, 33, 33},
  };
  for (const Layout& l : layouts) {
    std::vector<float> q(l.rows * l.q_stride), k(l.keys * l.kv_stride), v(l.keys * l.kv_stride);
    for (float& x : q) x = 2.0f * normal(rng);
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(l.head_dim));
    std::vector<double> want, error_scale;
    Attend(l, q, k, v, scale, &want, &error_scale);
    const std::vector<float> got = RunHead(l, q, k, v, scale, 0, l.rows);
    double worst = 0;
    for (size_t i = 0; i < l.rows; ++i)
      for (size_t d = 0; d < l.head_dim; ++d)
        worst = std::max(worst, std::fabs(got[i * l.q_stride + d] - want[i * l.head_dim + d]) / error_scale[i]);
    // fp32 sums of at most a few hundred terms: ~1e-6 of the output's scale; a wrong key,
    // a lost tail lane or an unmasked score shows up at >= 1e-2.
    if (!(worst < 1e-5))
      std::fprintf(stderr, "attention rows %zu keys %zu hd %zu: relative error %g\n", l.rows, l.keys, l.head_dim, worst);
    CHECK(worst < 1e-5);

    // Each row alone, and the rows from 3 on as their own call: bitwise equal to the whole.
    bool same = true;
    for (size_t i = 0; i < l.rows; ++i) {
      const std::vector<float> alone = RunHead(l, q, k, v, scale, i, 1);
      same = same && std::memcmp(alone.data(), got.data() + i * l.q_stride, l.head_dim * sizeof(float)) == 0;
    }
    if (l.rows > 3) {
      const std::vector<float> tail = RunHead(l, q, k, v, scale, 3, l.rows - 3);
      for (size_t i = 3; i < l.rows; ++i)
        same = same && std::memcmp(tail.data() + (i - 3) * l.q_stride, got.data() + i * l.q_stride,
                                   l.head_dim * sizeof(float)) == 0;
    }
    if (!same) std::fprintf(stderr, "attention rows %zu keys %zu: rows depend on their tile\n", l.rows, l.keys);
    CHECK(same);
  }

  // No key to see: zeros, not NaN.
  std::vector<float> q(8, 1.0f), out(8, NAN);
  const ref::HeadView head{q.data(), 8, q.data(), q.data(), 8, out.data(), 8, 8};
  ref::AttendScratch scratch;
  ref::AttendHead(head, 1, 0, 0, 1.0f, &scratch);
  CHECK(std::all_of(out.begin(), out.end(), [](float x) { return x == 0.0f; }));
}
