#include "sync/state_sync.h"

#include <deque>

namespace ol::sync {

p2p::Task<Result<StateSyncResult>> state_sync(p2p::Host& host, std::vector<p2p::PeerId> peers,
                                              const crypto::ValidatorSet& set,
                                              const Hash32& genesis_id, storage::Store& store,
                                              const execution::Genesis& genesis,
                                              StateSyncConfig config) {
  StateSyncResult result;
  // 1. Offers.
  std::optional<SnapshotOffer::Offer> best;
  struct Offered {
    p2p::PeerId peer;
    std::uint64_t height;
    Hash32 root;
  };
  std::vector<Offered> offered;
  for (const auto& peer : peers) {
    auto ex = co_await request(host, peer, Request(GetSnapshotManifest{}), config.request_timeout);
    Status verdict = ex ? Status{} : Status(ex.error());
    const SnapshotOffer* offer = nullptr;
    if (ex) {
      offer = std::get_if<SnapshotOffer>(&ex->response);
      if (offer == nullptr) verdict = make_error(Errc::decode, "response is not a SnapshotOffer");
    }
    if (verdict && offer->offer) {
      verdict = verify_manifest(offer->offer->manifest, offer->offer->anchor, set, genesis_id);
    }
    if (!verdict) {
      result.dropped.push_back(DroppedPeer{peer, verdict.error()});
      continue;
    }
    if (!offer->offer) continue;
    const auto& m = offer->offer->manifest;
    offered.push_back(Offered{peer, m.height, m.state_root});
    if (!best || m.height > best->manifest.height) best = offer->offer;
  }
  if (!best) co_return make_error(Errc::not_found, "no peer offered a verifiable snapshot");

  const SnapshotManifest& manifest = best->manifest;
  std::deque<p2p::PeerId> holders;
  for (const auto& o : offered) {  // the same snapshot: same height and root
    if (o.height == manifest.height && o.root == manifest.state_root) holders.push_back(o.peer);
  }

  // 2. Chunks.
  OL_CO_TRY_ASSIGN(auto install, execution::StateInstall::begin(store));
  for (std::uint32_t index = 0; index < manifest.chunks.size();) {
    if (holders.empty()) {
      co_return make_error(Errc::not_found, "every peer holding the snapshot was dropped");
    }
    const p2p::PeerId peer = holders.front();
    auto ex = co_await request(host, peer, Request(GetSnapshotChunk{manifest.height, index}),
                               config.request_timeout);
    Status verdict = ex ? Status{} : Status(ex.error());
    const SnapshotChunkData* data = nullptr;
    if (ex) {
      data = std::get_if<SnapshotChunkData>(&ex->response);
      if (data == nullptr || !data->chunk) {
        verdict = make_error(Errc::not_found, "peer does not have the chunk it offered");
      }
    }
    if (verdict) verdict = verify_chunk(manifest, index, *data->chunk);
    if (!verdict) {
      result.dropped.push_back(DroppedPeer{peer, verdict.error()});
      holders.pop_front();
      continue;
    }
    OL_CO_TRY(install.add(data->chunk->entries));
    result.accounts += data->chunk->entries.size();
    ++index;
    holders.push_back(peer);  // spread the load: next chunk from the next holder
    holders.pop_front();
  }

  // 3. Done.
  OL_CO_TRY(install.finish(genesis, manifest.height, manifest.block_id, manifest.state_root));
  result.height = manifest.height;
  result.block_id = manifest.block_id;
  result.state_root = manifest.state_root;
  result.chunks = static_cast<std::uint32_t>(manifest.chunks.size());
  result.anchor = std::move(best->anchor);
  co_return result;
}

}  // namespace ol::sync
