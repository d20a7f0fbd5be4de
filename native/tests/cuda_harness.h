// Helpers shared by the CUDA op harness's files (native/tests/cuda_*.cc).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace crossrank {

// Round to nearest even, keeping `mantissa_bits` of fp32's 23: 10 for fp16 (normal range;
// test data stays in it), 7 for bf16. Inputs rounded to the op's element type make the
// comparison measure the op, not the input cast.
inline float RoundMantissa(float v, int mantissa_bits) {
  const int dropped = 23 - mantissa_bits;
  const uint32_t mask = (1u << dropped) - 1;
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  const uint32_t rounded = (bits + (mask >> 1) + ((bits >> dropped) & 1)) & ~mask;
  float out;
  std::memcpy(&out, &rounded, 4);
  return out;
}

// The element type of the linear and decoder op entry points: fp16, or bf16 when
// CROSSRANK_CUDA_OP_ELEMENT=bf16 (read by the library at each call; see ops_api.cu).
inline bool OpElementIsBf16() {
  const char* v = std::getenv("CROSSRANK_CUDA_OP_ELEMENT");
  return v && std::strcmp(v, "bf16") == 0;
}

// Tolerances are written for fp16; bf16's unit roundoff is 8 times larger (2^-8 vs 2^-11).
inline double ElementTolerance(double fp16_tolerance) { return OpElementIsBf16() ? 8 * fp16_tolerance : fp16_tolerance; }

// Random inputs already in the op element type (fp16 unless OpElementIsBf16()).
inline std::vector<float> RandomHalf(size_t n, float stddev, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, stddev);
  const int mantissa_bits = OpElementIsBf16() ? 7 : 10;
  std::vector<float> v(n);
  for (float& x : v) x = RoundMantissa(normal(rng), mantissa_bits);
  return v;
}

// Largest |a - b|; infinite where either is NaN (std::fmax would skip it, passing a kernel
// that leaves outputs unwritten or produces NaN).
inline double MaxDiff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

inline double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) { return MaxDiff(a.data(), b.data(), a.size()); }

inline int Report(const char* op, const std::string& shape, double diff, double tolerance, int rc, const char* message) {
  if (rc) {
    std::printf("%-14s %-28s error %d %s\n", op, shape.c_str(), rc, message);
    return 1;
  }
  const bool ok = diff <= tolerance;
  std::printf("%-14s %-28s max_abs_diff=%.3g (tol %.g)  %s\n", op, shape.c_str(), diff, tolerance, ok ? "OK" : "MISMATCH");
  return ok ? 0 : 1;
}

// Indices of `scores` from the highest, the first k of them.
inline std::vector<size_t> TopK(const std::vector<double>& scores, size_t k) {
  std::vector<size_t> idx(scores.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  idx.resize(k);
  return idx;
}

// Ranking agreement of the first k. Strict: the same items in the same order. Up to ties:
// at every rank, the item `got` puts there has a reference score within `tie` of the item the
// reference puts there, so only documents the reference scores (nearly) alike may trade
// places. Synthetic models score many documents within fp16 rounding of each other, where
// the strict order is a coin toss; `tie` is fixed, below the score tolerance.
struct RankAgreement {
  bool strict, up_to_ties;
};
inline RankAgreement CompareTopK(const std::vector<double>& want, const std::vector<double>& got, size_t k, double tie) {
  const std::vector<size_t> a = TopK(want, k), b = TopK(got, k);
  RankAgreement r{a == b, true};
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) r.up_to_ties = r.up_to_ties && std::fabs(want[a[i]] - want[b[i]]) <= tie;
  return r;
}

inline bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

// [a,b,c] for the --dump files the Python comparisons read.
template <typename T>
std::string JsonArray(const std::vector<T>& v) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << "]";
  return o.str();
}

// The decoder ops (native/tests/cuda_decoder_ops.cc); `lib` is the dlopen handle.
int CheckDecoderOps(void* lib, bool many_sequences);

}  // namespace crossrank
