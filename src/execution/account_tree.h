// AccountTree: the ledger's incremental index of the state commitment (state_commitment.h).
//
// It holds every account's key and address in commitment order, bucket by bucket, each bucket as
// the sub-tree the commitment defines (a leaf of <= kLeafMax accounts, or a split node of 16
// children), with every node's hash cached. touch() marks an account's path; rehash() recomputes
// only the marked nodes, reading balances and nonces from the ledger's account map. A touch in a
// bucket of any size thus costs one leaf (<= 64 accounts) plus 512 bytes per split level, and an
// insertion moves at most one leaf's slots.
//
// Accounts are only ever added (the ledger never deletes one), so a node only ever turns from a
// leaf into a split node, when its leaf outgrows kLeafMax.
//
// Threads: one (the ledger's core thread) for touch/rehash/rebuild; the const readers may run
// under the ledger's shared lock while no writer runs.
#pragma once

#include <array>
#include <memory>
#include <unordered_map>
#include <vector>

#include "execution/account.h"
#include "execution/state_commitment.h"

namespace ol::execution {

using AccountMap = std::unordered_map<crypto::Address, Account, crypto::AddressHasher>;

class AccountTree {
 public:
  using Bucket = StateCommitment::Bucket;

  struct Slot {
    Hash32 key;  // StateCommitment::key_of(address)
    crypto::Address address;
  };

  AccountTree();
  AccountTree(AccountTree&&) noexcept;
  AccountTree& operator=(AccountTree&&) noexcept;
  ~AccountTree();

  /// Replaces the index with `slots` (any order, distinct keys) and hashes it all, reading
  /// accounts from `accounts` (every slot's address must be in it). Returns the root.
  const Hash32& rebuild(std::vector<Slot> slots, const AccountMap& accounts);
  /// Adds the slot if its key is new, and marks its path for the next rehash().
  void touch(const Slot& slot);
  /// Rehashes the paths marked since the last call and returns the new root.
  const Hash32& rehash(const AccountMap& accounts);
  const Hash32& root() const { return root_; }

  /// The 2^16 bucket hashes, in bucket order.
  std::span<const Hash32> bucket_hashes() const { return commitment_.bucket_hashes(); }
  /// Bucket `b`'s accounts in commitment (ascending key) order.
  void bucket_entries(Bucket b, const AccountMap& accounts, std::vector<StateEntry>& out) const;
  std::size_t bucket_size(Bucket b) const;

  /// Bytes fed to SHA-256 below the buckets by the last rehash() or rebuild() (leaves and split
  /// nodes; the 16 levels above the buckets not counted): what a block's touches cost.
  std::uint64_t last_rehash_bytes() const { return last_rehash_bytes_; }
  /// The deepest split level in the index (0: every bucket is a single leaf).
  unsigned max_split_levels() const;

 private:
  struct Node;
  using Children = std::array<Node, StateCommitment::kFanout>;
  struct Node {
    Hash32 hash{};
    bool dirty = false;
    std::vector<Slot> slots;         // a leaf's accounts, ascending key (empty once split)
    std::unique_ptr<Children> kids;  // a split node's children
  };

  static void build(Node& n, std::span<Slot> slots, unsigned depth);
  /// Splits leaf `n` at `depth` into children (recursively while a child is too large).
  static void split(Node& n, unsigned depth);
  const Hash32& hash_node(Node& n, unsigned depth, const AccountMap& accounts);
  static void collect(const Node& n, const AccountMap& accounts, std::vector<StateEntry>& out);
  static unsigned levels(const Node& n);
  static std::size_t size_of(const Node& n);

  std::vector<Node> buckets_;
  StateCommitment commitment_;
  std::vector<Bucket> dirty_buckets_;
  Hash32 root_{};
  std::uint64_t last_rehash_bytes_ = 0;
  std::vector<StateEntry> scratch_;
};

}  // namespace ol::execution
