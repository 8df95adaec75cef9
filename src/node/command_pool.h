// The consensus-only benchmark mode (consensus.payload = "commands", docs/RPC.md): a pool of
// opaque fixed-size commands that leaders propose instead of transactions, and a log of recent
// commits that clients long-poll. A command's first 16 bytes are its id.
//
// Like the mempool, a command stays in the pool until a committed block carries it, so a
// proposal lost to a timeout loses nothing; leaders skip commands already in an uncommitted
// ancestor. A client may send the same commands to every node: whichever leader proposes them
// first, the others drop them from their pools when that block commits. Thread-safe.
//
// The pool handles every command of the benchmark several times (admission, proposal, commit),
// so it avoids a heap node per command: each admitted batch is kept as one buffer, in arrival
// order, with a live flag per command, and ids map to arrival sequence numbers in an
// open-addressing table.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "common/bytes.h"
#include "node/event_queue.h"

namespace ol::node {

using CommandId = std::array<std::uint8_t, 16>;

struct CommandIdHash {
  std::size_t operator()(const CommandId& id) const;
};
using CommandIdSet = std::unordered_set<CommandId, CommandIdHash>;

/// The id of a command (its first 16 bytes; shorter commands are zero-padded).
CommandId command_id(ByteView command);

class CommandPool {
 public:
  static constexpr std::size_t kMinCommandSize = 8, kMaxCommandSize = 4096;

  CommandPool(std::size_t max_commands, std::size_t max_bytes, WakeSignal* wake = nullptr)
      : max_commands_(max_commands), max_bytes_(max_bytes), wake_(wake) {}

  /// Splits `data` into commands of `size` bytes and adds them all, or none: false when they do
  /// not fit. A command whose id is already pooled is skipped (it still counts as accepted).
  bool add(ByteView data, std::size_t size);

  /// Up to `max_count` commands (and `max_bytes`) in arrival order, skipping ids in `exclude`.
  /// Nothing is removed.
  std::vector<Bytes> take(std::size_t max_count, std::size_t max_bytes,
                          const CommandIdSet& exclude) const;

  /// Drops committed commands.
  void remove(std::span<const Bytes> committed);

  std::size_t size() const;
  /// Slots the id index has probed so far, over all lookups (for tests of its spread).
  std::uint64_t index_probes() const;

 private:
  // Commands of one add(), back to back; their sequence numbers are [first, first + live.size()).
  struct Batch {
    Bytes data;
    std::size_t size = 0;  // bytes per command
    std::uint64_t first = 0;
    std::vector<std::uint8_t> live;
    std::size_t live_count = 0;
  };

  // Command id -> sequence number: linear probing over a power-of-two table, with tombstones
  // (emptied again when nothing probes past them).
  class IdIndex {
   public:
    /// Adds id -> seq unless the id is present; false (nothing changed) if it is.
    bool insert(const CommandId& id, std::uint64_t seq);
    /// Removes the id; its sequence number, or nullopt if it was absent.
    std::optional<std::uint64_t> erase(const CommandId& id);
    std::size_t size() const { return live_; }
    /// Probes made by all lookups so far (a quality check for the tests).
    std::uint64_t probes() const { return probes_; }

   private:
    struct Slot {
      CommandId id{};
      std::uint64_t seq = 0;
      std::uint8_t state = 0;  // 0 empty, 1 full, 2 erased
    };
    std::size_t probe_start(const CommandId& id) const;
    // The slot holding `id`, or slots_.size() if absent; `*insert_at` (if given) receives the
    // first free (empty or erased) slot on the probe path.
    std::size_t locate(const CommandId& id, std::size_t* insert_at) const;
    void rebuild(std::size_t capacity);
    std::vector<Slot> slots_;
    unsigned shift_ = 64;  // 64 - log2(slots_.size())
    std::size_t live_ = 0, erased_ = 0;
    mutable std::uint64_t probes_ = 0;
  };

  Batch* batch_of(std::uint64_t seq);

  const std::size_t max_commands_, max_bytes_;
  WakeSignal* wake_;
  mutable std::mutex mu_;
  std::deque<Batch> batches_;  // arrival order; fully removed batches leave from the front
  IdIndex by_id_;
  std::uint64_t next_seq_ = 0;
  std::size_t bytes_ = 0;  // buffers held (a batch's buffer goes when its last command does)
};

/// Recent committed command blocks, encoded for GET /bench/commits. Thread-safe.
class BenchCommitLog {
 public:
  explicit BenchCommitLog(std::size_t max_blocks = 4096) : max_blocks_(max_blocks) {}

  void record(std::uint64_t height, std::uint64_t commit_ms, std::span<const Bytes> commands);

  /// For each retained block above `after`, in height order: u64 height, u64 commit time (ms),
  /// u32 count, count × 16-byte ids (all integers big-endian). Stops after ~`max_bytes`.
  Bytes encode_after(std::uint64_t after, std::size_t max_bytes = 8u << 20) const;
  std::uint64_t last_height() const;

 private:
  struct Entry {
    std::uint64_t height;
    std::uint64_t commit_ms;
    std::vector<CommandId> ids;
  };
  const std::size_t max_blocks_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
};

}  // namespace ol::node
