// A minimal check macro for the native test executables (no framework needed).
#pragma once

#include <cstdio>

inline int& CheckFailures() {
  static int failures = 0;
  return failures;
}

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++CheckFailures();                                                 \
    }                                                                    \
  } while (0)
