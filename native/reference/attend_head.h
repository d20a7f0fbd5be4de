// The inner step of both references' attention: one head's queries against a run of keys and
// values (a whole sequence for the encoder, the causal prefix for the decoder).
#pragma once

#include <cstddef>
#include <vector>

namespace crossrank::ref {

// Where one head's vectors are: row i of q is q + i * q_stride (likewise out), key/value s is
// k + s * kv_stride, v + s * kv_stride; each is head_dim floats.
struct HeadView {
  const float* q;
  size_t q_stride;
  const float* k;
  const float* v;
  size_t kv_stride;
  float* out;
  size_t out_stride;
  size_t head_dim;
};

// Working memory of AttendHead, kept per thread across calls.
struct AttendScratch {
  std::vector<float> keys, values, scores;
};

// out[i] = softmax(q[i] . k[s] * scale) . v[s] over s < visible(i), for rows i < rows, where
// visible(i) = min(keys, first_visible + i): the encoder passes first_visible = keys (every
// row sees the whole sequence), the decoder the number of keys its first row sees (causal).
// A row that sees no key gets zeros. A row's result is bitwise the same whichever other rows
// share the call.
void AttendHead(const HeadView& head, size_t rows, size_t keys, size_t first_visible, float scale,
                AttendScratch* scratch);

}  // namespace crossrank::ref
