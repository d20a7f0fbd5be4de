#include "reference/attend_one.h"

#include <algorithm>
#include <cmath>

#include "reference/vector_math.h"

namespace crossrank::ref {

// A function of its own, not inlined into the callers' thread-pool lambdas, so the AVX2 clone
// covers the dot products and the weighted sum.
CROSSRANK_VECTOR_CLONES void AttendOne(const float* q, const float* k, const float* v, size_t count, size_t stride,
                                       size_t hd, float scale, float* scores, float* out) {
  float max = -INFINITY;
  for (size_t s = 0; s < count; ++s) {
    scores[s] = Dot(q, k + s * stride, hd) * scale;
    max = std::max(max, scores[s]);
  }
  float sum = 0;
  for (size_t s = 0; s < count; ++s) sum += (scores[s] = std::exp(scores[s] - max));
  const float inv = 1.0f / sum;
  std::fill_n(out, hd, 0.0f);
  for (size_t s = 0; s < count; ++s) {
    const float p = scores[s] * inv;
    const float* value = v + s * stride;
    for (size_t i = 0; i < hd; ++i) out[i] += p * value[i];
  }
}

}  // namespace crossrank::ref
