// The state commitment: a fixed-depth Merkle tree over 2^16 buckets of accounts.
//
//   key(address)     = keccak256(address)
//   bucket(address)  = the first 16 bits of key(address), big-endian (0 .. 65535)
//   bucket_hash(b)   = tagged_hash("openliquid/state/bucket/v1",
//                        u32 count || for each account of b in ascending key order:
//                        address (20) || balance (u128 LE) || nonce (u64 LE))
//                      (an empty bucket hashes u32 0: one constant, kEmptyBucket)
//   node(l, r)       = tagged_hash("openliquid/state/node/v1", l || r)
//   state_root       = the root of the complete binary tree of depth 16 whose leaves are the
//                      bucket hashes in bucket order
//
// Why this shape:
//   - It commits to the whole state, not to its history: two ledgers with the same accounts have
//     the same root whatever blocks led there, so a snapshot can be checked against a root
//     without replaying anything.
//   - Incremental: a block that touches T accounts rehashes at most T buckets and the
//     ≤ 16·T tree nodes above them (fewer: paths share their upper levels) — never the state.
//   - Chunkable: a snapshot chunk is a range of whole buckets; a verifier recomputes those bucket
//     hashes from the chunk's accounts and compares them with the manifest's, whose Merkle root
//     must be the certified state root. Keys are hashes, so buckets fill evenly (about
//     accounts / 65536 each) and chunk sizes are predictable.
//   - Domain separation: leaves and inner nodes carry different tags, so a bucket can never be
//     passed off as an inner node or vice versa; every encoding is length-prefixed or fixed-size.
//   - Why not a sparse Merkle/Patricia trie: per-account proofs for light clients would need one;
//     state sync and divergence detection do not, and this is simpler and faster. The bucket
//     layer can later become a sub-tree per bucket without changing the top 16 levels.
#pragma once

#include <span>
#include <vector>

#include "execution/account.h"

namespace ol::execution {

class StateCommitment {
 public:
  static constexpr unsigned kDepth = 16;
  static constexpr std::uint32_t kBuckets = 1u << kDepth;
  using Bucket = std::uint32_t;

  /// keccak256(address): the account's position in the commitment.
  static Hash32 key_of(const crypto::Address& address);
  static Bucket bucket_of(const Hash32& key) { return (Bucket(key[0]) << 8) | key[1]; }

  /// The hash of one bucket; `entries` must be that bucket's accounts in ascending key order.
  static Hash32 bucket_hash(std::span<const StateEntry> entries);
  static const Hash32& empty_bucket_hash();
  static Hash32 node_hash(const Hash32& left, const Hash32& right);
  /// The root over a full list of kBuckets bucket hashes (snapshot verification).
  static Result<Hash32> root_of(std::span<const Hash32> bucket_hashes);

  /// Every bucket empty.
  StateCommitment();

  /// Sets bucket `b`'s hash; the path above it is recomputed by the next root().
  void set_bucket(Bucket b, const Hash32& hash);
  /// The root, after rehashing the paths of buckets set since the last call.
  const Hash32& root();
  const Hash32& bucket(Bucket b) const { return nodes_[kBuckets + b]; }
  /// The kBuckets leaf hashes in bucket order.
  std::span<const Hash32> bucket_hashes() const { return {nodes_.data() + kBuckets, kBuckets}; }

 private:
  std::vector<Hash32> nodes_;  // heap layout: node i has children 2i, 2i+1; leaves at kBuckets+b
  std::vector<std::uint32_t> dirty_;  // leaf node indices set since the last root()
};

}  // namespace ol::execution
