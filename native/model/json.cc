#include "model/json.h"

#include "tokenizer/unicode.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace crossrank::json {
namespace {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  Parser(const char* text, size_t size) : p_(text), begin_(text), end_(text + size) {}

  bool Run(Value* out, std::string* error) {
    Skip();
    if (!ParseValue(out, 0)) return Fail(error);
    Skip();
    if (p_ != end_) {
      message_ = "unexpected data after the value";
      return Fail(error);
    }
    return true;
  }

 private:
  bool Fail(std::string* error) {
    *error = message_ + " at byte " + std::to_string(p_ - begin_);
    return false;
  }
  bool Error(const char* m) {
    message_ = m;
    return false;
  }
  void Skip() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Literal(const char* word) {
    const size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return Error("invalid literal");
    p_ += n;
    return true;
  }

  bool ParseValue(Value* v, int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    if (p_ >= end_) return Error("unexpected end of input");
    switch (*p_) {
      case '{': return ParseObject(v, depth);
      case '[': return ParseArray(v, depth);
      case '"': v->kind = Value::Kind::kString; return ParseString(&v->string);
      case 't': v->kind = Value::Kind::kBool; v->boolean = true; return Literal("true");
      case 'f': v->kind = Value::Kind::kBool; v->boolean = false; return Literal("false");
      case 'n': v->kind = Value::Kind::kNull; return Literal("null");
      default: return ParseNumber(v);
    }
  }

  bool ParseObject(Value* v, int depth) {
    v->kind = Value::Kind::kObject;
    ++p_;
    Skip();
    if (p_ < end_ && *p_ == '}') return ++p_, true;
    for (;;) {
      Skip();
      if (p_ >= end_ || *p_ != '"') return Error("expected a string key");
      std::string key;
      if (!ParseString(&key)) return false;
      if (v->Get(key)) return Error("duplicate key");
      Skip();
      if (p_ >= end_ || *p_ != ':') return Error("expected ':'");
      ++p_;
      Skip();
      v->object.emplace_back(std::move(key), Value());
      if (!ParseValue(&v->object.back().second, depth + 1)) return false;
      Skip();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == '}') return ++p_, true;
      return Error("expected ',' or '}'");
    }
  }

  bool ParseArray(Value* v, int depth) {
    v->kind = Value::Kind::kArray;
    ++p_;
    Skip();
    if (p_ < end_ && *p_ == ']') return ++p_, true;
    for (;;) {
      Skip();
      v->array.emplace_back();
      if (!ParseValue(&v->array.back(), depth + 1)) return false;
      Skip();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == ']') return ++p_, true;
      return Error("expected ',' or ']'");
    }
  }

  bool Hex4(uint32_t* out) {
    if (end_ - p_ < 4) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return Error("invalid \\u escape");
    }
    *out = v;
    return true;
  }

  bool ParseString(std::string* out) {
    ++p_;  // opening quote
    for (;;) {
      if (p_ >= end_) return Error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return true;
      if (c < 0x20) return Error("control character in string");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (p_ >= end_) return Error("unterminated escape");
      const char e = *p_++;
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Error("lone high surrogate");
            p_ += 2;
            if (!Hex4(&low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return Error("invalid low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Error("lone low surrogate");
          }
          unicode::AppendUtf8(cp, out);
          break;
        }
        default: return Error("invalid escape");
      }
    }
  }

  bool ParseNumber(Value* v) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid value");
    if (*p_ == '0') ++p_;
    else while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Error("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const std::string text(start, p_);
    v->kind = Value::Kind::kNumber;
    v->number = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v->number)) return Error("number out of range");
    return true;
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  std::string message_;
};

}  // namespace

const Value* Value::Get(const std::string& key) const {
  for (const auto& [k, v] : object) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool Parse(const char* text, size_t size, Value* out, std::string* error) {
  *out = Value();
  return Parser(text, size).Run(out, error);
}

}  // namespace crossrank::json
