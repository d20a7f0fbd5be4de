// libFuzzer target: a sharded checkpoint's index (model.safetensors.index.json) on arbitrary
// bytes. Whatever it accepts must name shards that stay beside the index: a plain file
// name ending in .safetensors (the loader opens them by joining that name to the directory).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "crossrank/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, std::string>> map;
  if (!crossrank::ShardedSafetensors::ParseIndex(reinterpret_cast<const char*>(data), size, "fuzz", &map).ok()) return 0;
  if (map.empty()) std::abort();
  for (const auto& [tensor, shard] : map) {
    const bool beside = shard.find('/') == std::string::npos && shard.find('\\') == std::string::npos &&
                        shard.find('\0') == std::string::npos && shard[0] != '.' && shard.size() > 12 &&
                        shard.compare(shard.size() - 12, 12, ".safetensors") == 0;
    if (!beside) std::abort();
  }
  return 0;
}
