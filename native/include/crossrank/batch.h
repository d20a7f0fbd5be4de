// The packed batch every backend takes: sequences concatenated without padding.
//   token_ids   [total_tokens]
//   type_ids    [total_tokens]
//   cu_seqlens  [num_seqs + 1], cu_seqlens[0] = 0; sequence i is [cu_seqlens[i], cu_seqlens[i+1])
// Backends return raw logits [num_seqs x num_labels]; the score head runs outside them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crossrank/status.h"

namespace crossrank {

struct PackedBatch {
  std::vector<int32_t> token_ids;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> cu_seqlens{0};

  int32_t num_seqs() const { return static_cast<int32_t>(cu_seqlens.size()) - 1; }
  int32_t total_tokens() const { return cu_seqlens.back(); }
};

// Checks the batch's shape: lengths >= 1 and <= max_len, sizes consistent.
inline Status ValidatePackedBatch(const PackedBatch& b, int32_t max_len) {
  if (b.cu_seqlens.empty() || b.cu_seqlens[0] != 0) return Status::InvalidArgument("cu_seqlens must start with 0");
  if (b.token_ids.size() != static_cast<size_t>(b.cu_seqlens.back()) || b.type_ids.size() != b.token_ids.size()) {
    return Status::InvalidArgument("token_ids, type_ids and cu_seqlens disagree on the number of tokens");
  }
  for (size_t i = 1; i < b.cu_seqlens.size(); ++i) {
    const int32_t len = b.cu_seqlens[i] - b.cu_seqlens[i - 1];
    if (len < 1) return Status::InvalidArgument("sequence " + std::to_string(i - 1) + " is empty");
    if (len > max_len) {
      return Status::InvalidArgument("sequence " + std::to_string(i - 1) + " has " + std::to_string(len) +
                                     " tokens, the model takes at most " + std::to_string(max_len));
    }
  }
  return Status::Ok();
}

}  // namespace crossrank
