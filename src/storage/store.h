// The node's database: RocksDB with one column family per kind of record (see write_batch.h).
//
// Contracts:
//   - Every write is a WriteBatch applied atomically: after a crash, a batch is on disk entirely
//     or not at all. Writes acknowledged with Durability::buffered survive a process crash
//     (SIGKILL) but may be lost on power failure; Durability::synced survive both.
//   - Safety records (put_safety) are synced by default: they must be durable before a vote or
//     timeout leaves the process. One written buffered is durable once a later synced write or
//     sync_wal() returns (one write-ahead log: syncing it syncs everything before).
//   - Reads return std::nullopt for an absent key and an Error only for a database failure.
//   - Checksums are verified on every read and the database is opened with paranoid checks, so
//     corruption is reported as an error rather than returned as data.
//   - Pruning (Options::keep_blocks = N > 0): whenever a batch commits height H, the bodies of
//     committed blocks at heights <= H - N are deleted in that same batch. The height index and
//     QCs are kept (they are small and prove what was committed). N = 0 keeps everything.
//   - A Store is safe to use from several threads (RocksDB is); one process at a time may open a
//     directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "storage/write_batch.h"

namespace ol::storage {

struct Options {
  /// Create the directory and database when missing; otherwise a missing database is an error.
  bool create_if_missing = true;
  /// Keep the bodies of the last N committed blocks; 0 = archival (keep all).
  std::uint64_t keep_blocks = 0;
  /// RocksDB block cache size in bytes (shared by all column families).
  std::size_t block_cache_bytes = 32u << 20;
  /// Memtables of all column families together, in bytes, before the largest is flushed (0:
  /// RocksDB's own limits only, up to two 64 MiB memtables per column family, ~1 GiB in all).
  std::size_t memtable_budget_bytes = 64u << 20;
};

enum class Durability : std::uint8_t {
  buffered,  // survives a process crash, not a power failure
  synced,    // fsync'ed before write() returns
};

struct CommittedTip {
  std::uint64_t height = 0;
  Hash32 hash{};
  bool operator==(const CommittedTip&) const = default;
};

class Store;

/// A frozen read view of the state column: what every later write leaves unchanged (a RocksDB
/// snapshot). Cheap to take; while it lives RocksDB keeps the versions it sees, so hold it only
/// as long as a read needs (a checkpoint). Must not outlive its Store. Any thread.
class StateView {
 public:
  ~StateView();
  StateView(const StateView&) = delete;
  StateView& operator=(const StateView&) = delete;

  /// As Store::for_each_state, at the moment the view was taken.
  Status for_each_state(ByteView prefix,
                        const std::function<bool(ByteView key, ByteView value)>& visit) const;

 private:
  friend class Store;
  struct Impl;
  explicit StateView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  /// Opens (or creates, per Options) the database in `dir`. Errors:
  ///   not_found — `dir` holds no database and create_if_missing is false;
  ///   state     — another process (or another Store in this one) holds the directory's lock;
  ///   io        — corruption (message starts with "corruption") or any other I/O failure.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                             const Options& options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Applies `batch` atomically, adding the pruning deletions it makes due (see above). Fails
  /// with `state` if the batch commits a height not above the current tip; nothing is written
  /// then.
  Status write(const WriteBatch& batch, Durability durability = Durability::buffered);

  /// Writes one consensus safety record on its own, synced unless asked otherwise.
  Status put_safety(std::string_view name, ByteView record,
                    Durability durability = Durability::synced);
  /// Syncs the write-ahead log: every write acknowledged so far survives a power failure.
  Status sync_wal();
  Result<std::optional<Bytes>> get_safety(std::string_view name) const;

  Result<std::optional<Bytes>> get_block(const Hash32& hash) const;
  /// The hash of the committed block at `height` (kept even after its body is pruned).
  Result<std::optional<Hash32>> block_hash_at(std::uint64_t height) const;
  /// The committed block at `height`; nullopt if none or pruned.
  Result<std::optional<Bytes>> get_block_at(std::uint64_t height) const;
  Result<std::optional<Bytes>> get_qc(const Hash32& block_hash) const;

  /// The highest committed block, nullopt before the first commit.
  Result<std::optional<CommittedTip>> committed_tip() const;
  /// Committed block bodies below this height have been pruned (0 when nothing was).
  std::uint64_t pruned_below() const;

  Result<std::optional<Bytes>> get_state(ByteView key) const;
  /// Calls `visit(key, value)` for every state entry whose key starts with `prefix`, in key
  /// order, until it returns false. The views are valid only during the call.
  Status for_each_state(ByteView prefix,
                        const std::function<bool(ByteView key, ByteView value)>& visit) const;

  /// The state column as it is now, unaffected by later writes (see StateView).
  std::unique_ptr<StateView> state_view() const;

  Result<std::optional<Bytes>> get_meta(std::string_view name) const;
  Result<std::optional<Bytes>> get_checkpoint(std::uint64_t height) const;
  /// Chunk `index` of the checkpoint at `height` (see WriteBatch::put_checkpoint_chunk).
  Result<std::optional<Bytes>> get_checkpoint_chunk(std::uint64_t height,
                                                    std::uint32_t index) const;
  /// Heights that have a checkpoint record, ascending.
  Result<std::vector<std::uint64_t>> checkpoint_heights() const;

  /// Flushes every column family's memtable to table files (clean shutdown, tests).
  Status flush();
  /// Bytes held in memtables (active and waiting to be flushed), all column families together:
  /// bounded by about Options::memtable_budget_bytes when that is set.
  std::uint64_t memtable_bytes() const;

  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ol::storage
