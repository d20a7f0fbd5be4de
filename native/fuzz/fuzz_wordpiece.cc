// libFuzzer target: the WordPiece tokenizer as a tokenizer.json load gives it (a vocabulary,
// normalizer flags, added tokens) and the pair assembly, all from the input:
//   byte 0          normalizer flags and truncation strategy
//   byte 1..2       max length of a pair
//   until "\0\0"    vocabulary, one token a line (the last lines also added tokens)
//   the rest        query, "\0", document
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crossrank/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint8_t flags = data[0];
  const int32_t max_length = 3 + (data[1] | (data[2] << 8)) % 600;
  in.remove_prefix(3);
  size_t split = in.find(std::string_view("\0\0", 2));
  std::string_view vocab_text = in.substr(0, split);
  std::string_view text = split == std::string_view::npos ? std::string_view() : in.substr(split + 2);

  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
  size_t start = 0;
  while (start <= vocab_text.size() && vocab.size() < 5000) {
    size_t end = vocab_text.find('\n', start);
    if (end == std::string_view::npos) end = vocab_text.size();
    vocab.emplace_back(vocab_text.substr(start, end - start));
    start = end + 1;
  }
  crossrank::WordPieceConfig config;
  config.normalizer.clean_text = flags & 1;
  config.normalizer.handle_chinese_chars = flags & 2;
  config.normalizer.strip_accents = flags & 4;
  config.normalizer.lowercase = flags & 8;
  config.max_input_chars_per_word = 1 + (flags >> 4) * 10;
  if (vocab.size() > 6) config.added_tokens.push_back({vocab.back(), static_cast<int32_t>(vocab.size() - 1), (flags & 16) != 0, (flags & 32) != 0, (flags & 64) != 0});
  std::unique_ptr<crossrank::WordPieceTokenizer> tokenizer;
  if (!crossrank::WordPieceTokenizer::Create(vocab, config, &tokenizer).ok()) return 0;

  size_t zero = text.find('\0');
  std::string_view query = text.substr(0, zero);
  std::string_view doc = zero == std::string_view::npos ? std::string_view() : text.substr(zero + 1);
  std::vector<int32_t> q, d;
  tokenizer->Encode(query, &q);
  tokenizer->Encode(doc, &d);
  for (int32_t id : q) if (id < 0 || static_cast<size_t>(id) >= vocab.size()) __builtin_trap();
  for (int32_t id : d) if (id < 0 || static_cast<size_t>(id) >= vocab.size()) __builtin_trap();

  crossrank::PairTemplate t;
  t.max_length = max_length;
  t.truncation = (flags & 0x80) ? crossrank::Truncation::kOnlySecond : crossrank::Truncation::kLongestFirst;
  std::vector<int32_t> ids, types;
  crossrank::EncodePair(q.data(), q.size(), d.data(), d.size(), t, &ids, &types);
  // A pair never exceeds max_length, and ids and type ids stay in step.
  if (ids.size() != types.size() || ids.size() > static_cast<size_t>(max_length)) __builtin_trap();
  return 0;
}
