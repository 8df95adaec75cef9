// BlockSync: catches a node up from its last trusted committed block by asking peers for
// committed blocks in batches, accepting only what the two-chain rule proves committed, and
// handing those blocks, in height order, to the node for execution. Certified blocks whose proof
// has not come yet (their direct child is in a later batch: one or two large blocks fill a
// response, or a run of timeouts left no two consecutive rounds) are kept and proven by a later
// batch from the same peer, up to kMaxPendingBytes.
//
// Peer policy: a peer is asked until it has nothing more to give, or until what it sent brings
// this node within kTipSlack blocks of the tip it reported in that answer: then it is done.
// (Without that second rule a chain that commits a block faster than a request's round trip, as
// on a wide-area network or a loaded machine, would keep a run asking for one more block
// forever.) A peer that sends a bad block, a bad QC, a truncated batch, an undecodable frame,
// or nothing within the request timeout is dropped for the rest of this run, and the next peer
// is asked for the same range. A peer with nothing above what we have from it (it is at or
// below our height, or its last blocks await their commit proof) is done for this run but not
// blamed. The run ends when every peer is dropped or done.
//
// The last committed block or two of the chain are usually not provable from committed blocks
// alone (the QC that commits them certifies a block that is not committed yet), so sync stops
// one or two blocks short of a peer's tip; consensus (its own SyncRequest) delivers those.
//
// Threading: run() on the Host's io thread. `deliver` runs there too; the node may hand the
// blocks to its core thread from it, but must return only once they are executed and durable,
// or return an error (which stops the run).
#pragma once

#include <functional>

#include "sync/verify.h"
#include "sync/wire.h"

namespace ol::sync {

struct BlockSyncConfig {
  std::uint32_t batch = 256;  // blocks per request (2 .. kMaxBlocksPerRequest)
  std::chrono::milliseconds request_timeout{10'000};
};

struct DroppedPeer {
  p2p::PeerId peer;
  Error reason;
};

struct BlockSyncReport {
  TrustedBlock tip;            // the last block delivered (or the start)
  std::uint64_t blocks = 0;    // delivered this run
  std::uint64_t requests = 0;  // sent this run
  std::vector<DroppedPeer> dropped;
};

class BlockSync {
 public:
  /// A run is done within this many blocks of a peer's reported tip: its last blocks usually
  /// await their commit proof (above).
  static constexpr std::uint64_t kTipSlack = 2;
  /// Certified blocks from one peer kept while no later block proves them committed; beyond
  /// this the peer is dropped for the run (a chain this long without two consecutive certified
  /// rounds is not one honest validators produce; consensus's own block requests remain).
  static constexpr std::size_t kMaxPendingBytes = 128u << 20;

  /// Executes and persists blocks in order; an error stops the run and is returned by it.
  using Deliver = std::function<Status(std::vector<CertifiedBlock> blocks)>;

  /// `host` and `set` must outlive the BlockSync. `start` is the newest block this node knows is
  /// committed (its store's tip, or a verified snapshot's block).
  BlockSync(p2p::Host& host, const crypto::ValidatorSet& set, const Hash32& genesis_id,
            TrustedBlock start, BlockSyncConfig config, Deliver deliver);

  /// Syncs from `peers` (already connected) as described above. Errors: `deliver` failed, or
  /// every peer was dropped before one reported that it had nothing more (Errc::not_found);
  /// the report is kept either way (report()).
  p2p::Task<Status> run(std::vector<p2p::PeerId> peers);

  const TrustedBlock& tip() const { return report_.tip; }
  const BlockSyncReport& report() const { return report_; }

 private:
  p2p::Host& host_;
  const crypto::ValidatorSet& set_;
  Hash32 genesis_id_;
  BlockSyncConfig config_;
  Deliver deliver_;
  BlockSyncReport report_;
};

}  // namespace ol::sync
