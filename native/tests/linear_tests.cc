// The reference's tiled linear layer against a plain double-precision product, on shapes that
// hit every edge of its tiling (rows not a multiple of the 6-row tile, outputs not a multiple
// of the 16-wide panel, sums longer than one 128-step block, a single row or output), and the
// promise the decoder's prefix sharing rests on: a row's result does not depend on which other
// rows share the call or how many threads run it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "crossrank/encoder.h"
#include "crossrank/thread_pool.h"
#include "reference/linear.h"

using namespace crossrank;

namespace {

Linear RandomLinear(int32_t out, int32_t in, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
  Linear l;
  l.out = out, l.in = in;
  l.weight.resize(static_cast<size_t>(out) * in);
  l.bias.resize(static_cast<size_t>(out));
  for (float& v : l.weight) v = normal(rng);
  for (float& v : l.bias) v = normal(rng);
  return l;
}

// max |y - x W^T - b| relative to the output's scale, the sum taken in double precision.
double MaxRelativeError(const std::vector<float>& x, size_t rows, const Linear& l, const std::vector<float>& y) {
  double worst = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < static_cast<size_t>(l.out); ++j) {
      double sum = l.bias[j], scale = std::fabs(l.bias[j]);
      for (size_t k = 0; k < static_cast<size_t>(l.in); ++k) {
        const double term = static_cast<double>(x[r * l.in + k]) * l.weight[j * l.in + k];
        sum += term, scale += std::fabs(term);
      }
      worst = std::max(worst, std::fabs(sum - y[r * l.out + j]) / std::max(scale, 1e-30));
    }
  }
  return worst;
}

}  // namespace

void TestLinearForward() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  ThreadPool one(1), four(4);
  struct Shape {
    size_t rows;
    int32_t in, out;
  };
  const Shape shapes[] = {{1, 1, 1},   {1, 7, 2},    {5, 33, 17},  {6, 16, 16},  {7, 64, 31},  {13, 129, 48},
                          {37, 300, 70}, {12, 1024, 2}, {2, 3072, 40}, {100, 256, 100}};
  for (const Shape& s : shapes) {
    const Linear l = RandomLinear(s.out, s.in, rng);
    std::vector<float> x(s.rows * s.in);
    for (float& v : x) v = normal(rng);
    std::vector<float> y(s.rows * s.out, NAN);
    ref::LinearForward(four, x.data(), s.rows, l, y.data());
    // fp32 accumulation over blocks of at most 128 products: far below 1e-5 of the sum of
    // |terms|; a wrong panel column, bias or edge shows up at ~1e-1.
    const double error = MaxRelativeError(x, s.rows, l, y);
    if (!(error < 1e-5)) std::fprintf(stderr, "linear %zu x %d -> %d: relative error %g\n", s.rows, s.in, s.out, error);
    CHECK(error < 1e-5);

    // Each row alone, on one thread, and the rows from 3 on as their own call: bitwise equal.
    std::vector<float> alone(s.out);
    bool same = true;
    for (size_t r = 0; r < s.rows; ++r) {
      ref::LinearForward(one, x.data() + r * s.in, 1, l, alone.data());
      same = same && std::memcmp(alone.data(), y.data() + r * s.out, s.out * sizeof(float)) == 0;
    }
    if (s.rows > 3) {
      std::vector<float> tail((s.rows - 3) * s.out);
      ref::LinearForward(one, x.data() + 3 * s.in, s.rows - 3, l, tail.data());
      same = same && std::memcmp(tail.data(), y.data() + 3 * s.out, tail.size() * sizeof(float)) == 0;
    }
    CHECK(same);
  }
}
