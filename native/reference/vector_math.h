// The reference's hot loops built twice, for x86-64-v3 and for the baseline.
#pragma once

// Built for x86-64-v3 (AVX2 + FMA) and for the baseline; the loader picks the best the CPU
// has, so a portable prebuilt binary still uses wide vectors where they exist. Not under
// ThreadSanitizer, whose instrumented resolver would run before its runtime is up. FMA changes
// a sum's last bit, not its order: results stay the same on one machine however work is split.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define CROSSRANK_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CROSSRANK_FMA_CLONES
#endif
