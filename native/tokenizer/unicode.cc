#include "tokenizer/unicode.h"

#include <algorithm>
#include <cstdint>

namespace crossrank::unicode {
namespace {

struct CodePointRange {
  char32_t lo, hi;
};
struct CodePointMapping {
  char32_t from;
  uint32_t offset, length;  // into the pool
};

#include "tokenizer/unicode_tables.inc"

template <size_t N>
bool InRanges(const CodePointRange (&ranges)[N], char32_t c) {
  const CodePointRange* end = ranges + N;
  const CodePointRange* it = std::upper_bound(ranges, end, c, [](char32_t v, const CodePointRange& r) { return v < r.lo; });
  return it != ranges && c <= (it - 1)->hi;
}

template <size_t N, size_t P>
bool AppendMapped(const CodePointMapping (&map)[N], const char32_t (&pool)[P], char32_t c, std::u32string* out) {
  const CodePointMapping* end = map + N;
  const CodePointMapping* it =
      std::lower_bound(map, end, c, [](const CodePointMapping& m, char32_t v) { return m.from < v; });
  if (it == end || it->from != c) return false;
  out->append(pool + it->offset, pool + it->offset + it->length);
  return true;
}

constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

}  // namespace

bool IsCleanTextWhitespace(char32_t c) { return InRanges(kWhitespaceRanges, c); }
bool IsControl(char32_t c) { return InRanges(kControlRanges, c); }
bool IsSplitWhitespace(char32_t c) { return c == ' ' || InRanges(kSplitRanges, c); }
bool IsPunctuation(char32_t c) { return InRanges(kPunctuationRanges, c); }
bool IsChinese(char32_t c) { return c >= 0x3400 && InRanges(kChineseRanges, c); }

void AppendStripped(char32_t c, std::u32string* out) {
  if (c < 0xC0) {  // nothing below U+00C0 decomposes or is a non-spacing mark
    out->push_back(c);
    return;
  }
  if (c >= kHangulFirst && c <= kHangulLast) {  // algorithmic decomposition (Unicode 3.12)
    const char32_t s = c - kHangulFirst;
    out->push_back(0x1100 + s / 588);
    out->push_back(0x1161 + (s % 588) / 28);
    if (s % 28) out->push_back(0x11A7 + s % 28);
    return;
  }
  if (!AppendMapped(kStripMap, kStripPool, c, out)) out->push_back(c);
}

void AppendLowercase(char32_t c, std::u32string* out) {
  if (c < 0x80) {
    out->push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  if (!AppendMapped(kLowerMap, kLowerPool, c, out)) out->push_back(c);
}

std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace crossrank::unicode
