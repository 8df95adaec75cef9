#include "sync/block_sync.h"

#include <deque>

namespace ol::sync {

BlockSync::BlockSync(p2p::Host& host, const crypto::ValidatorSet& set, const Hash32& genesis_id,
                     TrustedBlock start, BlockSyncConfig config, Deliver deliver)
    : host_(host),
      set_(set),
      genesis_id_(genesis_id),
      config_(config),
      deliver_(std::move(deliver)) {
  config_.batch = std::clamp<std::uint32_t>(config_.batch, 2, kMaxBlocksPerRequest);
  report_.tip = start;
}

p2p::Task<Status> BlockSync::run(std::vector<p2p::PeerId> peers) {
  std::deque<p2p::PeerId> active(peers.begin(), peers.end());
  bool someone_done = false;
  while (!active.empty()) {
    const p2p::PeerId peer = active.front();
    const GetBlocks req{report_.tip.height + 1, config_.batch};
    ++report_.requests;
    auto exchange = co_await request(host_, peer, req, config_.request_timeout);
    Result<std::vector<CertifiedBlock>> accepted =
        make_error(Errc::decode, "response to GetBlocks is not Blocks");
    std::uint64_t peer_tip = 0;
    if (!exchange) {
      accepted = exchange.error();
    } else if (const auto* blocks = std::get_if<Blocks>(&exchange->response)) {
      accepted = verify_blocks(report_.tip, req, *blocks, exchange->bytes, set_, genesis_id_);
      peer_tip = blocks->tip_height;
    }
    if (!accepted) {
      report_.dropped.push_back(DroppedPeer{peer, accepted.error()});
      active.pop_front();
      continue;
    }
    if (accepted->empty()) {  // nothing provable above our tip from this peer
      someone_done = true;
      active.pop_front();
      continue;
    }
    const TrustedBlock next{accepted->back().block.height, accepted->back().qc.block_id};
    const std::size_t n = accepted->size();
    OL_CO_TRY(deliver_(std::move(*accepted)));
    report_.tip = next;
    report_.blocks += n;
    // Caught up with what this peer had when it answered: asking it again would only chase the
    // blocks committed since (the caller decides whether another run is worth it).
    if (report_.tip.height + kTipSlack >= peer_tip) {
      someone_done = true;
      active.pop_front();
    }
  }
  if (!someone_done) co_return make_error(Errc::not_found, "no peer left to sync from");
  co_return ok_status();
}

}  // namespace ol::sync
