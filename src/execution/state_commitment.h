// The state commitment: a fixed-depth Merkle tree over 2^16 buckets of accounts, each bucket a
// 16-ary sub-tree once it holds more than kLeafMax accounts.
//
//   key(address)     = keccak256(address)
//   bucket(address)  = the first 16 bits of key(address), big-endian (0 .. 65535)
//   sub(S, d)        = the hash of a set S of accounts whose keys share their first d bits:
//                      if |S| <= kLeafMax (64):
//                        leaf(S) = tagged_hash("openliquid/state/bucket/v1",
//                                    u32 |S| || for each account of S in ascending key order:
//                                    address (20) || balance (u128 LE) || nonce (u64 LE))
//                      otherwise (split on the key's next 4 bits, the nibble at bit d):
//                        tagged_hash("openliquid/state/split/v1",
//                                    sub(S_0, d+4) || ... || sub(S_15, d+4))
//                        where S_i = the accounts of S whose nibble at bit d is i
//   bucket_hash(b)   = sub(accounts of b, 16)   (an empty bucket is leaf({}): kEmptyBucket)
//   node(l, r)       = tagged_hash("openliquid/state/node/v1", l || r)
//   state_root       = the root of the complete binary tree of depth 16 whose leaves are the
//                      bucket hashes in bucket order
//
// Why this shape:
//   - It commits to the whole state, not to its history: two ledgers with the same accounts have
//     the same root whatever blocks led there, so a snapshot can be checked against a root
//     without replaying anything.
//   - Incremental: a block that touches T accounts rehashes at most T leaves of <= 64 accounts,
//     the split nodes above them and the <= 16·T tree nodes above their buckets — never the
//     state, and never a whole bucket.
//   - Bounded under grinding: buckets fill evenly (about accounts / 65536 each, so below 4
//     million accounts a bucket is almost always a single leaf, hashed as v1 always did), but an
//     address is chosen by whoever sends to it, and ~65,536 Keccaks buy one more address in a
//     chosen bucket. A flat bucket would then cost a rehash of all its accounts on every touch,
//     and could outgrow a snapshot chunk. With the split, each further level costs an attacker
//     16× more per address, and a touch costs one leaf plus 512 bytes per level.
//   - Chunkable: a snapshot chunk is a range of whole buckets, or of sub-trees of a bucket too
//     large for one chunk (sync/snapshot.h); a verifier recomputes those hashes from the chunk's
//     accounts and compares them with the manifest's, whose Merkle root must be the certified
//     state root.
//   - Domain separation: leaves, split nodes and inner nodes carry different tags, so none can
//     be passed off as another; every encoding is length-prefixed or fixed-size.
//   - Why not a sparse Merkle/Patricia trie over all 256 bits: per-account proofs for light
//     clients would need one; state sync and divergence detection do not, and this is simpler and
//     faster.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "execution/account.h"

namespace ol::execution {

class StateCommitment {
 public:
  static constexpr unsigned kDepth = 16;
  static constexpr std::uint32_t kBuckets = 1u << kDepth;
  /// A set of more accounts than this, below one key prefix, is hashed as a split node.
  static constexpr std::size_t kLeafMax = 64;
  /// A split node's children: one per value of the key's next 4 bits.
  static constexpr unsigned kFanout = 16;
  static constexpr unsigned kSplitBits = 4;
  using Bucket = std::uint32_t;

  /// keccak256(address): the account's position in the commitment.
  static Hash32 key_of(const crypto::Address& address);
  static Bucket bucket_of(const Hash32& key) { return (Bucket(key[0]) << 8) | key[1]; }

  /// The key's 4 bits at bit `depth` (a multiple of 4, < 256): the child of a split node at
  /// that depth that the key falls into.
  static unsigned nibble(const Hash32& key, unsigned depth) {
    const std::uint8_t byte = key[depth / 8];
    return depth % 8 == 0 ? byte >> 4 : byte & 0x0f;
  }

  /// The runs of a split node's children: over `n` ascending keys sharing `depth` bits
  /// (`key(i)` the i-th), child c is [at[c], at[c + 1]). at[kFanout] < n only if the keys were
  /// not so ordered.
  template <typename KeyAt>
  static std::array<std::size_t, kFanout + 1> child_runs(std::size_t n, unsigned depth,
                                                         const KeyAt& key) {
    std::array<std::size_t, kFanout + 1> at{};
    for (unsigned c = 0; c < kFanout; ++c) {
      std::size_t j = at[c];
      while (j < n && nibble(key(j), depth) == c) ++j;
      at[c + 1] = j;
    }
    return at;
  }

  /// The hash of one bucket; `entries` must be that bucket's accounts in ascending key order.
  static Hash32 bucket_hash(std::span<const StateEntry> entries);
  /// sub(S, depth) above: `entries` in ascending key order, `keys` their keys (same length),
  /// all sharing their first `depth` bits (depth a multiple of 4, >= kDepth).
  static Hash32 subtree_hash(std::span<const StateEntry> entries, std::span<const Hash32> keys,
                             unsigned depth);
  /// leaf(S): the flat form, whatever the size.
  static Hash32 leaf_hash(std::span<const StateEntry> entries);
  /// A split node over its kFanout children's hashes.
  static Hash32 split_hash(std::span<const Hash32, kFanout> children);
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
