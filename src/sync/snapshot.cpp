#include "sync/snapshot.h"

#include <algorithm>

namespace ol::sync {
namespace {

using execution::StateCommitment;
using execution::StateEntry;

constexpr std::size_t kEntryBytes = 20 + execution::kEncodedAccountSize;

void encode_entry(codec::Writer& w, const StateEntry& e) {
  w.fixed(e.address.bytes);
  w.u64(static_cast<std::uint64_t>(e.account.balance));
  w.u64(static_cast<std::uint64_t>(e.account.balance >> 64));
  w.u64(e.account.nonce);
}

Result<StateEntry> decode_entry(codec::Reader& r) {
  StateEntry e;
  OL_TRY_ASSIGN(e.address.bytes, r.fixed<20>());
  OL_TRY_ASSIGN(std::uint64_t lo, r.u64());
  OL_TRY_ASSIGN(std::uint64_t hi, r.u64());
  OL_TRY_ASSIGN(e.account.nonce, r.u64());
  e.account.balance = (types::Amount(hi) << 64) | lo;
  return e;
}

void encode_range(codec::Writer& w, const ChunkRange& c) {
  w.u32(c.first);
  w.u32(c.count);
}

Result<ChunkRange> decode_range(codec::Reader& r) {
  ChunkRange c;
  OL_TRY_ASSIGN(c.first, r.u32());
  OL_TRY_ASSIGN(c.count, r.u32());
  return c;
}

Error bad(const std::string& what) {
  return make_error(Errc::verify, what);
}

}  // namespace

namespace {

void encode_expansion(codec::Writer& w, const SnapshotExpansion& x) {
  w.u32(x.bucket);
  w.bytes(x.path);
  for (const auto& h : x.children) w.fixed(h);
}

Result<SnapshotExpansion> decode_expansion(codec::Reader& r) {
  SnapshotExpansion x;
  OL_TRY_ASSIGN(x.bucket, r.u32());
  OL_TRY_ASSIGN(Bytes path, r.bytes(SnapshotExpansion::kMaxPath));
  x.path.assign(path.begin(), path.end());
  for (auto& h : x.children) {
    OL_TRY_ASSIGN(h, r.fixed<32>());
  }
  return x;
}

constexpr std::uint32_t kExpandedFlag = 0x8000'0000u;
constexpr std::size_t kMinExpansionBytes = 4 + 4 + 32 * StateCommitment::kFanout;

std::string describe(Bucket bucket, std::span<const std::uint8_t> path) {
  std::string s = "bucket " + std::to_string(bucket);
  if (!path.empty()) {
    s += " sub-tree ";
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (i > 0) s += '.';
      s += std::to_string(path[i]);
    }
  }
  return s;
}

// Walks the expansions in pre-order, turning each expanded node into its children, and keeps
// the units whose index lies in [first, end).
class UnitWalk {
 public:
  UnitWalk(const SnapshotManifest& m, std::uint64_t first, std::uint64_t end)
      : m_(m), first_(first), end_(end) {}

  Result<std::vector<SnapshotUnit>> run() {
    const std::uint64_t total =
        StateCommitment::kBuckets + m_.expansions.size() * (StateCommitment::kFanout - 1);
    units_.reserve(static_cast<std::size_t>(std::min(end_, total) - std::min(first_, total)));
    for (Bucket b = 0; b < StateCommitment::kBuckets; ++b) {
      path_.clear();
      OL_TRY(visit(b, m_.bucket_hashes[b]));
    }
    if (next_ != m_.expansions.size()) {
      return bad("manifest expansion " + std::to_string(next_) +
                 " is out of order or below a node that is not expanded");
    }
    return std::move(units_);
  }

 private:
  bool expanded_here(Bucket b) const {
    if (next_ >= m_.expansions.size()) return false;
    const auto& x = m_.expansions[next_];
    return x.bucket == b && x.path == path_;
  }

  Status visit(Bucket b, const Hash32& hash) {
    if (!expanded_here(b)) {
      if (index_ >= first_ && index_ < end_) units_.push_back(SnapshotUnit{b, path_, hash});
      ++index_;
      return {};
    }
    const SnapshotExpansion& x = m_.expansions[next_++];
    if (StateCommitment::split_hash(x.children) != hash) {
      return bad("manifest expansion of " + describe(b, path_) +
                 " does not hash to the node it expands");
    }
    for (unsigned c = 0; c < StateCommitment::kFanout; ++c) {
      path_.push_back(static_cast<std::uint8_t>(c));
      OL_TRY(visit(b, x.children[c]));
      path_.pop_back();
    }
    return {};
  }

