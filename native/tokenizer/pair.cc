// The pair template and truncation, as Hugging Face `tokenizers` does them for BERT.
#include <algorithm>

#include "crossrank/tokenizer.h"

namespace crossrank {

bool TruncatedLengths(size_t q, size_t d, const PairTemplate& t, size_t* query_keep, size_t* doc_keep) {
  const size_t budget = t.max_length > 3 ? static_cast<size_t>(t.max_length) - 3 : 0;
  *query_keep = q;
  *doc_keep = d;
  if (q + d <= budget) return false;
  if (t.truncation == Truncation::kOnlySecond) {
    // The document gives way; the query is cut only when it alone exceeds the budget
    // (where Hugging Face raises an error, we keep going with a truncated query).
    *query_keep = std::min(q, budget);
    *doc_keep = budget - *query_keep;
    return true;
  }
  // longest_first, as tokenizers' truncate_encodings computes it: with n1 the shorter and
  // n2 the longer, the shorter keeps everything if it fits in half, else both get half.
  size_t n1 = q, n2 = d;
  const bool swap = n1 > n2;
  if (swap) std::swap(n1, n2);
  n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  *query_keep = std::min(q, n1);
  *doc_keep = std::min(d, n2);
  return true;
}

bool EncodePair(const int32_t* query, size_t query_len, const int32_t* doc, size_t doc_len, const PairTemplate& t,
                std::vector<int32_t>* ids, std::vector<int32_t>* type_ids) {
  size_t q = 0, d = 0;
  const bool truncated = TruncatedLengths(query_len, doc_len, t, &q, &d);
  ids->push_back(t.cls_id);
  ids->insert(ids->end(), query, query + q);
  ids->push_back(t.sep_id);
  type_ids->insert(type_ids->end(), q + 2, 0);
  ids->insert(ids->end(), doc, doc + d);
  ids->push_back(t.sep_id);
  type_ids->insert(type_ids->end(), d + 1, 1);
  return truncated;
}

}  // namespace crossrank
