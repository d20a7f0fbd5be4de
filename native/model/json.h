// A small JSON reader: enough for safetensors headers. Strict (RFC 8259), bounded depth,
// never throws: a parse error comes back as a message with the byte offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace crossrank::json {

struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // keeps order; duplicates are an error

  const Value* Get(const std::string& key) const;
};

// Parses text[0, size). On failure returns false and sets *error.
bool Parse(const char* text, size_t size, Value* out, std::string* error);

}  // namespace crossrank::json
