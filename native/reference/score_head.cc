// CPU reference of the score head: the oracle the CUDA kernel is checked against.
#include <cfloat>
#include <cmath>
#include <string>

#include "crossrank/score_head.h"

namespace crossrank {

Status ValidateScoreHead(const ScoreHeadParams& p, size_t logits_len, size_t out_len) {
  if (p.rows < 0) return Status::InvalidArgument("rows must be >= 0");
  if (p.num_labels < 1) return Status::InvalidArgument("num_labels must be >= 1");
  if (p.positive_index < 0 || p.positive_index >= p.num_labels) {
    return Status::InvalidArgument("positive_index " + std::to_string(p.positive_index) +
                                   " is outside [0, " + std::to_string(p.num_labels) + ")");
  }
  switch (p.activation) {
    case Activation::kIdentity: break;
    case Activation::kSigmoid:
      if (p.num_labels != 1) return Status::InvalidArgument("sigmoid needs num_labels == 1");
      break;
    case Activation::kSoftmax:
      if (p.num_labels < 2) return Status::InvalidArgument("softmax needs num_labels >= 2");
      break;
    default: return Status::InvalidArgument("unknown activation " + std::to_string(int(p.activation)));
  }
  const unsigned long long need = static_cast<unsigned long long>(p.rows) * p.num_labels;
  if (logits_len != need) {
    return Status::InvalidArgument("logits has " + std::to_string(logits_len) + " values, expected rows * num_labels = " +
                                   std::to_string(need));
  }
  if (out_len != static_cast<size_t>(p.rows)) {
    return Status::InvalidArgument("output has " + std::to_string(out_len) + " slots, expected " + std::to_string(p.rows));
  }
  return Status::Ok();
}

static float Clamp(float x) { return std::fmax(-FLT_MAX, std::fmin(FLT_MAX, x)); }

Status ScoreHeadReference(const ScoreHeadParams& p, const float* logits, float* out) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* row = logits + r * p.num_labels;
    for (int32_t j = 0; j < p.num_labels; ++j) {
      if (std::isnan(row[j])) return Status::InvalidArgument("logit of row " + std::to_string(r) + " is NaN");
    }
    switch (p.activation) {
      case Activation::kIdentity:
        out[r] = Clamp(row[p.positive_index]);
        break;
      case Activation::kSigmoid:
        out[r] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(Clamp(row[0])))));
        break;
      case Activation::kSoftmax: {
        double max = -DBL_MAX;
        for (int32_t j = 0; j < p.num_labels; ++j) max = std::fmax(max, Clamp(row[j]));
        double sum = 0;
        for (int32_t j = 0; j < p.num_labels; ++j) sum += std::exp(Clamp(row[j]) - max);
        out[r] = static_cast<float>(std::exp(Clamp(row[p.positive_index]) - max) / sum);
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace crossrank
