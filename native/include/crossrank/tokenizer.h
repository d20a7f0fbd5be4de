// The BERT WordPiece tokenizer, equal in ids to Hugging Face `tokenizers`:
// added-token matching on the raw text, BertNormalizer (clean text, CJK spacing, accent
// stripping, lowercase), BertPreTokenizer (whitespace split, punctuation isolated),
// WordPiece (greedy longest match, continuing prefix, [UNK] for unknown or over-long words),
// and the pair template [CLS] q [SEP] d [SEP] with truncation.
//
// The vocabulary and settings come from tokenizer.json / vocab.txt, parsed in TypeScript;
// this code receives plain values only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crossrank/status.h"
#include "crossrank/vocab_table.h"

namespace crossrank {

struct NormalizerConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // HF: strip_accents = null means "same as lowercase"; resolved by the caller
  bool lowercase = true;
};

// A token matched in the raw input before normalization (HF "added tokens" that are not
// normalized, e.g. [CLS], [SEP], [MASK]).
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool lstrip = false;       // absorb whitespace on the left
  bool rstrip = false;       // absorb whitespace on the right
  bool single_word = false;  // only match as a whole word
};

struct WordPieceConfig {
  NormalizerConfig normalizer;
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int32_t max_input_chars_per_word = 100;
  std::vector<AddedToken> added_tokens;
};

class WordPieceTokenizer {
 public:
  // vocab[i] is the token with id i (empty strings mark unused ids).
  static Status Create(std::vector<std::string> vocab, WordPieceConfig config,
                       std::unique_ptr<WordPieceTokenizer>* out);

  // Tokenizes one text (UTF-8; invalid bytes count as U+FFFD) without special tokens,
  // appending the ids to *ids.
  void Encode(std::string_view utf8, std::vector<int32_t>* ids) const;

  int32_t unk_id() const { return unk_id_; }
  size_t vocab_size() const { return vocab_size_; }

 private:
  WordPieceTokenizer() = default;
  void EncodeNormalizedSegment(std::string_view utf8, std::vector<int32_t>* ids) const;
  void WordPiece(const std::u32string& word, std::vector<int32_t>* ids) const;
  void WordPieceUtf8(std::string_view utf8, const std::vector<size_t>* boundary, std::vector<int32_t>* ids) const;

  WordPieceConfig config_;
  std::array<bool, 256> added_first_byte_{};  // bytes an added token starts with
  VocabTable vocab_;         // every token
  VocabTable continuation_;  // tokens starting with the continuing-subword prefix, without it
  size_t vocab_size_ = 0;
  int32_t unk_id_ = 0;
};

// ---- pairs ------------------------------------------------------------------------

enum class Truncation : int32_t {
  kLongestFirst = 0,  // sentence-transformers' default
  kOnlySecond = 1,    // cut the document; the query too only if it alone leaves no room
};

struct PairTemplate {
  int32_t cls_id = 101;
  int32_t sep_id = 102;
  int32_t max_length = 512;  // including the 3 special tokens
  Truncation truncation = Truncation::kLongestFirst;
};

// How many tokens of the query and of the document a pair keeps (HF's truncation rules).
// Returns whether anything was cut.
bool TruncatedLengths(size_t query_len, size_t doc_len, const PairTemplate& t, size_t* query_keep, size_t* doc_keep);

// [CLS] q [SEP] d [SEP] into ids / type_ids (appended). Returns whether it truncated.
bool EncodePair(const int32_t* query, size_t query_len, const int32_t* doc, size_t doc_len, const PairTemplate& t,
                std::vector<int32_t>* ids, std::vector<int32_t>* type_ids);

}  // namespace crossrank
