// Eight-lane float vectors (GCC vector extensions: AVX registers where the function is built
// for AVX2, pairs of SSE or NEON registers elsewhere) and the two transcendental functions
// the reference's hot loops need, exp and GELU, evaluated on a whole vector at a time. libm's
// expf and erff are scalar calls; in the encoder's attention softmax and feed-forward they
// took a fifth of a CPU forward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace crossrank::ref {

typedef float V8 __attribute__((vector_size(32)));
typedef int32_t V8i __attribute__((vector_size(32)));

__attribute__((always_inline)) inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

__attribute__((always_inline)) inline void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

__attribute__((always_inline)) inline V8 Splat8(float x) { return V8{} + x; }

// acc[r] = sum_{k < depth} a[r][k] * b[k][0..16) for r < R, in order of k: the micro-kernel of
// the reference's matrix products (linear.cc, attend_head.cc), in the shape of BLAS ones — per
// step two vector loads of b and one broadcast of a per row for 2R multiply-adds, the 2R
// accumulators in registers (R <= 6 fits AVX2's 16). a's rows are lda apart, b's rows ldb apart.
template <size_t R>
__attribute__((always_inline)) inline void TileProduct(const float* a, size_t lda, const float* b, size_t ldb,
                                                       size_t depth, V8 (&acc)[R][2]) {
#pragma GCC unroll 6
  for (size_t r = 0; r < R; ++r) acc[r][0] = acc[r][1] = V8{};
  for (size_t k = 0; k < depth; ++k) {
    const V8 b0 = Load8(b + k * ldb), b1 = Load8(b + k * ldb + 8);
#pragma GCC unroll 6  // over rows, so the accumulators stay in registers, not an array on the stack
    for (size_t r = 0; r < R; ++r) {
      const float x = a[r * lda + k];
      acc[r][0] += b0 * x;
      acc[r][1] += b1 * x;
    }
  }
}

// e^x, within 2 ulp of the exact value for x in [-87, 88] (Cephes' expf: x = n ln2 + r with
// |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^n put into the exponent bits). Below -87
// the result is 0 (e^-87 is at the bottom of float's normal range); above 88 it is e^88: the
// callers pass arguments <= 0 (softmax, erfc) or only need a large value (SiLU of a very
// negative gate). NaN stays NaN.
__attribute__((always_inline)) inline V8 Exp8(V8 x) {
  const V8 clamped = x > 88.0f ? Splat8(88.0f) : x;
  // Round-to-nearest n = x / ln2 with the 1.5 * 2^23 trick: adding it leaves n in the low
  // mantissa bits of `shifted` (|n| < 2^22), read back as an integer below.
  const V8 shifted = clamped * 1.44269504088896341f + 12582912.0f;
  const V8 n = shifted - 12582912.0f;
  // r = x - n ln2, with ln2 in two parts so the product is exact in its first part.
  V8 r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V8 p = Splat8(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // Casts between vector types of one size reinterpret the bits (GCC's vector extensions).
  const V8i exponent = (((V8i)shifted - 0x4B400000) + 127) << 23;
  const V8 result = p * (V8)exponent;
  return clamped < -87.0f ? V8{} : result;
}

// GELU(x) = x / 2 * (1 + erf(x / sqrt 2)), exact form (not the tanh approximation). For
// x < 0, 1 + erf(x / sqrt 2) = erfc(|x| / sqrt 2), taken directly so no cancellation loses
// the small values; for x >= 0 it is 2 - erfc. erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2)
// (Numerical Recipes' erfcc, Chebyshev-fitted: fractional error below 1.2e-7 for every z).
__attribute__((always_inline)) inline V8 Gelu8(V8 x) {
  const V8 z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const V8 t = 1.0f / (1.0f + 0.5f * z);
  V8 p = Splat8(0.17087277f);
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const V8 erfc = t * Exp8(p - z * z);
  return 0.5f * x * (x < 0.0f ? erfc : 2.0f - erfc);
}

}  // namespace crossrank::ref
