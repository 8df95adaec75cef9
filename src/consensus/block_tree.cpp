#include "consensus/block_tree.h"

#include <algorithm>

namespace ol::consensus {

BlockTree::BlockTree(Block root, QuorumCert root_qc) : highest_qc_(std::move(root_qc)) {
  root_id_ = root.compute_id();
  nodes_.emplace(root_id_, Node{std::move(root), {}});
}

const Block* BlockTree::find(const Hash32& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second.block;
}

Status BlockTree::insert(const Block& block, const Hash32& id) {
  if (contains(id)) return {};
  auto parent = nodes_.find(block.parent_id);
  if (parent == nodes_.end()) return make_error(Errc::not_found, "parent not in block tree");
  const Block& p = parent->second.block;
  if (block.height != p.height + 1) return make_error(Errc::verify, "height is not parent's + 1");
  if (block.round <= p.round) return make_error(Errc::verify, "round not above parent's");
  parent->second.children.push_back(id);
  nodes_.emplace(id, Node{block, {}});
  return {};
}

bool BlockTree::record_qc(const QuorumCert& qc) {
  if (!contains(qc.block_id)) return false;
  if (qc.round > highest_qc_.round) highest_qc_ = qc;
  return true;
}

std::optional<Hash32> BlockTree::commit_candidate(const QuorumCert& qc) const {
  const Block* b = find(qc.block_id);
  if (b == nullptr || b->round == 0) return std::nullopt;
  if (b->round != b->justify.round + 1) return std::nullopt;  // not a direct next-round child
  const Block* parent = find(b->parent_id);
  if (parent == nullptr || parent->height <= root().height) return std::nullopt;  // done before
  return b->parent_id;
}

std::vector<CommittedBlock> BlockTree::commit(const Hash32& id, const QuorumCert& qc_for_id) {
  // Walk down from id to the root, collecting (block, QC certifying it).
  std::vector<CommittedBlock> out;
  QuorumCert cert = qc_for_id;
  for (Hash32 cur = id; cur != root_id_;) {
    const Block& b = nodes_.at(cur).block;
    out.push_back(CommittedBlock{b, cert});
    cert = b.justify;
    cur = b.parent_id;
  }
  std::reverse(out.begin(), out.end());

  // Keep only the new root and its descendants.
  std::unordered_map<Hash32, Node, crypto::Hash32Hasher> kept;
  std::vector<Hash32> stack{id};
  while (!stack.empty()) {
    Hash32 cur = stack.back();
    stack.pop_back();
    auto node = nodes_.extract(cur);
    for (const auto& c : node.mapped().children) stack.push_back(c);
    kept.insert(std::move(node));
  }
  nodes_ = std::move(kept);
  root_id_ = id;
  if (!contains(highest_qc_.block_id)) highest_qc_ = qc_for_id;
  return out;
}

std::vector<Block> BlockTree::chain(const Hash32& id, types::Height above_height,
                                    std::size_t max) const {
  std::vector<Block> out;
  for (const Block* b = find(id); b != nullptr && b->height > above_height && out.size() < max;
       b = find(b->parent_id)) {
    out.push_back(*b);
  }
  return out;
}

}  // namespace ol::consensus
