// A bounded memory of the most recently added 32-byte ids (the mempool's committed ids).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/bytes.h"

namespace ol::mempool {

/// The last `capacity` distinct ids added, the oldest forgotten first, with O(1) membership.
///
/// The ids sit in a ring in arrival order; an open-addressing index (linear probing, at most half
/// full, backward-shift deletion so that it never fills with tombstones) maps them to their ring
/// positions. Each slot holds a position and 32 bits of the id's keyed hash (crypto::keyed_hash64,
/// so nobody can aim ids at one probe run): a lookup reads one index line and, only when those
/// bits match, the id in the ring. A node-based set with an order deque held 131,072 ids in about
/// 13 MB and paid two or more cache misses a lookup; this holds them in 6 MB.
class RecentIds {
 public:
  /// Capacity 0 remembers nothing. At most kMaxCapacity (more is clamped).
  explicit RecentIds(std::size_t capacity);

  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;

  bool contains(const Hash32& id) const;
  /// Remembers `id`, forgetting the oldest if full; false (and nothing changes) if it is
  /// remembered already or the capacity is 0.
  bool insert(const Hash32& id);
  std::size_t size() const { return count_; }
  std::size_t capacity() const { return ring_.size(); }

 private:
  struct Slot {
    std::uint32_t pos = 0;  // ring position + 1; 0: empty
    std::uint32_t tag = 0;  // the low 32 bits of the id's hash; its home slot is tag & mask_
  };
  static std::uint32_t tag_of(const Hash32& id);
  // The slot holding `id`, or the empty slot ending its probe run.
  std::size_t find(const Hash32& id, std::uint32_t tag) const;
  void erase_slot(std::size_t slot);

  std::vector<Hash32> ring_;
  std::size_t next_ = 0;   // ring position the next id takes (the oldest's, once full)
  std::size_t count_ = 0;  // ids remembered
  std::vector<Slot> index_;
  std::size_t mask_ = 0;
};

}  // namespace ol::mempool
