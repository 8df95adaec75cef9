// Snapshots (checkpoints): the whole application state at one committed height, cut into chunks
// that a joining node fetches from peers and verifies one by one.
//
//   manifest = height h, the id of the committed block at h, the state root after h, the 2^16
//              bucket hashes of the state commitment (execution/state_commitment.h), the
//              expansions, and the chunk ranges: consecutive runs of units covering all of them
//   units    = the pieces a chunk holds whole, in key order: every bucket, except that a bucket
//              with more accounts than one chunk takes (about 24,000 at 1 MiB; only grinding or
//              ~10^9 accounts make one) is replaced by its 16 sub-trees, recursively while a
//              sub-tree is still too large. Each such split node is an expansion: its bucket, its
//              path of nibbles below the bucket and its 16 children's hashes, listed in pre-order
//              (parent before children, children in key order). A manifest without expansions
//              encodes as it did before they existed; with them, the chunk count's top bit is
//              set and the expansions follow the chunks.
//   chunk i  = its unit range and those units' accounts in commitment order; chunks are cut at
//              unit boundaries once they reach ~1 MiB, so none exceeds the chunk size
//
// Trust: the manifest is verified against a certified block (SnapshotAnchor) that anchors
// height h with exec_commitment(block id at h, root after h) (types::Block::exec_roots). The
// anchor is that block plus a QC certifying it, checked against the validator set; then the
// manifest's bucket hashes must hash to that root, and every chunk's accounts must hash to the
// manifest's bucket hashes for its range. A chunk is thus checked on arrival, before the rest is
// fetched.
//
// Taking one: `create_snapshot(ledger, ...)` walks the in-memory ledger on the thread that owns
// it. A node instead takes a StateCut between blocks (root, bucket hashes and a frozen view of
// the stored state: about a millisecond) and builds the snapshot from it on another thread, so
// consensus does not wait for a million accounts to be copied.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "codec/codec.h"
#include "crypto/validator_set.h"
#include "execution/ledger.h"
#include "storage/store.h"
#include "types/block.h"

namespace ol::sync {

using Bucket = execution::StateCommitment::Bucket;

struct ChunkRange {
  std::uint32_t first = 0;  // the first unit (SnapshotManifest::units)
  std::uint32_t count = 0;  // units, ≥ 1
  bool operator==(const ChunkRange&) const = default;
};

/// A split node of a bucket too large for one chunk (see above).
struct SnapshotExpansion {
  Bucket bucket = 0;
  std::vector<std::uint8_t> path;  // nibbles below the bucket, each < 16; at most kMaxPath
  std::array<Hash32, execution::StateCommitment::kFanout> children{};

  /// A key has 256 bits, a bucket takes 16 and each level 4.
  static constexpr std::size_t kMaxPath =
      (256 - execution::StateCommitment::kDepth) / execution::StateCommitment::kSplitBits;
  bool operator==(const SnapshotExpansion&) const = default;
};

/// One piece of the state that a chunk holds whole: a bucket (empty path) or a sub-tree of an
/// expanded one, with the hash its accounts must have.
struct SnapshotUnit {
  Bucket bucket = 0;
  std::vector<std::uint8_t> path;
  Hash32 hash{};
};

struct SnapshotManifest {
  std::uint64_t height = 0;
  Hash32 block_id{};
  Hash32 state_root{};
  std::vector<Hash32> bucket_hashes;          // exactly 2^16
  std::vector<SnapshotExpansion> expansions;  // pre-order; usually none
  std::vector<ChunkRange> chunks;             // consecutive, covering every unit once

  /// Bounds a decoded manifest: 4,096 expansions cover ~10^8 accounts ground into buckets.
  static constexpr std::size_t kMaxExpansions = 4096;
  static constexpr std::size_t kMaxUnits =
      execution::StateCommitment::kBuckets +
      kMaxExpansions * (execution::StateCommitment::kFanout - 1);

