// What the CPU can do, for `crossrank doctor` and for picking kernels later.
#pragma once

#include <string>
#include <vector>

namespace crossrank {

// Names of the SIMD extensions this CPU supports ("sse4.2", "avx2", "fma", "avx512f", "neon", ...).
std::vector<std::string> CpuFeatures();

}  // namespace crossrank
