// Fuzzes snapshot manifests with expansions: the input (chunk ranges and expansions, after the
// chunk count) is grafted onto a fixed manifest whose bucket 7 is a split node with a split
// child 3, so that the expansion walk reaches its deeper paths.
// Seeds: seeds/fuzz_sync_expansions/, written by make_seeds.py.
// Properties: decoding never crashes or over-allocates; whatever decodes re-encodes to exactly
// the input; an empty chunk verifies exactly when every unit of its range is the empty leaf.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#include "sync/snapshot.h"

namespace {

using namespace ol;
using execution::StateCommitment;

// A manifest whose bucket 7 is split(E, E, E, S, E, ...) and S = split(E x 16), E the empty leaf.
const sync::SnapshotManifest& expandable() {
  static const sync::SnapshotManifest m = [] {
    sync::SnapshotManifest m;
    const Hash32 e = StateCommitment::empty_bucket_hash();
    std::array<Hash32, StateCommitment::kFanout> kids;
    kids.fill(e);
    const Hash32 inner = StateCommitment::split_hash(kids);
    kids[3] = inner;
    m.bucket_hashes.assign(StateCommitment::kBuckets, e);
    m.bucket_hashes[7] = StateCommitment::split_hash(kids);
    m.state_root = *StateCommitment::root_of(m.bucket_hashes);
    return m;
  }();
  return m;
}

// The encoding of expandable() up to (not including) its chunk count.
const Bytes& expandable_prefix() {
  static const Bytes prefix = [] {
    codec::Writer w;
    expandable().encode(w);
    Bytes all = w.take();
    all.resize(all.size() - 4);  // no chunks, no expansions: just the count
    return all;
  }();
  return prefix;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes bytes = expandable_prefix();
  bytes.insert(bytes.end(), data, data + size);
  auto m = codec::decode_exact<sync::SnapshotManifest>(bytes);
  if (!m) return 0;
  codec::Writer w;
  m->encode(w);
  if (!std::equal(w.data().begin(), w.data().end(), bytes.begin(), bytes.end())) std::abort();
  // The expansion walk (validate() adds the fixed 16-level root over the bucket hashes).
  auto units = m->units();
  if (!units) return 0;
  // A unit's hash is the empty leaf's unless it is bucket 7 or its child 3 left unexpanded:
  // an empty chunk verifies exactly when its range lies within the units and holds no such one.
  for (std::uint32_t i = 0; i < m->chunks.size() && i < 4; ++i) {
    sync::SnapshotChunk c;
    c.range = m->chunks[i];
    const std::uint64_t end = std::uint64_t{c.range.first} + c.range.count;
    bool all_empty = end <= units->size();
    for (std::uint64_t u = c.range.first; all_empty && u < end; ++u) {
      all_empty = (*units)[u].hash == StateCommitment::empty_bucket_hash();
    }
    if (sync::verify_chunk(*m, i, c).ok() != all_empty) std::abort();
  }
  return 0;
}
