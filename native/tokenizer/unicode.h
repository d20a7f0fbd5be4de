// Unicode facts for the BERT tokenizer, from tables generated off the reference
// implementation (scripts/gen-unicode-tables.mjs), and UTF-8 conversion.
#pragma once

#include <string>
#include <string_view>

namespace crossrank::unicode {

bool IsCleanTextWhitespace(char32_t c);  // clean_text turns it into ' '
bool IsControl(char32_t c);              // clean_text drops it
bool IsSplitWhitespace(char32_t c);      // the pre-tokenizer splits on it
bool IsPunctuation(char32_t c);          // the pre-tokenizer isolates it
bool IsChinese(char32_t c);              // handle_chinese_chars pads it with spaces

// Appends the accent-stripped form (NFD, then non-spacing marks removed) of c.
void AppendStripped(char32_t c, std::u32string* out);
// Appends the lowercase form of c (may be several code points).
void AppendLowercase(char32_t c, std::u32string* out);

// UTF-8 -> code points; an invalid sequence becomes one U+FFFD per bad byte.
std::u32string DecodeUtf8(std::string_view utf8);
void AppendUtf8(char32_t c, std::string* out);

}  // namespace crossrank::unicode
