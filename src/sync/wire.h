// The sync protocol over p2p::Host: the server side (answers from the store) and one
// request/response exchange for the clients.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <span>

#include "p2p/host.h"
#include "storage/store.h"
#include "sync/checkpoints.h"
#include "sync/messages.h"

namespace ol::sync {

/// Answers sync requests from the node's store. Stateless apart from the store it reads; runs on
/// the Host's io thread (reads are RocksDB point lookups).
class SyncServer {
 public:
  /// `checkpoints` may be null: then no snapshot is offered. Both must outlive the server and
  /// every stream it serves.
  SyncServer(const storage::Store& store, const Checkpoints* checkpoints)
      : store_(store), checkpoints_(checkpoints) {}

  /// Registers the handler for kProtocol on `host`.
  void attach(p2p::Host& host);

  /// The response to one request (what the handler sends). Errors only for a store failure.
  ///   GetBlocks: committed blocks from from_height with their stored QCs, up to max_count, the
  ///     tip, and the kSoftResponseBytes budget; none if from_height is above the tip or pruned.
  ///   GetSnapshotManifest: the newest checkpoint at a height h whose committed block h + 1
  ///     (the anchor carrying its state root) and that block's QC are stored.
  ///   GetSnapshotChunk: the stored chunk, if any.
  Result<Response> answer(const Request& request) const;

  /// Serves one inbound stream: one request frame, one response frame, then close.
  p2p::Task<void> serve(p2p::Host::StreamPtr stream) const;

 private:
  Result<Response> blocks(const GetBlocks& request) const;
  Result<Response> manifest() const;
  Result<Response> chunk(const GetSnapshotChunk& request) const;

  const storage::Store& store_;
  const Checkpoints* checkpoints_;
};

/// A decoded response and the size of its encoding (verify_blocks needs it).
struct Exchange {
  Response response;
  std::size_t bytes = 0;
};

/// Sends `request` to `peer` (already connected) on a new kProtocol stream and reads the
/// response. Errc::timeout if the whole exchange takes longer than `timeout` (the stream is
/// reset); Errc::decode for a malformed or oversized frame; Errc::io if the peer closes early.
p2p::Task<Result<Exchange>> request(p2p::Host& host, const p2p::PeerId& peer,
                                    const Request& request, std::chrono::milliseconds timeout);

/// The height a peer reported as its tip, and which peer.
struct PeerTip {
  p2p::PeerId peer;
  std::uint64_t height = 0;
};

/// Asks `peers` in turn, from `next` on (advanced past every peer asked, so that repeated calls
/// take turns), for the blocks after `height` (at most 2), until one answers; returns that peer
/// and the tip it reported, or nullopt when none answered within `timeout` each, or `stop`
/// became true. A peer whose connection broke (as after this process was stopped for a while)
/// costs one failed request, not the whole check.
p2p::Task<std::optional<PeerTip>> ask_tip(p2p::Host& host, std::span<const p2p::PeerId> peers,
                                          std::size_t& next, std::uint64_t height,
                                          std::chrono::milliseconds timeout,
                                          const std::atomic<bool>& stop);

}  // namespace ol::sync
