// BlockTree: the blocks above the last commit, by id, with the highest QC and the commit rule.
//
// Invariants: every block in the tree descends from the root (the highest committed block);
// heights increase by one and rounds strictly along every parent link; the highest QC certifies a
// block in the tree.
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "crypto/hash.h"
#include "types/block.h"

namespace ol::consensus {

using types::Block;
using types::QuorumCert;

/// A block committed by commit(), with a QC that certifies it.
struct CommittedBlock {
  Block block;
  QuorumCert certificate;
};

class BlockTree {
 public:
  /// A tree holding only `root`, certified by `root_qc` (genesis and its QC on first start).
  BlockTree(Block root, QuorumCert root_qc);

  const Block* find(const Hash32& id) const;
  bool contains(const Hash32& id) const { return nodes_.count(id) != 0; }

  const Block& root() const { return nodes_.at(root_id_).block; }
  const Hash32& root_id() const { return root_id_; }
  const QuorumCert& highest_qc() const { return highest_qc_; }
  std::size_t size() const { return nodes_.size(); }

  /// Adds `block` (id `id`) under its parent. Errors, tree unchanged: parent unknown
  /// (Errc::not_found), height != parent height + 1, or round not above the parent's.
  /// Inserting a block already present is a no-op success.
  Status insert(const Block& block, const Hash32& id);

  /// Records a verified QC whose block is in the tree; raises the highest QC if higher.
  /// Returns false (nothing recorded) if the block is unknown.
  bool record_qc(const QuorumCert& qc);

  /// The commit rule. A QC for block B also certifies B's parent P through B.justify; if
  /// B.round == P.round + 1 (a direct child in the next round), P is committed. Returns P's id
  /// when that yields a block not yet committed, else nothing.
  std::optional<Hash32> commit_candidate(const QuorumCert& qc) const;

  /// Commits `id` and every uncommitted ancestor, oldest first, each exactly once; `id` becomes
  /// the root and every block not descending from it is pruned. `id` must be in the tree.
  std::vector<CommittedBlock> commit(const Hash32& id, const QuorumCert& qc_for_id);

  /// `id` and its ancestors down to (excluding) height `above_height`, newest first, at most
  /// `max` blocks (serves sync requests from the tree).
  std::vector<Block> chain(const Hash32& id, types::Height above_height, std::size_t max) const;

 private:
  struct Node {
    Block block;
    std::vector<Hash32> children;
  };
  std::unordered_map<Hash32, Node, crypto::Hash32Hasher> nodes_;
  Hash32 root_id_;
  QuorumCert highest_qc_;
};

}  // namespace ol::consensus
