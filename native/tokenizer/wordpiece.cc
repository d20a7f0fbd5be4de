// WordPiece tokenization of one text: added tokens, BertNormalizer, BertPreTokenizer,
// WordPiece. Mirrors Hugging Face `tokenizers` step by step; see tokenizer.h.
#include <algorithm>
#include <array>
#include <cstring>

#include "crossrank/tokenizer.h"
#include "tokenizer/unicode.h"

namespace crossrank {

Status WordPieceTokenizer::Create(std::vector<std::string> vocab, WordPieceConfig config,
                                  std::unique_ptr<WordPieceTokenizer>* out) {
  if (vocab.empty()) return Status::InvalidArgument("tokenizer vocabulary is empty");
  if (config.max_input_chars_per_word < 1) return Status::InvalidArgument("max_input_chars_per_word must be >= 1");
  std::unique_ptr<WordPieceTokenizer> t(new WordPieceTokenizer());
  const std::string& prefix = config.continuing_subword_prefix;
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab[id];
    if (token.empty()) continue;
    t->vocab_.Insert(token, static_cast<int32_t>(id));  // first id wins, as in vocab.txt
    // "##ing" is also found as "ing" after a word's first piece (no key built per probe).
    if (token.compare(0, prefix.size(), prefix) == 0) {
      t->continuation_.Insert(std::string_view(token).substr(prefix.size()), static_cast<int32_t>(id));
    }
  }
  t->vocab_size_ = vocab.size();
  t->unk_id_ = t->vocab_.Find(config.unk_token);
  if (t->unk_id_ < 0) return Status::InvalidArgument("unknown token " + config.unk_token + " is not in the vocabulary");
  for (const AddedToken& a : config.added_tokens) {
    if (a.content.empty()) return Status::InvalidArgument("an added token has empty content");
    if (a.id < 0) return Status::InvalidArgument("added token " + a.content + " has a negative id");
  }
  // Longest first, so that at one position the longest added token wins.
  std::stable_sort(config.added_tokens.begin(), config.added_tokens.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (const AddedToken& a : config.added_tokens) t->added_first_byte_[static_cast<unsigned char>(a.content[0])] = true;
  t->config_ = std::move(config);
  *out = std::move(t);
  return Status::Ok();
}

namespace {

bool IsAsciiWordChar(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

// Whitespace as Rust's char::is_whitespace sees it, on the UTF-8 bytes around a match.
size_t WhitespaceBefore(std::string_view s, size_t pos) {
  size_t start = pos;
  while (start > 0) {
    size_t back = start - 1;
    while (back > 0 && (static_cast<unsigned char>(s[back]) & 0xC0) == 0x80) --back;
    std::u32string cp = unicode::DecodeUtf8(s.substr(back, start - back));
    if (cp.size() != 1 || !unicode::IsSplitWhitespace(cp[0])) break;
    start = back;
  }
  return start;
}

size_t WhitespaceAfter(std::string_view s, size_t pos) {
  size_t end = pos;
  while (end < s.size()) {
    size_t next = end + 1;
    while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
    std::u32string cp = unicode::DecodeUtf8(s.substr(end, next - end));
    if (cp.size() != 1 || !unicode::IsSplitWhitespace(cp[0])) break;
    end = next;
  }
  return end;
}

}  // namespace

void WordPieceTokenizer::Encode(std::string_view text, std::vector<int32_t>* ids) const {
  const auto& added = config_.added_tokens;
  size_t segment_start = 0;
  size_t pos = 0;
  while (pos < text.size() && !added.empty()) {
    if (!added_first_byte_[static_cast<unsigned char>(text[pos])]) {  // no added token starts here
      ++pos;
      continue;
    }
    const AddedToken* match = nullptr;
    for (const AddedToken& a : added) {  // sorted longest first
      if (a.content.size() > text.size() - pos || std::memcmp(text.data() + pos, a.content.data(), a.content.size()) != 0) {
        continue;
      }
      if (a.single_word) {
        const size_t end = pos + a.content.size();
        if ((pos > 0 && IsAsciiWordChar(text[pos - 1])) || (end < text.size() && IsAsciiWordChar(text[end]))) continue;
      }
      match = &a;
      break;
    }
    if (!match) {
      ++pos;
      continue;
    }
    const size_t match_start = match->lstrip ? std::max(segment_start, WhitespaceBefore(text, pos)) : pos;
    const size_t match_end = match->rstrip ? WhitespaceAfter(text, pos + match->content.size()) : pos + match->content.size();
    if (match_start > segment_start) EncodeNormalizedSegment(text.substr(segment_start, match_start - segment_start), ids);
    ids->push_back(match->id);
    segment_start = pos = std::max(match_end, pos + 1);
  }
  if (segment_start < text.size()) EncodeNormalizedSegment(text.substr(segment_start), ids);
}

namespace {

// What BertNormalizer and BertPreTokenizer do to each ASCII character, read once from the
// general Unicode functions (unicode.cc, so both paths classify alike): most text is ASCII, and a
// table look-up beats their binary searches.
struct AsciiClass {
  bool control;      // dropped by clean_text
  bool to_space;     // clean_text turns it into ' '
  bool split;        // pre-tokenizer whitespace
  bool punctuation;  // pre-tokenizer: a word of its own
  char lower;        // lowercase
};

const AsciiClass* AsciiClasses() {
  static const auto table = [] {
    std::array<AsciiClass, 128> t{};
    for (char32_t c = 0; c < 128; ++c) {
      std::u32string lower;
      unicode::AppendLowercase(c, &lower);
      t[c] = {unicode::IsControl(c), unicode::IsCleanTextWhitespace(c), unicode::IsSplitWhitespace(c),
              unicode::IsPunctuation(c), static_cast<char>(lower.size() == 1 ? lower[0] : c)};
    }
    return t;
  }();
  return table.data();
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

void WordPieceTokenizer::EncodeNormalizedSegment(std::string_view utf8, std::vector<int32_t>* ids) const {
  const NormalizerConfig& n = config_.normalizer;
  if (IsAscii(utf8)) {
    // The same steps on bytes: no ASCII character is Chinese or loses an accent, and
    // lowercasing maps ASCII to ASCII.
    const AsciiClass* classes = AsciiClasses();
    std::string word;
    for (char raw : utf8) {
      const AsciiClass& k = classes[static_cast<unsigned char>(raw)];
      if (n.clean_text && k.control) continue;
      const AsciiClass& c = n.clean_text && k.to_space ? classes[static_cast<unsigned char>(' ')] : k;
      const char ch = n.clean_text && k.to_space ? ' ' : n.lowercase ? c.lower : raw;
      if (c.split) {
        if (!word.empty()) WordPieceUtf8(word, nullptr, ids), word.clear();
      } else if (c.punctuation) {
        if (!word.empty()) WordPieceUtf8(word, nullptr, ids), word.clear();
        WordPieceUtf8(std::string_view(&ch, 1), nullptr, ids);
      } else {
        word.push_back(ch);
      }
    }
    if (!word.empty()) WordPieceUtf8(word, nullptr, ids);
    return;
  }
  const std::u32string input = unicode::DecodeUtf8(utf8);

  // BertNormalizer: clean text, CJK spacing, accent stripping, lowercase, in that order.
  std::u32string a;
  a.reserve(input.size());
  for (char32_t c : input) {
    if (n.clean_text) {
      if (unicode::IsControl(c)) continue;
      if (unicode::IsCleanTextWhitespace(c)) c = ' ';
    }
    if (n.handle_chinese_chars && unicode::IsChinese(c)) {
      a.push_back(' ');
      a.push_back(c);
      a.push_back(' ');
    } else {
      a.push_back(c);
    }
  }
  std::u32string b;
  if (n.strip_accents) {
    b.reserve(a.size());
    for (char32_t c : a) unicode::AppendStripped(c, &b);
    a.swap(b);
    b.clear();
  }
  if (n.lowercase) {
    b.reserve(a.size());
    for (char32_t c : a) unicode::AppendLowercase(c, &b);
    a.swap(b);
  }

  // BertPreTokenizer: split on whitespace, each punctuation character is its own word.
  std::u32string word;
  for (char32_t c : a) {
    if (unicode::IsSplitWhitespace(c)) {
      if (!word.empty()) WordPiece(word, ids), word.clear();
    } else if (unicode::IsPunctuation(c)) {
      if (!word.empty()) WordPiece(word, ids), word.clear();
      WordPiece(std::u32string(1, c), ids);
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) WordPiece(word, ids);
}

void WordPieceTokenizer::WordPiece(const std::u32string& word, std::vector<int32_t>* ids) const {
  if (word.size() > static_cast<size_t>(config_.max_input_chars_per_word)) {
    ids->push_back(unk_id_);  // before converting a long word for nothing
    return;
  }
  // UTF-8 of the word plus the byte offset of every character boundary.
  std::string utf8;
  std::vector<size_t> boundary;
  boundary.reserve(word.size() + 1);
  for (char32_t c : word) {
    boundary.push_back(utf8.size());
    unicode::AppendUtf8(c, &utf8);
  }
  boundary.push_back(utf8.size());
  WordPieceUtf8(utf8, &boundary, ids);
}

// Greedy longest match over the characters of `utf8`; boundary[i] is the byte offset of
// character i (null: every byte is a character, ASCII).
void WordPieceTokenizer::WordPieceUtf8(std::string_view utf8, const std::vector<size_t>* boundary,
                                       std::vector<int32_t>* ids) const {
  const size_t n = boundary ? boundary->size() - 1 : utf8.size();
  if (n > static_cast<size_t>(config_.max_input_chars_per_word)) {
    ids->push_back(unk_id_);
    return;
  }
  auto offset = [&](size_t i) { return boundary ? (*boundary)[i] : i; };
  const size_t first = ids->size();
  size_t start = 0;
  while (start < n) {
    // Pieces after the first are looked up without the prefix: the same as prefix + piece in
    // the whole vocabulary.
    const VocabTable& table = start > 0 ? continuation_ : vocab_;
    size_t end = n;
    int32_t found = -1;
    while (start < end) {
      found = table.Find(utf8.substr(offset(start), offset(end) - offset(start)));
      if (found >= 0) break;
      --end;
    }
    if (found < 0) {  // one unmatchable piece makes the whole word unknown
      ids->resize(first);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start = end;
  }
}

}  // namespace crossrank