  const SnapshotManifest& m_;
  const std::uint64_t first_;
  const std::uint64_t end_;
  std::uint64_t index_ = 0;  // units walked so far
  std::size_t next_ = 0;     // expansions walked so far
  std::vector<std::uint8_t> path_;
  std::vector<SnapshotUnit> units_;
};

}  // namespace

Result<std::vector<SnapshotUnit>> SnapshotManifest::units() const {
  return units(0, kMaxUnits);
}

Result<std::vector<SnapshotUnit>> SnapshotManifest::units(std::uint32_t first,
                                                          std::uint32_t count) const {
  if (bucket_hashes.size() != StateCommitment::kBuckets) return bad("manifest bucket count");
  if (expansions.size() > kMaxExpansions) return bad("manifest has too many expansions");
  for (const auto& x : expansions) {
    // Bounds the walk's depth, and a nibble over 15 could never match a child's path.
    if (x.path.size() > SnapshotExpansion::kMaxPath) return bad("manifest expansion too deep");
    for (auto n : x.path) {
      if (n >= StateCommitment::kFanout) return bad("manifest expansion path nibble over 15");
    }
  }
  return UnitWalk(*this, first, std::uint64_t{first} + count).run();
}

Status SnapshotManifest::validate() const {
  OL_TRY_ASSIGN(const auto units, this->units());
  std::uint64_t next = 0;
  for (const auto& c : chunks) {
    if (c.count == 0 || c.first != next) return bad("manifest chunk ranges do not tile units");
    next += c.count;
  }
  if (next != units.size()) return bad("manifest chunk ranges do not cover the units");
  OL_TRY_ASSIGN(Hash32 root, StateCommitment::root_of(bucket_hashes));
  if (root != state_root) return bad("manifest bucket hashes do not hash to its state root");
  return {};
}

void SnapshotManifest::encode(codec::Writer& w) const {
  w.u64(height);
  w.fixed(block_id);
  w.fixed(state_root);
  w.vec(bucket_hashes, [](codec::Writer& ww, const Hash32& h) { ww.fixed(h); });
  // The chunk count's top bit says that expansions follow the chunks. Without expansions the
  // manifest encodes exactly as it did before they existed (stored checkpoints, older peers).
  const bool expanded = !expansions.empty();
  w.u32(static_cast<std::uint32_t>(chunks.size()) | (expanded ? kExpandedFlag : 0));
  for (const auto& c : chunks) encode_range(w, c);
  if (expanded) w.vec(expansions, encode_expansion);
}

Result<SnapshotManifest> SnapshotManifest::decode(codec::Reader& r) {
  SnapshotManifest m;
  OL_TRY_ASSIGN(m.height, r.u64());
  OL_TRY_ASSIGN(m.block_id, r.fixed<32>());
  OL_TRY_ASSIGN(m.state_root, r.fixed<32>());
  OL_TRY_ASSIGN(m.bucket_hashes, r.vec<Hash32>(StateCommitment::kBuckets, 32,
                                               [](codec::Reader& rr) { return rr.fixed<32>(); }));
  OL_TRY_ASSIGN(const std::uint32_t chunk_field, r.u32());
  const bool expanded = (chunk_field & kExpandedFlag) != 0;
  const std::uint32_t count = chunk_field & ~kExpandedFlag;
  if (count > kMaxUnits) {
    return make_error(Errc::decode, "manifest chunk count " + std::to_string(count) +
                                        " over the bound " + std::to_string(kMaxUnits));
  }
  if (count > r.remaining() / 8) return make_error(Errc::decode, "manifest chunks truncated");
  m.chunks.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    OL_TRY_ASSIGN(auto c, decode_range(r));
    m.chunks.push_back(c);
  }
  if (expanded) {
    OL_TRY_ASSIGN(m.expansions,
                  r.vec<SnapshotExpansion>(kMaxExpansions, kMinExpansionBytes, decode_expansion));
    // One encoding per manifest: no expansions is written without the flag.
    if (m.expansions.empty())
      return make_error(Errc::decode, "manifest flags an empty expansion list");
  }
  return m;
}

void SnapshotChunk::encode(codec::Writer& w) const {
  encode_range(w, range);
  w.vec(entries, encode_entry);
}

Result<SnapshotChunk> SnapshotChunk::decode(codec::Reader& r) {
  SnapshotChunk c;
  OL_TRY_ASSIGN(c.range, decode_range(r));
  OL_TRY_ASSIGN(c.entries, r.vec<StateEntry>(kMaxEntries, kEntryBytes, decode_entry));
  return c;
}

