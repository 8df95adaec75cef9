#include "execution/state_commitment.h"

#include <algorithm>
#include <array>

#include "codec/codec.h"
#include "crypto/hash.h"

namespace ol::execution {
namespace {

constexpr std::string_view kBucketTag = "openliquid/state/bucket/v1";
constexpr std::string_view kNodeTag = "openliquid/state/node/v1";
constexpr std::string_view kSplitTag = "openliquid/state/split/v1";

}  // namespace

Hash32 StateCommitment::key_of(const crypto::Address& address) {
  return crypto::keccak256(address.bytes);
}

Hash32 StateCommitment::bucket_hash(std::span<const StateEntry> entries) {
  if (entries.size() <= kLeafMax) return leaf_hash(entries);
  std::vector<Hash32> keys;
  keys.reserve(entries.size());
  for (const auto& e : entries) keys.push_back(key_of(e.address));
  return subtree_hash(entries, keys, kDepth);
}

Hash32 StateCommitment::subtree_hash(std::span<const StateEntry> entries,
                                     std::span<const Hash32> keys, unsigned depth) {
  if (entries.size() <= kLeafMax || depth >= 256) return leaf_hash(entries);
  const auto at =
      child_runs(keys.size(), depth, [&](std::size_t i) -> const Hash32& { return keys[i]; });
  // Unsorted input (a caller's bug, not hostile data: verifiers check the order first) leaves
  // entries unplaced; hash them as a leaf so the result still depends on every entry.
  if (at[kFanout] != entries.size()) return leaf_hash(entries);
  std::array<Hash32, kFanout> children;
  for (unsigned c = 0; c < kFanout; ++c) {
    const std::size_t len = at[c + 1] - at[c];
    children[c] =
        subtree_hash(entries.subspan(at[c], len), keys.subspan(at[c], len), depth + kSplitBits);
  }
  return split_hash(children);
}

Hash32 StateCommitment::split_hash(std::span<const Hash32, kFanout> children) {
  FixedBytes<32 * kFanout> all;
  for (unsigned c = 0; c < kFanout; ++c) {
    std::copy(children[c].begin(), children[c].end(), all.begin() + 32 * c);
  }
  return crypto::tagged_hash(kSplitTag, all);
}

Hash32 StateCommitment::leaf_hash(std::span<const StateEntry> entries) {
  codec::Writer w(4 + entries.size() * (20 + kEncodedAccountSize));
  w.u32(static_cast<std::uint32_t>(entries.size()));
  for (const auto& e : entries) {
    w.fixed(e.address.bytes);
    w.u64(static_cast<std::uint64_t>(e.account.balance));
    w.u64(static_cast<std::uint64_t>(e.account.balance >> 64));
    w.u64(e.account.nonce);
  }
  return crypto::tagged_hash(kBucketTag, w.data());
}

const Hash32& StateCommitment::empty_bucket_hash() {
  static const Hash32 h = bucket_hash({});
  return h;
}

Hash32 StateCommitment::node_hash(const Hash32& left, const Hash32& right) {
  FixedBytes<64> both;
  std::copy(left.begin(), left.end(), both.begin());
  std::copy(right.begin(), right.end(), both.begin() + 32);
  return crypto::tagged_hash(kNodeTag, both);
}

Result<Hash32> StateCommitment::root_of(std::span<const Hash32> bucket_hashes) {
  if (bucket_hashes.size() != kBuckets) {
    return make_error(Errc::invalid_argument, "state root needs exactly 65536 bucket hashes");
  }
  std::vector<Hash32> level(bucket_hashes.begin(), bucket_hashes.end());
  while (level.size() > 1) {
    for (std::size_t i = 0; i < level.size() / 2; ++i) {
      level[i] = node_hash(level[2 * i], level[2 * i + 1]);
    }
    level.resize(level.size() / 2);
  }
  return level[0];
}

StateCommitment::StateCommitment() : nodes_(2 * std::size_t{kBuckets}) {
  // Every subtree of empty buckets at one level has the same hash: fill level by level.
  Hash32 h = empty_bucket_hash();
  for (std::uint32_t width = kBuckets; width >= 1; width /= 2) {
    std::fill(nodes_.begin() + width, nodes_.begin() + 2 * width, h);
    h = node_hash(h, h);
  }
}

void StateCommitment::set_bucket(Bucket b, const Hash32& hash) {
  nodes_[kBuckets + b] = hash;
  dirty_.push_back(kBuckets + b);
}

const Hash32& StateCommitment::root() {
  // Level by level: sort the dirty nodes, rehash each distinct parent once.
  while (!dirty_.empty() && dirty_.front() > 1) {
    std::sort(dirty_.begin(), dirty_.end());
    std::vector<std::uint32_t> parents;
    parents.reserve(dirty_.size());
    for (std::uint32_t n : dirty_) {
      const std::uint32_t p = n / 2;
      if (!parents.empty() && parents.back() == p) continue;
      nodes_[p] = node_hash(nodes_[2 * p], nodes_[2 * p + 1]);
      parents.push_back(p);
    }
    dirty_ = std::move(parents);
  }
  dirty_.clear();
  return nodes_[1];
}

}  // namespace ol::execution
