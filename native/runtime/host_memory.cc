#include "crossrank/host_memory.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace crossrank {
namespace {

constexpr uint64_t kUnknown = 0;

// The first number in a file ("max" or a missing file: kUnknown).
uint64_t ReadNumber(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word.empty() || word[0] < '0' || word[0] > '9') return kUnknown;
  return std::strtoull(word.c_str(), nullptr, 10);
}

uint64_t MemAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kb) == 1) return static_cast<uint64_t>(kb) * 1024;
  }
  return kUnknown;
}

// A field of a cgroup memory.stat file ("inactive_file 123"), 0 when absent.
uint64_t StatField(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) if (name == field) return value;
  return 0;
}

}  // namespace

// The cgroup is charged for page cache too: inactive file pages are reclaimed before the
// OOM killer acts, so they count as room (as container runtimes' "working set" does).
uint64_t CgroupMemoryRoom(const std::string& root) {
  uint64_t limit = ReadNumber(root + "/memory.max");
  uint64_t used = ReadNumber(root + "/memory.current");
  uint64_t reclaimable = StatField(root + "/memory.stat", "inactive_file");
  if (limit == kUnknown) {
    limit = ReadNumber(root + "/memory/memory.limit_in_bytes");
    used = ReadNumber(root + "/memory/memory.usage_in_bytes");
    reclaimable = StatField(root + "/memory/memory.stat", "total_inactive_file");
    if (limit >= (uint64_t{1} << 60)) return kUnknown;  // v1's "no limit" is a huge number
  }
  if (limit == kUnknown) return kUnknown;
  const uint64_t working_set = used > reclaimable ? used - reclaimable : 0;
  return limit > working_set ? limit - working_set : 1;
}

namespace {

std::string Readable(uint64_t bytes) {
  char text[32];
  if (bytes >= 1'000'000'000) std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  else std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

}  // namespace

uint64_t AvailableHostMemory() {
  if (const char* forced = std::getenv("CROSSRANK_AVAILABLE_MEMORY"); forced && *forced) {
    return std::strtoull(forced, nullptr, 10);
  }
  const uint64_t available = MemAvailable();
  const uint64_t room = CgroupMemoryRoom("/sys/fs/cgroup");
  if (available == kUnknown) return room;
  return room == kUnknown || available < room ? available : room;
}

Status CheckHostMemory(uint64_t bytes, const std::string& what, const std::string& remedy) {
  const uint64_t available = AvailableHostMemory();
  if (available == kUnknown || bytes <= available) return Status::Ok();
  return Status::OutOfMemory(what + " need " + Readable(bytes) + " (" + std::to_string(bytes) + " bytes) of memory; " +
                             Readable(available) + " is available. " + remedy);
}

}  // namespace crossrank