void SnapshotAnchor::encode(codec::Writer& w) const {
  block.encode(w);
  qc.encode(w);
}

Result<SnapshotAnchor> SnapshotAnchor::decode(codec::Reader& r) {
  SnapshotAnchor a;
  OL_TRY_ASSIGN(a.block, types::Block::decode(r));
  OL_TRY_ASSIGN(a.qc, types::QuorumCert::decode(r));
  return a;
}

Status verify_manifest(const SnapshotManifest& manifest, const SnapshotAnchor& anchor,
                       const crypto::ValidatorSet& set, const Hash32& genesis_id) {
  OL_TRY(manifest.validate());
  const types::Block& b = anchor.block;
  OL_TRY(b.validate_shape());
  const Hash32* entry = b.exec_root_at(manifest.height);
  if (entry == nullptr) return bad("anchor block does not anchor the snapshot's height");
  if (*entry != types::exec_commitment(manifest.block_id, manifest.state_root)) {
    return bad("anchor block anchors another block or state root at the snapshot's height");
  }
  if (anchor.qc.block_id != b.compute_id() || anchor.qc.round != b.round) {
    return bad("anchor QC does not certify the anchor block");
  }
  return anchor.qc.verify(set, genesis_id);
}

namespace {

// Where `key` falls against `unit`'s key range: < 0 before it, 0 inside, > 0 after.
int compare_to_unit(const Hash32& key, const SnapshotUnit& unit) {
  const Bucket kb = StateCommitment::bucket_of(key);
  if (kb != unit.bucket) return kb < unit.bucket ? -1 : 1;
  unsigned depth = StateCommitment::kDepth;
  for (std::uint8_t n : unit.path) {
    const unsigned kn = StateCommitment::nibble(key, depth);
    if (kn != n) return kn < n ? -1 : 1;
    depth += StateCommitment::kSplitBits;
  }
  return 0;
}

}  // namespace

Status verify_chunk(const SnapshotManifest& manifest, std::uint32_t index,
                    const SnapshotChunk& chunk) {
  if (index >= manifest.chunks.size() || manifest.chunks[index] != chunk.range) {
    return bad("chunk range differs from the manifest's");
  }
  OL_TRY_ASSIGN(const auto units, manifest.units(chunk.range.first, chunk.range.count));
  if (units.size() != chunk.range.count) {
    return bad("chunk range lies outside the manifest's units");
  }
  std::vector<Hash32> keys;
  keys.reserve(chunk.entries.size());
  for (const auto& e : chunk.entries) {
    keys.push_back(StateCommitment::key_of(e.address));
    if (keys.size() > 1 && !(keys[keys.size() - 2] < keys.back())) {
      return bad("chunk accounts out of key order");
    }
  }
  std::size_t i = 0;
  for (const SnapshotUnit& unit : units) {
    const std::size_t begin = i;
    for (; i < keys.size(); ++i) {
      const int where = compare_to_unit(keys[i], unit);
      if (where < 0)
        return bad("chunk holds an account before its " + describe(unit.bucket, unit.path));
      if (where > 0) break;
    }
    const std::size_t n = i - begin;
    const unsigned depth = static_cast<unsigned>(StateCommitment::kDepth +
                                                 StateCommitment::kSplitBits * unit.path.size());
    const Hash32 got = StateCommitment::subtree_hash(std::span(chunk.entries).subspan(begin, n),
                                                     std::span(keys).subspan(begin, n), depth);
    if (got != unit.hash) {
      return bad("chunk " + describe(unit.bucket, unit.path) + " does not match the manifest");
    }
  }
  if (i != chunk.entries.size()) return bad("chunk holds accounts outside its range");
  return {};
}

namespace {

// Cuts units into chunks of at most `max_entries` accounts, expanding buckets that exceed it.
class Chunker {
 public:
  Chunker(Snapshot& s, std::size_t chunk_bytes)
      // At least kLeafMax, so that a node too large for a chunk is always a split node.
      : s_(s),
        max_entries_(std::clamp(chunk_bytes / kEntryBytes, StateCommitment::kLeafMax,
                                SnapshotChunk::kMaxEntries)) {}

