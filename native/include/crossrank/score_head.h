// The score head: raw classifier logits in, one relevance score per pair out.
// Backends return raw logits; this step runs once, outside them (as in TEI).
//
//   num_labels == 1            sigmoid(logit) or the logit itself (identity)
//   num_labels >= 2, softmax   softmax(row)[positive_index]   (2-class heads; the
//                              true/false-token head of LLM rerankers is the same
//                              op over [logit_true, logit_false] with index 0)
//   identity                   row[positive_index], unchanged
#pragma once

#include <cstddef>
#include <cstdint>

#include "crossrank/status.h"

namespace crossrank {

enum class Activation : int32_t {
  kIdentity = 0,
  kSigmoid = 1,
  kSoftmax = 2,
};

struct ScoreHeadParams {
  int64_t rows = 0;          // number of scored pairs
  int32_t num_labels = 1;    // logits per row
  Activation activation = Activation::kSigmoid;
  int32_t positive_index = 0;  // which column is "relevant"
};

// Checks shapes and enum values; every implementation calls this first.
Status ValidateScoreHead(const ScoreHeadParams& p, size_t logits_len, size_t out_len);

// CPU reference: logits is rows x num_labels, row-major; out has `rows` entries.
// Scores are always finite: infinite logits are clamped to +-FLT_MAX first (so
// sigmoid(+inf) = 1), and a NaN logit is reported as kInvalidArgument naming its row.
Status ScoreHeadReference(const ScoreHeadParams& p, const float* logits, float* out);

}  // namespace crossrank