  /// Shape and self-consistency: 2^16 bucket hashes whose Merkle root is state_root,
  /// expansions that each hash to the node they expand, and chunk ranges that tile the units
  /// in order.
  Status validate() const;
  /// The units in key order. Errors (verify): an expansion out of pre-order, below a node that
  /// is not expanded, with a nibble over 15, or whose children do not hash to that node.
  Result<std::vector<SnapshotUnit>> units() const;
  /// The same checks, keeping only the units [first, first + count) (fewer if there are not
  /// that many): a chunk's, without holding all 65,536 or more.
  Result<std::vector<SnapshotUnit>> units(std::uint32_t first, std::uint32_t count) const;

  void encode(codec::Writer& w) const;
  static Result<SnapshotManifest> decode(codec::Reader& r);
  bool operator==(const SnapshotManifest&) const = default;
};

struct SnapshotChunk {
  ChunkRange range;
  std::vector<execution::StateEntry> entries;

  static constexpr std::size_t kMaxEntries = 180'000;  // ≈ 7.6 MiB encoded

  void encode(codec::Writer& w) const;
  static Result<SnapshotChunk> decode(codec::Reader& r);
  bool operator==(const SnapshotChunk&) const = default;
};

/// The certified block that anchors a snapshot: it anchors height `manifest.height` with
/// exec_commitment(manifest.block_id, manifest.state_root) (see types::Block::exec_roots).
struct SnapshotAnchor {
  types::Block block;
  types::QuorumCert qc;  // certifies `block`

  void encode(codec::Writer& w) const;
  static Result<SnapshotAnchor> decode(codec::Reader& r);
  bool operator==(const SnapshotAnchor&) const = default;
};

/// Ok iff the manifest validates and `anchor` proves it: anchor.block anchors manifest.height
/// with exec_commitment(manifest.block_id, manifest.state_root), and anchor.qc certifies the
/// block (same id and round, a quorum of `set` signed it). A certified block is enough (it need
/// not be committed): honest voters sign only blocks whose anchored entries equal their own.
Status verify_manifest(const SnapshotManifest& manifest, const SnapshotAnchor& anchor,
                       const crypto::ValidatorSet& set, const Hash32& genesis_id);

/// Ok iff `chunk` is chunk `index` of the (validated) manifest: same range, every account in a
/// unit of that range, keys strictly ascending, and each unit's accounts hashing to the unit's
/// hash (so nothing is missing or extra).
Status verify_chunk(const SnapshotManifest& manifest, std::uint32_t index,
                    const SnapshotChunk& chunk);

struct Snapshot {
  SnapshotManifest manifest;
  std::vector<SnapshotChunk> chunks;
};

inline constexpr std::size_t kDefaultChunkBytes = 1u << 20;

/// Cuts the ledger's current state (applied height `height`, committed block `block_id`) into a
/// snapshot with chunks of about `chunk_bytes`. Call on the core thread between blocks.
Snapshot create_snapshot(const execution::Ledger& ledger, std::uint64_t height,
                         const Hash32& block_id, std::size_t chunk_bytes = kDefaultChunkBytes);

/// A store-backed ledger's state at one committed height, held without copying it.
struct StateCut {
  std::uint64_t height = 0;
  Hash32 block_id{};
  Hash32 state_root{};
  std::vector<Hash32> bucket_hashes;
  std::unique_ptr<storage::StateView> view;  // the stored accounts at `height`
};

/// Right after block `block_id` at `height` is durable in `store`, on the thread that owns
/// `ledger` (which was opened on `store` and has applied exactly that block). Cheap: copies the
/// 2^16 bucket hashes and takes a RocksDB snapshot.
StateCut cut_state(const execution::Ledger& ledger, const storage::Store& store,
                   std::uint64_t height, const Hash32& block_id);

/// The snapshot of a cut, on any thread (the same chunks create_snapshot makes of the ledger at
/// that height). Errors: reading the stored state failed or it held a corrupt record (io).
Result<Snapshot> create_snapshot(const StateCut& cut, std::size_t chunk_bytes = kDefaultChunkBytes);

}  // namespace ol::sync
