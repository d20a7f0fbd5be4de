// The WordPiece vocabulary as a string → id table looked up by string_view: WordPiece probes
// every candidate piece of every word, and std::unordered_map<std::string> wants a key
// string built for each probe and chases a node per bucket. Open addressing with linear
// probing over a power-of-two array of 16-byte slots (at most half full), the strings in one
// pool, 32-bit FNV-1a hashes. Read-only once built; the first insertion of a string wins.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

class VocabTable {
 public:
  // Adds s with `id` unless s is already there.
  void Insert(std::string_view s, int32_t id) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    const uint32_t h = Hash(s);
    Slot* slot = Probe(s, h);
    if (slot->id >= 0) return;
    *slot = {h, static_cast<uint32_t>(pool_.size()), static_cast<uint32_t>(s.size()), id};
    pool_.append(s);
    ++size_;
  }

  // The id of s, or -1.
  int32_t Find(std::string_view s) const {
    if (slots_.empty()) return -1;
    return Probe(s, Hash(s))->id;
  }

 private:
  struct Slot {
    uint32_t hash = 0, offset = 0, length = 0;
    int32_t id = -1;  // -1: empty
  };

  static uint32_t Hash(std::string_view s) {
    uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
  }

  // The slot holding s, or the empty slot where it would go.
  Slot* Probe(std::string_view s, uint32_t h) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.id < 0 || (slot.hash == h && slot.length == s.size() &&
                          std::memcmp(pool_.data() + slot.offset, s.data(), s.size()) == 0)) {
        return const_cast<Slot*>(&slot);
      }
    }
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() < 16 ? 32 : 2 * slots_.size());
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.id < 0) continue;
      size_t i = slot.hash & mask;
      while (slots_[i].id >= 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::string pool_;
  size_t size_ = 0;
};

}  // namespace crossrank
