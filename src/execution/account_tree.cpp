#include "execution/account_tree.h"

#include <algorithm>

namespace ol::execution {
namespace {

constexpr unsigned kKeyBits = 256;

bool key_less(const AccountTree::Slot& s, const Hash32& k) {
  return s.key < k;
}

}  // namespace

AccountTree::AccountTree() : buckets_(StateCommitment::kBuckets) {
  root_ = commitment_.root();
}
AccountTree::AccountTree(AccountTree&&) noexcept = default;
AccountTree& AccountTree::operator=(AccountTree&&) noexcept = default;
AccountTree::~AccountTree() = default;

void AccountTree::build(Node& n, std::span<Slot> slots, unsigned depth) {
  n.dirty = true;
  if (slots.size() <= StateCommitment::kLeafMax || depth >= kKeyBits) {
    n.slots.assign(slots.begin(), slots.end());
    n.kids.reset();
    return;
  }
  n.slots.clear();
  n.kids = std::make_unique<Children>();
  const auto at = StateCommitment::child_runs(
      slots.size(), depth, [&](std::size_t i) -> const Hash32& { return slots[i].key; });
  for (unsigned c = 0; c < StateCommitment::kFanout; ++c) {
    build((*n.kids)[c], slots.subspan(at[c], at[c + 1] - at[c]),
          depth + StateCommitment::kSplitBits);
  }
}

const Hash32& AccountTree::rebuild(std::vector<Slot> slots, const AccountMap& accounts) {
  std::sort(slots.begin(), slots.end(), [](const Slot& x, const Slot& y) { return x.key < y.key; });
  buckets_.clear();
  buckets_.resize(StateCommitment::kBuckets);
  commitment_ = StateCommitment();
  dirty_buckets_.clear();
  // Sorted keys: each bucket is one contiguous run.
  std::size_t i = 0;
  while (i < slots.size()) {
    const Bucket b = StateCommitment::bucket_of(slots[i].key);
    std::size_t j = i;
    while (j < slots.size() && StateCommitment::bucket_of(slots[j].key) == b) ++j;
    build(buckets_[b], std::span(slots).subspan(i, j - i), StateCommitment::kDepth);
    dirty_buckets_.push_back(b);
    i = j;
  }
  return rehash(accounts);
}

void AccountTree::split(Node& n, unsigned depth) {
  std::vector<Slot> slots = std::move(n.slots);
  build(n, slots, depth);
}

void AccountTree::touch(const Slot& slot) {
  const Bucket b = StateCommitment::bucket_of(slot.key);
  // Down to the leaf, marking the path for the next rehash().
  Node* n = &buckets_[b];
  unsigned depth = StateCommitment::kDepth;
  n->dirty = true;
  while (n->kids) {
    n = &(*n->kids)[StateCommitment::nibble(slot.key, depth)];
    n->dirty = true;
    depth += StateCommitment::kSplitBits;
  }
  auto it = std::lower_bound(n->slots.begin(), n->slots.end(), slot.key, key_less);
  if (it == n->slots.end() || it->key != slot.key) {
    n->slots.insert(it, slot);
    if (n->slots.size() > StateCommitment::kLeafMax && depth < kKeyBits) split(*n, depth);
  }
  dirty_buckets_.push_back(b);
}

const Hash32& AccountTree::hash_node(Node& n, unsigned depth, const AccountMap& accounts) {
  if (!n.dirty) return n.hash;
  n.dirty = false;
  if (!n.kids) {
    scratch_.clear();
    for (const Slot& s : n.slots) scratch_.push_back(StateEntry{s.address, accounts.at(s.address)});
    n.hash = StateCommitment::leaf_hash(scratch_);
    last_rehash_bytes_ += 4 + scratch_.size() * (20 + kEncodedAccountSize);
    return n.hash;
  }
  std::array<Hash32, StateCommitment::kFanout> children;
  for (unsigned c = 0; c < StateCommitment::kFanout; ++c) {
    children[c] = hash_node((*n.kids)[c], depth + StateCommitment::kSplitBits, accounts);
  }
  n.hash = StateCommitment::split_hash(children);
  last_rehash_bytes_ += 32 * StateCommitment::kFanout;
  return n.hash;
}

const Hash32& AccountTree::rehash(const AccountMap& accounts) {
  last_rehash_bytes_ = 0;
  std::sort(dirty_buckets_.begin(), dirty_buckets_.end());
  dirty_buckets_.erase(std::unique(dirty_buckets_.begin(), dirty_buckets_.end()),
                       dirty_buckets_.end());
  for (Bucket b : dirty_buckets_) {
    commitment_.set_bucket(b, hash_node(buckets_[b], StateCommitment::kDepth, accounts));
  }
  dirty_buckets_.clear();
  root_ = commitment_.root();
  return root_;
}

void AccountTree::collect(const Node& n, const AccountMap& accounts, std::vector<StateEntry>& out) {
  if (!n.kids) {
    for (const Slot& s : n.slots) out.push_back(StateEntry{s.address, accounts.at(s.address)});
    return;
  }
  for (const Node& kid : *n.kids) collect(kid, accounts, out);
}

void AccountTree::bucket_entries(Bucket b, const AccountMap& accounts,
                                 std::vector<StateEntry>& out) const {
  out.clear();
  collect(buckets_[b], accounts, out);
}

std::size_t AccountTree::size_of(const Node& n) {
  if (!n.kids) return n.slots.size();
  std::size_t total = 0;
  for (const Node& kid : *n.kids) total += size_of(kid);
  return total;
}

std::size_t AccountTree::bucket_size(Bucket b) const {
  return size_of(buckets_[b]);
}

unsigned AccountTree::levels(const Node& n) {
  if (!n.kids) return 0;
  unsigned deepest = 0;
  for (const Node& kid : *n.kids) deepest = std::max(deepest, levels(kid));
  return 1 + deepest;
}

unsigned AccountTree::max_split_levels() const {
  unsigned deepest = 0;
  for (const Node& n : buckets_) {
    if (n.kids) deepest = std::max(deepest, levels(n));
  }
  return deepest;
}

}  // namespace ol::execution
