#include "sync/block_sync.h"

#include <deque>
#include <iterator>
#include <numeric>

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
  // Certified blocks above report_.tip from the current peer, chained, that no block so far
  // proves committed (with large blocks a response may hold one or two; after a run of
  // timeouts, proof may come many blocks later). Kept per peer: another peer's committed chain
  // need not extend a certified fork.
  std::vector<CertifiedBlock> pending;
  std::vector<std::size_t> pending_sizes;  // approximate encoded bytes, one per pending block
  // The newest block we have from this peer: the next request starts above it.
  const auto tail = [&] {
    return pending.empty() ? report_.tip
                           : TrustedBlock{pending.back().block.height, pending.back().qc.block_id};
  };
  const auto next_peer = [&] {
    pending.clear();
    pending_sizes.clear();
    active.pop_front();
  };
  while (!active.empty()) {
    const p2p::PeerId peer = active.front();
    const TrustedBlock from = tail();
    const GetBlocks req{from.height + 1, config_.batch};
    ++report_.requests;
    auto exchange = co_await request(host_, peer, req, config_.request_timeout);
    Result<std::vector<CertifiedBlock>> certified =
        make_error(Errc::decode, "response to GetBlocks is not Blocks");
    std::uint64_t peer_tip = 0;
    if (!exchange) {
      certified = exchange.error();
    } else if (const auto* blocks = std::get_if<Blocks>(&exchange->response)) {
      certified = verify_certified_blocks(from, req, *blocks, exchange->bytes, set_, genesis_id_);
      peer_tip = blocks->tip_height;
    }
    if (!certified) {
      report_.dropped.push_back(DroppedPeer{peer, certified.error()});
      next_peer();
      continue;
    }
    if (certified->empty()) {  // nothing above what we have from this peer
      someone_done = true;
      next_peer();
      continue;
    }
    const std::size_t per_block = exchange->bytes / certified->size();
    std::move(certified->begin(), certified->end(), std::back_inserter(pending));
    pending_sizes.resize(pending.size(), per_block);
    if (const std::size_t n = committed_prefix(pending); n > 0) {
      const TrustedBlock next{pending[n - 1].block.height, pending[n - 1].qc.block_id};
      std::vector<CertifiedBlock> proven(std::make_move_iterator(pending.begin()),
                                         std::make_move_iterator(pending.begin() + n));
      pending.erase(pending.begin(), pending.begin() + n);
      pending_sizes.erase(pending_sizes.begin(), pending_sizes.begin() + n);
      OL_CO_TRY(deliver_(std::move(proven)));
      report_.tip = next;
      report_.blocks += n;
    }
    if (const std::size_t pending_bytes =
            std::accumulate(pending_sizes.begin(), pending_sizes.end(), std::size_t{0});
        pending_bytes > kMaxPendingBytes) {
      report_.dropped.push_back(DroppedPeer{
          peer, make_error(Errc::verify, "no commit proof for " + std::to_string(pending.size()) +
                                             " certified blocks above height " +
                                             std::to_string(report_.tip.height) + " (" +
                                             std::to_string(pending_bytes >> 20) + " MiB)")});
      next_peer();
      continue;
    }
    // Caught up with what this peer had when it answered: asking it again would only chase the
    // blocks committed since (the caller decides whether another run is worth it).
    if (report_.tip.height + kTipSlack >= peer_tip || tail().height >= peer_tip) {
      someone_done = true;
      next_peer();
    }
  }
  if (!someone_done) co_return make_error(Errc::not_found, "no peer left to sync from");
  co_return ok_status();
}

}  // namespace ol::sync
