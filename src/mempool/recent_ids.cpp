#include "mempool/recent_ids.h"

#include <algorithm>
#include <bit>

#include "crypto/hash.h"

namespace ol::mempool {

RecentIds::RecentIds(std::size_t capacity) {
  capacity = std::min(capacity, kMaxCapacity);
  if (capacity == 0) return;
  ring_.resize(capacity);
  index_.resize(std::bit_ceil(2 * capacity));
  mask_ = index_.size() - 1;
}

std::uint32_t RecentIds::tag_of(const Hash32& id) {
  return static_cast<std::uint32_t>(crypto::keyed_hash64(id));
}

std::size_t RecentIds::find(const Hash32& id, std::uint32_t tag) const {
  // At most half full, so every probe run ends at an empty slot.
  for (std::size_t s = tag & mask_;; s = (s + 1) & mask_) {
    const Slot& slot = index_[s];
    if (slot.pos == 0) return s;
    if (slot.tag == tag && ring_[slot.pos - 1] == id) return s;
  }
}

bool RecentIds::contains(const Hash32& id) const {
  if (count_ == 0) return false;
  return index_[find(id, tag_of(id))].pos != 0;
}

bool RecentIds::insert(const Hash32& id) {
  if (ring_.empty()) return false;
  const std::uint32_t tag = tag_of(id);
  std::size_t slot = find(id, tag);
  if (index_[slot].pos != 0) return false;
  if (count_ == ring_.size()) {
    // Forget the oldest, whose ring position the new id takes. The erase may shift the new
    // id's probe run, so its empty slot is found again.
    const Hash32& oldest = ring_[next_];
    erase_slot(find(oldest, tag_of(oldest)));
    --count_;
    slot = find(id, tag);
  }
  ring_[next_] = id;
  index_[slot] = Slot{static_cast<std::uint32_t>(next_ + 1), tag};
  next_ = next_ + 1 == ring_.size() ? 0 : next_ + 1;
  ++count_;
  return true;
}

// Backward-shift deletion (Knuth's algorithm R): later members of the probe run move into the
// hole when their home slot does not lie cyclically in (hole, their slot].
void RecentIds::erase_slot(std::size_t hole) {
  for (std::size_t s = (hole + 1) & mask_;; s = (s + 1) & mask_) {
    const Slot slot = index_[s];
    if (slot.pos == 0) break;
    const std::size_t home = slot.tag & mask_;
    const bool stays = hole <= s ? (hole < home && home <= s) : (hole < home || home <= s);
    if (stays) continue;
    index_[hole] = slot;
    hole = s;
  }
  index_[hole] = Slot{};
}

}  // namespace ol::mempool
