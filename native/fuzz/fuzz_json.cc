// libFuzzer target: the strict JSON reader (safetensors headers) on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crossrank::json::Value value;
  std::string error;
  crossrank::json::Parse(reinterpret_cast<const char*>(data), size, &value, &error);
  return 0;
}
