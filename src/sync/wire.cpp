#include "sync/wire.h"

#include "p2p/byte_stream.h"

namespace ol::sync {
namespace {

constexpr std::size_t kMaxRequestBytes = 64;

/// Reads one u32-LE-length-prefixed frame of at most `max_len` bytes.
p2p::Task<Result<Bytes>> read_frame(p2p::ByteStream& s, std::size_t max_len) {
  FixedBytes<4> hdr;
  OL_CO_TRY(co_await p2p::read_exact(s, hdr));
  codec::Reader r(hdr);
  const std::uint32_t len = *r.u32();
  if (len > max_len) {
    co_return codec::Reader::over_bound("sync frame length", len, max_len);
  }
  Bytes body(len);
  OL_CO_TRY(co_await p2p::read_exact(s, body));
  co_return body;
}

Result<types::Block> load_block(const storage::Store& store, std::uint64_t height) {
  OL_TRY_ASSIGN(auto raw, store.get_block_at(height));
  if (!raw) return make_error(Errc::not_found, "no committed block body at that height");
  auto b = codec::decode_exact<types::Block>(*raw);
  if (!b) return make_error(Errc::io, "stored block does not decode: " + b.error().message);
  return std::move(*b);
}

Result<types::QuorumCert> load_qc(const storage::Store& store, const Hash32& id) {
  OL_TRY_ASSIGN(auto raw, store.get_qc(id));
  if (!raw) return make_error(Errc::not_found, "no QC stored for a committed block");
  auto qc = codec::decode_exact<types::QuorumCert>(*raw);
  if (!qc) return make_error(Errc::io, "stored QC does not decode: " + qc.error().message);
  return std::move(*qc);
}

/// One deadline for a whole exchange: on expiry it resets the stream (which wakes any read or
/// write on it) or, before the stream exists, drops the connection that is not answering.
class RequestDeadline {
 public:
  RequestDeadline(const p2p::asio::any_io_executor& ex, p2p::Host& host,
                  std::chrono::milliseconds after, const p2p::PeerId& peer)
      : timer_(ex, after), state_(std::make_shared<State>()) {
    timer_.async_wait(
        [state = state_, weak = host.weak_from_this(), peer](const boost::system::error_code& ec) {
          if (ec) return;
          state->expired = true;
          if (state->stream) {
            state->stream->reset();
          } else if (auto h = weak.lock()) {
            h->disconnect(peer);
          }
        });
  }
  ~RequestDeadline() { timer_.cancel(); }
  void watch(p2p::Host::StreamPtr stream) { state_->stream = std::move(stream); }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    p2p::Host::StreamPtr stream;
    bool expired = false;
  };
  p2p::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace

void SyncServer::attach(p2p::Host& host) {
  host.set_handler(std::string(kProtocol),
                   [this](p2p::Host::StreamPtr stream) { return serve(std::move(stream)); });
}

Result<Response> SyncServer::answer(const Request& request) const {
  if (const auto* g = std::get_if<GetBlocks>(&request)) return blocks(*g);
  if (std::holds_alternative<GetSnapshotManifest>(request)) return manifest();
  return chunk(std::get<GetSnapshotChunk>(request));
}

Result<Response> SyncServer::blocks(const GetBlocks& request) const {
  Blocks out;
  OL_TRY_ASSIGN(auto tip, store_.committed_tip());
  if (!tip) return Response(std::move(out));
  out.tip_height = tip->height;
  const std::uint32_t max = std::min(request.max_count, kMaxBlocksPerRequest);
  std::size_t bytes = 1 + 8 + 4;
  for (std::uint64_t h = request.from_height;
       h <= tip->height && out.blocks.size() < max && bytes < kSoftResponseBytes; ++h) {
    if (h == 0) continue;  // genesis is nobody's to send
    auto block = load_block(store_, h);
    if (!block) {
      if (block.error().code == Errc::not_found) break;  // pruned: serve what precedes it
      return block.error();
    }
    OL_TRY_ASSIGN(auto qc, load_qc(store_, block->compute_id()));
    codec::Writer w;
    block->encode(w);
    qc.encode(w);
    bytes += w.size();
    out.blocks.push_back(CertifiedBlock{std::move(*block), std::move(qc)});
  }
  return Response(std::move(out));
}

namespace {
constexpr std::uint64_t kAnchorSearch = 256;
}  // namespace

Result<Response> SyncServer::manifest() const {
  SnapshotOffer out;
  if (checkpoints_ == nullptr) return Response(std::move(out));
  OL_TRY_ASSIGN(auto heights, checkpoints_->heights());
  for (auto it = heights.rbegin(); it != heights.rend() && !out.offer; ++it) {
    // The committed block that anchors height h comes a few heights later (proposers anchor what
    // they have executed, at most Block::kMaxExecRoots heights per block).
    for (std::uint64_t h = *it + 1; h <= *it + kAnchorSearch; ++h) {
      auto anchor = load_block(store_, h);
      if (!anchor) {
        if (anchor.error().code == Errc::not_found) break;  // not committed (yet)
        return anchor.error();
      }
      if (anchor->exec_height < *it) continue;
      if (anchor->exec_root_at(*it) == nullptr) break;  // skipped: cannot happen on a valid chain
      auto qc = load_qc(store_, anchor->compute_id());
      if (!qc) break;
      OL_TRY_ASSIGN(auto m, checkpoints_->manifest(*it));
      if (m)
        out.offer = SnapshotOffer::Offer{std::move(*m), SnapshotAnchor{std::move(*anchor), *qc}};
      break;
    }
  }
  return Response(std::move(out));
}

Result<Response> SyncServer::chunk(const GetSnapshotChunk& request) const {
  SnapshotChunkData out;
  if (checkpoints_ == nullptr) return Response(std::move(out));
  OL_TRY_ASSIGN(auto raw, checkpoints_->chunk(request.height, request.index));
  if (raw) {
    auto c = codec::decode_exact<SnapshotChunk>(*raw);
    if (!c) return make_error(Errc::io, "stored snapshot chunk does not decode");
    out.chunk = std::move(*c);
  }
  return Response(std::move(out));
}

p2p::Task<void> SyncServer::serve(p2p::Host::StreamPtr stream) const {
  auto body = co_await read_frame(*stream, kMaxRequestBytes);
  if (!body) co_return stream->reset();
  auto req = decode_request_exact(*body);
  if (!req) co_return stream->reset();
  auto resp = answer(*req);
  if (!resp) co_return stream->reset();  // our store failed; the client asks someone else
  codec::Writer w;
  encode_response(w, *resp);
  if (!co_await stream->write(frame(w.data()))) co_return;
  (void)stream->close_write();
}

// GCC 12 reports -Wmismatched-new-delete for this coroutine's frame (Asio's awaitable frames
// pair their own operator new and sized delete; GCC's inliner loses track of that). Not a bug.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
p2p::Task<Result<Exchange>> request(p2p::Host& host, const p2p::PeerId& peer, const Request& req,
                                    std::chrono::milliseconds timeout) {
  RequestDeadline deadline(co_await p2p::asio::this_coro::executor, host, timeout, peer);
  auto fail = [&](const Error& e) -> Error {
    if (deadline.expired()) return make_error(Errc::timeout, "sync request timed out");
    return e;
  };

  std::vector<std::string> protocols;  // not a braced list: GCC 12 and coroutines
  protocols.emplace_back(kProtocol);
  auto stream = co_await host.new_stream(peer, protocols);
  if (!stream) co_return fail(stream.error());
  if (deadline.expired()) {
    (*stream)->reset();
    co_return make_error(Errc::timeout, "sync request timed out");
  }
  deadline.watch(*stream);
  codec::Writer w;
  encode_request(w, req);
  if (auto s = co_await (*stream)->write(frame(w.data())); !s) co_return fail(s.error());
  (void)(*stream)->close_write();
  auto body = co_await read_frame(**stream, kMaxFrameBytes);
  if (!body) {
    (*stream)->reset();
    co_return fail(body.error());
  }
  auto resp = decode_response_exact(*body);
  (*stream)->reset();  // one exchange per stream; anything more from the peer is unwanted
  if (!resp) co_return resp.error();
  co_return Exchange{std::move(*resp), body->size()};
}

p2p::Task<std::optional<PeerTip>> ask_tip(p2p::Host& host, std::span<const p2p::PeerId> peers,
                                          std::size_t& next, std::uint64_t height,
                                          std::chrono::milliseconds timeout,
                                          const std::atomic<bool>& stop) {
  for (std::size_t tries = 0; tries < peers.size() && !stop; ++tries) {
    const p2p::PeerId peer = peers[next++ % peers.size()];
    auto ex = co_await request(host, peer, Request(GetBlocks{height + 1, 2}), timeout);
    if (!ex) continue;
    if (const auto* b = std::get_if<Blocks>(&ex->response)) co_return PeerTip{peer, b->tip_height};
  }
  co_return std::nullopt;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace ol::sync