  bool bucket(Bucket b, std::span<const StateEntry> entries) {
    if (entries.size() <= max_entries_) {
      unit(entries);
      return true;
    }
    std::vector<Hash32> keys;
    keys.reserve(entries.size());
    for (const auto& e : entries) keys.push_back(StateCommitment::key_of(e.address));
    std::vector<std::uint8_t> path;
    expand(b, path, entries, keys, StateCommitment::kDepth);
    return true;
  }

  void finish() {
    if (current_.range.count > 0) close();
  }

 private:
  void unit(std::span<const StateEntry> entries) {
    // Cut before a unit that would overflow a non-empty chunk.
    if (current_.range.count > 0 && current_.entries.size() + entries.size() > max_entries_) {
      close();
    }
    if (current_.range.count == 0) current_.range.first = next_unit_;
    current_.range.count += 1;
    ++next_unit_;
    current_.entries.insert(current_.entries.end(), entries.begin(), entries.end());
  }

  void close() {
    s_.manifest.chunks.push_back(current_.range);
    s_.chunks.push_back(std::move(current_));
    current_ = SnapshotChunk{};
  }

  // `entries` (> max_entries_, so a split node) share `depth` bits: list the node, then its
  // children in key order, expanding those still too large. Returns the node's hash; each node
  // below is hashed once (an expanded child's hash comes from its own expansion).
  Hash32 expand(Bucket b, std::vector<std::uint8_t>& path, std::span<const StateEntry> entries,
                std::span<const Hash32> keys, unsigned depth) {
    const auto at = StateCommitment::child_runs(
        keys.size(), depth, [&](std::size_t i) -> const Hash32& { return keys[i]; });
    // Pre-order: the node is listed before its children, its child hashes filled in after.
    const std::size_t index = s_.manifest.expansions.size();
    s_.manifest.expansions.push_back(SnapshotExpansion{b, path, {}});
    std::array<Hash32, StateCommitment::kFanout> children;
    for (unsigned c = 0; c < StateCommitment::kFanout; ++c) {
      const std::size_t len = at[c + 1] - at[c];
      const auto child = entries.subspan(at[c], len);
      const auto child_keys = keys.subspan(at[c], len);
      const unsigned below = depth + StateCommitment::kSplitBits;
      if (child.size() <= max_entries_) {
        children[c] = StateCommitment::subtree_hash(child, child_keys, below);
        unit(child);
        continue;
      }
      path.push_back(static_cast<std::uint8_t>(c));
      children[c] = expand(b, path, child, child_keys, below);
      path.pop_back();
    }
    s_.manifest.expansions[index].children = children;
    return StateCommitment::split_hash(children);
  }

  Snapshot& s_;
  std::size_t max_entries_;
  SnapshotChunk current_;
  std::uint32_t next_unit_ = 0;
};

// Chunks `walk`'s buckets (every bucket in order, empty ones included) into `s`.
template <typename Walk>
Status chunk_buckets(Snapshot& s, std::size_t chunk_bytes, const Walk& walk) {
  Chunker chunker(s, chunk_bytes);
  OL_TRY(walk([&](Bucket b, std::span<const execution::StateEntry> entries) {
    return chunker.bucket(b, entries);
  }));
  chunker.finish();
  return {};
}
}  // namespace

Snapshot create_snapshot(const execution::Ledger& ledger, std::uint64_t height,
                         const Hash32& block_id, std::size_t chunk_bytes) {
  Snapshot s;
  s.manifest.height = height;
  s.manifest.block_id = block_id;
  s.manifest.state_root = ledger.state_root();
  s.manifest.bucket_hashes = ledger.bucket_hashes();
  // Walking the in-memory ledger cannot fail.
  (void)chunk_buckets(s, chunk_bytes, [&](const auto& visit) -> Status {
    ledger.visit_buckets(0, StateCommitment::kBuckets, visit);
    return {};
  });
  return s;
}

StateCut cut_state(const execution::Ledger& ledger, const storage::Store& store,
                   std::uint64_t height, const Hash32& block_id) {
  return StateCut{height, block_id, ledger.state_root(), ledger.bucket_hashes(),
                  store.state_view()};
}

Result<Snapshot> create_snapshot(const StateCut& cut, std::size_t chunk_bytes) {
  Snapshot s;
  s.manifest.height = cut.height;
  s.manifest.block_id = cut.block_id;
  s.manifest.state_root = cut.state_root;
  s.manifest.bucket_hashes = cut.bucket_hashes;
  OL_TRY(chunk_buckets(s, chunk_bytes, [&](const auto& visit) {
    return execution::Ledger::visit_stored_buckets(*cut.view, visit);
  }));
  return s;
}

}  // namespace ol::sync
