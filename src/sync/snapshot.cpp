#include "sync/snapshot.h"

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

Status SnapshotManifest::validate() const {
  if (bucket_hashes.size() != StateCommitment::kBuckets) return bad("manifest bucket count");
  std::uint64_t next = 0;
  for (const auto& c : chunks) {
    if (c.count == 0 || c.first != next) return bad("manifest chunk ranges do not tile buckets");
    next += c.count;
  }
  if (next != StateCommitment::kBuckets) return bad("manifest chunk ranges do not cover buckets");
  OL_TRY_ASSIGN(Hash32 root, StateCommitment::root_of(bucket_hashes));
  if (root != state_root) return bad("manifest bucket hashes do not hash to its state root");
  return {};
}

void SnapshotManifest::encode(codec::Writer& w) const {
  w.u64(height);
  w.fixed(block_id);
  w.fixed(state_root);
  w.vec(bucket_hashes, [](codec::Writer& ww, const Hash32& h) { ww.fixed(h); });
  w.vec(chunks, encode_range);
}

Result<SnapshotManifest> SnapshotManifest::decode(codec::Reader& r) {
  SnapshotManifest m;
  OL_TRY_ASSIGN(m.height, r.u64());
  OL_TRY_ASSIGN(m.block_id, r.fixed<32>());
  OL_TRY_ASSIGN(m.state_root, r.fixed<32>());
  OL_TRY_ASSIGN(m.bucket_hashes, r.vec<Hash32>(StateCommitment::kBuckets, 32,
                                               [](codec::Reader& rr) { return rr.fixed<32>(); }));
  OL_TRY_ASSIGN(m.chunks, r.vec<ChunkRange>(StateCommitment::kBuckets, 8, decode_range));
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

Status verify_chunk(const SnapshotManifest& manifest, std::uint32_t index,
                    const SnapshotChunk& chunk) {
  if (index >= manifest.chunks.size() || manifest.chunks[index] != chunk.range) {
    return bad("chunk range differs from the manifest's");
  }
  const Bucket end = chunk.range.first + chunk.range.count;
  std::size_t i = 0;
  std::vector<Hash32> keys;
  for (Bucket b = chunk.range.first; b < end; ++b) {
    const std::size_t begin = i;
    keys.clear();
    for (; i < chunk.entries.size(); ++i) {
      const Hash32 key = StateCommitment::key_of(chunk.entries[i].address);
      const Bucket eb = StateCommitment::bucket_of(key);
      if (eb < b) return bad("chunk accounts out of bucket order");
      if (eb > b) break;
      if (!keys.empty() && !(keys.back() < key)) return bad("chunk accounts out of key order");
      keys.push_back(key);
    }
    const auto entries = std::span(chunk.entries).subspan(begin, i - begin);
    if (StateCommitment::bucket_hash(entries) != manifest.bucket_hashes[b]) {
      return bad("chunk bucket " + std::to_string(b) + " does not match the manifest");
    }
  }
  if (i != chunk.entries.size()) return bad("chunk holds accounts outside its range");
  return {};
}

namespace {
// Chunks `walk`'s buckets (every bucket in order, empty ones included) into `s`.
template <typename Walk>
Status chunk_buckets(Snapshot& s, std::size_t chunk_bytes, const Walk& walk) {
  const std::size_t max_entries = std::max<std::size_t>(1, chunk_bytes / kEntryBytes);
  SnapshotChunk current;
  auto close = [&] {
    s.manifest.chunks.push_back(current.range);
    s.chunks.push_back(std::move(current));
    current = SnapshotChunk{};
  };
  OL_TRY(walk([&](Bucket b, std::span<const execution::StateEntry> entries) {
    // Cut before a bucket that would overflow a non-empty chunk.
    if (current.range.count > 0 && current.entries.size() + entries.size() > max_entries) close();
    if (current.range.count == 0) current.range.first = b;
    current.range.count += 1;
    current.entries.insert(current.entries.end(), entries.begin(), entries.end());
    return true;
  }));
  if (current.range.count > 0) close();
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
