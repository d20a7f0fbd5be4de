// Small vector helpers shared by the encoder and decoder references.
#pragma once

#include <cstddef>

namespace crossrank::ref {

// Built for AVX2 and for the baseline; the loader picks the best the CPU has, so a
// portable prebuilt binary still uses wide vectors where they exist. Not under
// ThreadSanitizer, whose instrumented resolver would run before its runtime is up.
// CROSSRANK_FMA_CLONES adds FMA (x86-64-v3: AVX2 + FMA), which changes a sum's last bit,
// not its order: results stay the same on one machine however work is split.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define CROSSRANK_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#define CROSSRANK_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CROSSRANK_VECTOR_CLONES
#define CROSSRANK_FMA_CLONES
#endif

// a . b with eight independent partial sums, so the compiler vectorizes it without
// -ffast-math (a single running sum fixes the order of the additions and stays scalar).
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

}  // namespace crossrank::ref
