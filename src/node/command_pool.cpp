#include "node/command_pool.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "crypto/hash.h"

namespace ol::node {
namespace {

void put_be(Bytes& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Ids are client-chosen (client id || sequence number, or anything a client likes), so both
// tables hash them under a per-process secret: an unkeyed mix, being invertible, would let a
// client aim every id at one bucket or one probe run. Not SipHash (crypto::keyed_hash64) here:
// the consensus-only benchmark hashes every command several times, and with SipHash it was
// ~5% slower in 13 alternating runs (median 101.8k against 107.6k commands/s); splitmix64's
// finaliser around two secret words costs two XORs more than the unkeyed mix did.
std::uint64_t keyed_mix(const CommandId& id) {
  static const std::uint64_t k0 = crypto::keyed_hash64(as_bytes("openliquid/command-id/0"));
  static const std::uint64_t k1 = crypto::keyed_hash64(as_bytes("openliquid/command-id/1"));
  auto mix = [](std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::uint64_t a, b;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  return mix(a ^ k0 ^ mix(b ^ k1));
}

}  // namespace

std::size_t CommandIdHash::operator()(const CommandId& id) const {
  return static_cast<std::size_t>(keyed_mix(id));
}

CommandId command_id(ByteView command) {
  CommandId id{};
  std::memcpy(id.data(), command.data(), std::min(command.size(), id.size()));
  return id;
}

std::size_t CommandPool::IdIndex::probe_start(const CommandId& id) const {
  // Every bit of the id reaches the top bits, which pick the slot: a client's consecutive
  // sequence numbers spread like random ids.
  return static_cast<std::size_t>(keyed_mix(id) >> shift_);
}

std::size_t CommandPool::IdIndex::locate(const CommandId& id, std::size_t* insert_at) const {
  const std::size_t n = slots_.size();
  if (insert_at != nullptr) *insert_at = n;
  if (n == 0) return n;
  const std::size_t mask = n - 1;
  for (std::size_t i = probe_start(id);; i = (i + 1) & mask) {
    ++probes_;
    const Slot& s = slots_[i];
    if (s.state == 1) {
      if (s.id == id) return i;
      continue;
    }
    if (insert_at != nullptr && *insert_at == n) *insert_at = i;
    if (s.state == 0) return n;  // at most 5/8 used or erased: an empty slot ends every probe
  }
}

bool CommandPool::IdIndex::insert(const CommandId& id, std::uint64_t seq) {
  // At most 5/8 of the slots used or erased, so probes stay short and an empty slot exists.
  if ((live_ + erased_ + 1) * 8 > slots_.size() * 5) {
    std::size_t capacity = 64;
    while ((live_ + 1) * 4 > capacity) capacity *= 2;  // at most 1/4 live after a rebuild
    rebuild(capacity);
  }
  std::size_t at = 0;
  if (locate(id, &at) != slots_.size()) return false;
  Slot& s = slots_[at];
  if (s.state == 2) --erased_;
  s = Slot{id, seq, 1};
  ++live_;
  return true;
}

std::optional<std::uint64_t> CommandPool::IdIndex::erase(const CommandId& id) {
  const std::size_t i = locate(id, nullptr);
  if (i == slots_.size()) return std::nullopt;
  const std::uint64_t seq = slots_[i].seq;
  --live_;
  const std::size_t mask = slots_.size() - 1;
  if (slots_[(i + 1) & mask].state != 0) {
    slots_[i].state = 2;  // a probe may pass here to reach a later slot
    ++erased_;
    return seq;
  }
  // The next slot is empty, so no probe needs to pass this one, nor the tombstones just before
  // it: empty them all (commands mostly leave in arrival order, so runs of them empty again).
  slots_[i].state = 0;
  for (std::size_t j = (i + mask) & mask; slots_[j].state == 2; j = (j + mask) & mask) {
    slots_[j].state = 0;
    --erased_;
  }
  return seq;
}

void CommandPool::IdIndex::rebuild(std::size_t capacity) {
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
  live_ = erased_ = 0;
  for (const Slot& s : old) {
    if (s.state == 1) insert(s.id, s.seq);
  }
}

CommandPool::Batch* CommandPool::batch_of(std::uint64_t seq) {
  // Batches hold consecutive ranges in increasing order.
  auto it = std::upper_bound(batches_.begin(), batches_.end(), seq,
                             [](std::uint64_t s, const Batch& b) { return s < b.first; });
  if (it == batches_.begin()) return nullptr;
  --it;
  return seq < it->first + it->live.size() ? &*it : nullptr;
}

bool CommandPool::add(ByteView data, std::size_t size) {
  if (size == 0 || data.size() % size != 0) return false;
  const std::size_t n = data.size() / size;
  {
    std::lock_guard lock(mu_);
    if (by_id_.size() + n > max_commands_ || bytes_ + data.size() > max_bytes_) return false;
    Batch batch{to_bytes(data), size, next_seq_, std::vector<std::uint8_t>(n, 0), 0};
    for (std::size_t i = 0; i < n; ++i) {
      const CommandId id = command_id(data.subspan(i * size, size));
      // Already pooled (perhaps earlier in this batch): skipped.
      if (!by_id_.insert(id, next_seq_ + i)) continue;
      batch.live[i] = 1;
      ++batch.live_count;
    }
    next_seq_ += n;
    if (batch.live_count > 0) {
      bytes_ += batch.data.size();
      batches_.push_back(std::move(batch));
    }
  }
  if (wake_ != nullptr) wake_->notify();
  return true;
}

std::vector<Bytes> CommandPool::take(std::size_t max_count, std::size_t max_bytes,
                                     const CommandIdSet& exclude) const {
  std::lock_guard lock(mu_);
  std::vector<Bytes> out;
  out.reserve(std::min<std::size_t>(max_count, by_id_.size()));
  std::size_t bytes = 0;
  for (const Batch& b : batches_) {
    if (b.live_count == 0) continue;
    for (std::size_t i = 0; i < b.live.size(); ++i) {
      if (!b.live[i]) continue;
      if (out.size() >= max_count || bytes + b.size > max_bytes) return out;
      const ByteView cmd = ByteView(b.data).subspan(i * b.size, b.size);
      if (!exclude.empty() && exclude.contains(command_id(cmd))) continue;
      bytes += b.size;
      out.emplace_back(cmd.begin(), cmd.end());
    }
  }
  return out;
}

void CommandPool::remove(std::span<const Bytes> committed) {
  std::lock_guard lock(mu_);
  for (const auto& cmd : committed) {
    const auto seq = by_id_.erase(command_id(cmd));
    if (!seq) continue;
    Batch* b = batch_of(*seq);
    if (b == nullptr) continue;  // unreachable: every indexed id has its batch
    const std::size_t i = static_cast<std::size_t>(*seq - b->first);
    if (!b->live[i]) continue;
    b->live[i] = 0;
    if (--b->live_count == 0) {
      bytes_ -= b->data.size();
      Bytes().swap(b->data);
    }
  }
  while (!batches_.empty() && batches_.front().live_count == 0) batches_.pop_front();
}

std::size_t CommandPool::size() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

std::uint64_t CommandPool::index_probes() const {
  std::lock_guard lock(mu_);
  return by_id_.probes();
}

void BenchCommitLog::record(std::uint64_t height, std::uint64_t commit_ms,
                            std::span<const Bytes> commands) {
  Entry e{height, commit_ms, {}};
  e.ids.reserve(commands.size());
  for (const auto& c : commands) e.ids.push_back(command_id(c));
  std::lock_guard lock(mu_);
  entries_.push_back(std::move(e));
  while (entries_.size() > max_blocks_) entries_.pop_front();
}

Bytes BenchCommitLog::encode_after(std::uint64_t after, std::size_t max_bytes) const {
  std::lock_guard lock(mu_);
  Bytes out;
  auto it = std::upper_bound(entries_.begin(), entries_.end(), after,
                             [](std::uint64_t h, const Entry& e) { return h < e.height; });
  for (; it != entries_.end() && out.size() < max_bytes; ++it) {
    put_be(out, it->height, 8);
    put_be(out, it->commit_ms, 8);
    put_be(out, it->ids.size(), 4);
    for (const auto& id : it->ids) out.insert(out.end(), id.begin(), id.end());
  }
  return out;
}

std::uint64_t BenchCommitLog::last_height() const {
  std::lock_guard lock(mu_);
  return entries_.empty() ? 0 : entries_.back().height;
}

}  // namespace ol::node
