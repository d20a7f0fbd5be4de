// The inner step of both references' attention: one query vector against a run of keys and
// values (a whole sequence for the encoder, the causal prefix for the decoder).
#pragma once

#include <cstddef>

namespace crossrank::ref {

// out[hd] = softmax(q . k[s] * scale) . v[s] over s < count, where k[s] = k + s * stride and
// v[s] likewise. scores: room for `count` floats.
void AttendOne(const float* q, const float* k, const float* v, size_t count, size_t stride, size_t hd, float scale,
               float* scores, float* out);

}  // namespace crossrank::ref
