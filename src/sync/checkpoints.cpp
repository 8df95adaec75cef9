#include "sync/checkpoints.h"

namespace ol::sync {

Result<std::optional<SnapshotManifest>> Checkpoints::on_commit(const execution::Ledger& ledger,
                                                               std::uint64_t height,
                                                               const Hash32& block_id) {
  if (config_.interval == 0 || height == 0 || height % config_.interval != 0) {
    return std::optional<SnapshotManifest>{};
  }
  OL_TRY_ASSIGN(auto manifest, create(ledger, height, block_id));
  return std::optional<SnapshotManifest>(std::move(manifest));
}

Result<SnapshotManifest> Checkpoints::create(const execution::Ledger& ledger, std::uint64_t height,
                                             const Hash32& block_id) {
  if (ledger.applied_height() != height) {
    return make_error(Errc::state, "checkpoint at height " + std::to_string(height) +
                                       " of a ledger at height " +
                                       std::to_string(ledger.applied_height()));
  }
  return write(create_snapshot(ledger, height, block_id, config_.chunk_bytes));
}

Result<SnapshotManifest> Checkpoints::write(Snapshot snap) {
  const std::uint64_t height = snap.manifest.height;
  if (snap.manifest.expansions.size() > SnapshotManifest::kMaxExpansions) {
    // No peer would decode the manifest: say so rather than store an unservable checkpoint.
    return make_error(Errc::invalid_argument,
                      "checkpoint at height " + std::to_string(height) + " needs " +
                          std::to_string(snap.manifest.expansions.size()) +
                          " expansions of oversized buckets, more than a manifest may list (" +
                          std::to_string(SnapshotManifest::kMaxExpansions) + ")");
  }
  storage::WriteBatch batch;
  batch.put_checkpoint(height, codec::encode(snap.manifest));
  for (std::uint32_t i = 0; i < snap.chunks.size(); ++i) {
    batch.put_checkpoint_chunk(height, i, codec::encode(snap.chunks[i]));
  }

  OL_TRY_ASSIGN(auto existing, store_.checkpoint_heights());
  std::erase_if(existing, [&](std::uint64_t h) { return h >= height; });
  const std::size_t keep_old = config_.keep == 0 ? 0 : config_.keep - 1;
  for (std::size_t i = 0; i + keep_old < existing.size(); ++i) {
    const std::uint64_t h = existing[i];
    OL_TRY_ASSIGN(auto old, manifest(h));
    batch.delete_checkpoint(h);
    if (old) {
      for (std::uint32_t c = 0; c < old->chunks.size(); ++c) batch.delete_checkpoint_chunk(h, c);
    }
  }
  OL_TRY(store_.write(batch));
  return std::move(snap.manifest);
}

Result<std::optional<SnapshotManifest>> Checkpoints::manifest(std::uint64_t height) const {
  OL_TRY_ASSIGN(auto raw, store_.get_checkpoint(height));
  if (!raw) return std::optional<SnapshotManifest>{};
  auto m = codec::decode_exact<SnapshotManifest>(*raw);
  if (!m)
    return make_error(Errc::io, "corrupt checkpoint manifest at height " + std::to_string(height) +
                                    ": " + m.error().message);
  return std::optional<SnapshotManifest>(std::move(*m));
}

Result<std::optional<Bytes>> Checkpoints::chunk(std::uint64_t height, std::uint32_t index) const {
  return store_.get_checkpoint_chunk(height, index);
}

}  // namespace ol::sync
