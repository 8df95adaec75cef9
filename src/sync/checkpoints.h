// Checkpoints: snapshots persisted in the store's checkpoints column, taken every `interval`
// committed blocks, the newest `keep` kept, served to peers chunk by chunk.
//
// Layout (storage column "checkpoints"): height -> encoded SnapshotManifest;
// height || chunk index -> encoded SnapshotChunk (stored encoded, served as stored).
// A checkpoint is written in one batch (manifest and every chunk), so a crash leaves it whole
// or absent; pruning deletes whole checkpoints in that same batch.
#pragma once

#include <optional>

#include "storage/store.h"
#include "sync/snapshot.h"

namespace ol::sync {

struct CheckpointConfig {
  std::uint64_t interval = 1000;  // snapshot every `interval` committed heights; 0 = never
  std::uint32_t keep = 2;         // newest checkpoints kept (≥ 1)
  std::size_t chunk_bytes = kDefaultChunkBytes;
};

class Checkpoints {
 public:
  Checkpoints(storage::Store& store, CheckpointConfig config) : store_(store), config_(config) {}

  /// After the node committed (and applied) block `block_id` at `height`: if `height` is a
  /// positive multiple of the interval, snapshots `ledger` (which must be at `height`) and
  /// prunes to the newest `keep`. Returns the new manifest, or nullopt when none was due.
  /// Call on the core thread before the next block is applied.
  Result<std::optional<SnapshotManifest>> on_commit(const execution::Ledger& ledger,
                                                    std::uint64_t height, const Hash32& block_id);

  /// Snapshots `ledger` at `height` now and prunes (on_commit without the interval check).
  Result<SnapshotManifest> create(const execution::Ledger& ledger, std::uint64_t height,
                                  const Hash32& block_id);

  /// Stores a snapshot taken earlier (create_snapshot) and prunes to the newest `keep`: the
  /// half of create() that needs no ledger, so a node can cut the snapshot between blocks on its
  /// core thread and encode and write it on another. Any thread (one writer at a time).
  /// Errors: a manifest with more expansions than a peer would decode (invalid_argument: about
  /// 10^8 accounts ground into buckets), or the store's.
  Result<SnapshotManifest> write(Snapshot snap);

  /// Heights with a stored checkpoint, ascending.
  Result<std::vector<std::uint64_t>> heights() const { return store_.checkpoint_heights(); }
  Result<std::optional<SnapshotManifest>> manifest(std::uint64_t height) const;
  /// The stored encoding of chunk `index` of the checkpoint at `height`.
  Result<std::optional<Bytes>> chunk(std::uint64_t height, std::uint32_t index) const;

  const CheckpointConfig& config() const { return config_; }

 private:
  storage::Store& store_;
  CheckpointConfig config_;
};

}  // namespace ol::sync
