// Fuzzes every decoder a sync peer can reach: requests, responses (blocks with QCs, snapshot
// offers, chunks), the stored manifest and chunk records, the commit notices of the qcs gossip
// topic, and the verifiers behind them.
// Properties: decoding never crashes or over-allocates; whatever decodes re-encodes to exactly
// the input; a decoded chunk or manifest goes through the verifiers without crashing.
// Manifests with expansions have a target of their own (fuzz_sync_expansions.cpp).
#include <cstdint>
#include <cstdlib>

#include "sync/messages.h"
#include "sync/verify.h"

namespace {

using namespace ol;

void same(ByteView data, const codec::Writer& w) {
  if (!std::equal(w.data().begin(), w.data().end(), data.begin(), data.end())) std::abort();
}

const crypto::ValidatorSet& validators() {
  static const crypto::ValidatorSet set = [] {
    std::vector<crypto::Ed25519PublicKey> keys;
    for (std::uint8_t i = 1; i <= 4; ++i) {
      keys.push_back(crypto::Ed25519KeyPair::from_seed(Bytes(32, i))->public_key());
    }
    return *crypto::ValidatorSet::create(std::move(keys));
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView rest(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto req = sync::decode_request_exact(rest);
      if (!req) break;
      codec::Writer w;
      sync::encode_request(w, *req);
      same(rest, w);
      break;
    }
    case 1: {
      auto resp = sync::decode_response_exact(rest);
      if (!resp) break;
      codec::Writer w;
      sync::encode_response(w, *resp);
      same(rest, w);
      if (const auto* b = std::get_if<sync::Blocks>(&*resp)) {
        const Hash32 genesis = types::Block::genesis().compute_id();
        (void)sync::verify_blocks(sync::TrustedBlock{0, genesis}, sync::GetBlocks{1, 16}, *b,
                                  rest.size(), validators(), genesis);
      }
      if (const auto* o = std::get_if<sync::SnapshotOffer>(&*resp); o && o->offer) {
        (void)sync::verify_manifest(o->offer->manifest, o->offer->anchor, validators(),
                                    types::Block::genesis().compute_id());
      }
      break;
    }
    case 2: {
      auto m = codec::decode_exact<sync::SnapshotManifest>(rest);
      if (!m) break;
      codec::Writer w;
      m->encode(w);
      same(rest, w);
      (void)m->validate();
      break;
    }
    case 3: {
      auto c = codec::decode_exact<sync::SnapshotChunk>(rest);
      if (!c) break;
      codec::Writer w;
      c->encode(w);
      same(rest, w);
      // Against an all-empty manifest with one chunk covering every bucket.
      static const sync::SnapshotManifest empty = [] {
        sync::SnapshotManifest m;
        m.bucket_hashes.assign(execution::StateCommitment::kBuckets,
                               execution::StateCommitment::empty_bucket_hash());
        m.chunks.push_back({0, execution::StateCommitment::kBuckets});
        m.state_root = *execution::StateCommitment::root_of(m.bucket_hashes);
        return m;
      }();
      (void)sync::verify_chunk(empty, 0, *c);
      break;
    }
    case 4: {  // a commit notice from the qcs gossip topic
      auto n = codec::decode_exact<sync::CommitNotice>(rest);
      if (!n) break;
      codec::Writer w;
      n->encode(w);
      same(rest, w);
      (void)sync::verify_commit_notice(*n, validators(), types::Block::genesis().compute_id());
      break;
    }
  }
  return 0;
}
