// How much memory the process can still take, so a model too large for the CPU reference is
// refused with the numbers instead of the kernel's OOM killer ending the process halfway
// through the load (allocations succeed under overcommit; touching the pages is what kills).
#pragma once

#include <cstdint>
#include <string>

#include "crossrank/status.h"

namespace crossrank {

// Linux's MemAvailable, lowered to the room a cgroup's limit leaves (v2 memory.max minus
// memory.current, or v1's limit_in_bytes minus usage_in_bytes). 0 when unknown (other
// systems): callers then skip their check. CROSSRANK_AVAILABLE_MEMORY=<bytes> overrides it.
uint64_t AvailableHostMemory();

// The room a cgroup's memory limit leaves, from its files under `root` (/sys/fs/cgroup:
// v2's memory.max/current/stat, else v1's memory/ directory); 0 when there is no limit.
uint64_t CgroupMemoryRoom(const std::string& root);

// kOutOfMemory when `bytes` exceed AvailableHostMemory(), saying what needs them, both
// numbers, and `remedy`.
Status CheckHostMemory(uint64_t bytes, const std::string& what, const std::string& remedy);

}  // namespace crossrank
