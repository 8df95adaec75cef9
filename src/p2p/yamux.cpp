#include "p2p/yamux.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace ol::p2p::yamux {
namespace {

constexpr std::uint16_t kKnownFlags = kSyn | kAck | kFin | kRst;
constexpr std::size_t kMaxChunk = 64 * 1024;     // data per frame we send
constexpr std::uint32_t kMaxRefusedInARow = 64;  // stream flood tolerance before closing

std::uint32_t get_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

Error stream_closed_error() {
  return make_error(Errc::io, "yamux: stream reset or connection closed");
}

}  // namespace

void encode_header(const Header& h, std::uint8_t out[kHeaderSize]) {
  out[0] = 0;
  out[1] = static_cast<std::uint8_t>(h.type);
  out[2] = static_cast<std::uint8_t>(h.flags >> 8);
  out[3] = static_cast<std::uint8_t>(h.flags);
  put_be32(out + 4, h.stream_id);
  put_be32(out + 8, h.length);
}

Result<Header> decode_header(ByteView in) {
  if (in.size() < kHeaderSize) return make_error(Errc::decode, "yamux: truncated header");
  if (in[0] != 0)
    return make_error(Errc::decode, "yamux: unsupported version " + std::to_string(in[0]));
  if (in[1] > 3)
    return make_error(Errc::decode, "yamux: unknown frame type " + std::to_string(in[1]));
  Header h;
  h.type = static_cast<Type>(in[1]);
  h.flags = static_cast<std::uint16_t>((in[2] << 8) | in[3]);
  if ((h.flags & ~kKnownFlags) != 0) return make_error(Errc::decode, "yamux: unknown flags");
  h.stream_id = get_be32(in.data() + 4);
  h.length = get_be32(in.data() + 8);
  if ((h.type == Type::ping || h.type == Type::go_away) && h.stream_id != 0) {
    return make_error(Errc::decode, "yamux: session frame on a stream id");
  }
  if ((h.type == Type::data || h.type == Type::window_update) && h.stream_id == 0) {
    return make_error(Errc::decode, "yamux: stream frame on stream id 0");
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Stream

Stream::Stream(std::shared_ptr<Session> session, std::uint32_t id)
    : session_(std::move(session)),
      id_(id),
      signal_(session_->executor()),
      recv_window_(session_->config_.window),
      send_window_(kInitialWindow) {}

const PeerId& Stream::remote_peer() const {
  return session_->remote_peer();
}
asio::any_io_executor Stream::executor() const {
  return session_->executor();
}

Task<Result<std::size_t>> Stream::read_some(std::span<std::uint8_t> buf) {
  auto self = session_;  // keep the session alive across the wait
  while (buf_pos_ == buf_.size()) {
    if (reset_) co_return stream_closed_error();
    if (remote_closed_) co_return std::size_t{0};
    co_await signal_.wait();
  }
  const std::size_t n = std::min(buf.size(), buf_.size() - buf_pos_);
  std::memcpy(buf.data(), buf_.data() + buf_pos_, n);
  buf_pos_ += n;
  if (buf_pos_ == buf_.size()) {
    buf_.clear();
    buf_pos_ = 0;
  } else if (buf_pos_ > kMaxChunk && buf_pos_ > buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(buf_pos_));
    buf_pos_ = 0;
  }
  // Return consumed bytes to the remote once half a window has been read, not per read, so
  // window updates stay rare while the sender never stalls on a full window.
  unacked_ += static_cast<std::uint32_t>(n);
  if (!remote_closed_ && !reset_ && unacked_ >= session_->config_.window / 2) {
    recv_window_ += unacked_;
    session_->enqueue({Type::window_update, 0, id_, unacked_});
    unacked_ = 0;
  }
  co_return n;
}

Task<Status> Stream::write(ByteView data) {
  auto self = session_;
  std::size_t off = 0;
  while (off < data.size()) {
    if (reset_ || session_->closed_) co_return stream_closed_error();
    if (local_closed_) co_return make_error(Errc::state, "yamux: write after close");
    if (send_window_ == 0) {
      co_await signal_.wait();
      continue;
    }
    if (session_->out_.size() >= session_->config_.max_send_queue) {
      co_await session_->drain_signal_.wait();
      continue;
    }
    const std::size_t n =
        std::min({data.size() - off, static_cast<std::size_t>(send_window_), kMaxChunk});
    session_->enqueue({Type::data, 0, id_, static_cast<std::uint32_t>(n)}, data.subspan(off, n));
    send_window_ -= n;
    off += n;
  }
  co_return ok_status();
}

Status Stream::close_write() {
  if (reset_ || session_->closed_) return stream_closed_error();
  if (local_closed_) return ok_status();
  local_closed_ = true;
  session_->enqueue({Type::window_update, kFin, id_, 0});
  if (finished()) session_->forget(id_);
  return ok_status();
}

void Stream::reset() {
  if (reset_) return;
  reset_ = true;
  if (!session_->closed_ && !(local_closed_ && remote_closed_)) {
    session_->enqueue({Type::window_update, kRst, id_, 0});
  }
  signal_.notify();
  session_->forget(id_);
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(std::shared_ptr<SecureChannel> channel, bool is_client, Config config)
    : channel_(std::move(channel)),
      executor_(channel_->socket().get_executor()),
      is_client_(is_client),
      config_(config),
      next_id_(is_client ? 1 : 2),
      out_signal_(executor_),
      drain_signal_(executor_) {
  config_.window = std::max(config_.window, kInitialWindow);
}

Session::~Session() = default;

void Session::start(StreamHandler on_stream, CloseHandler on_close) {
  on_stream_ = std::move(on_stream);
  on_close_ = std::move(on_close);
  auto self = shared_from_this();
  asio::co_spawn(
      executor_, [self]() { return self->read_loop(); }, asio::detached);
  asio::co_spawn(
      executor_, [self]() { return self->write_loop(); }, asio::detached);
}

Result<std::shared_ptr<Stream>> Session::open_stream() {
  if (closed_ || closing_) return make_error(Errc::state, "yamux: connection closed");
  if (remote_go_away_) return make_error(Errc::state, "yamux: remote sent GoAway");
  if (streams_.size() >= config_.max_streams)
    return make_error(Errc::limit, "yamux: stream cap reached");
  if (next_id_ > 0xfffffffdu) return make_error(Errc::limit, "yamux: stream ids exhausted");
  const std::uint32_t id = next_id_;
  next_id_ += 2;
  auto s = std::make_shared<Stream>(shared_from_this(), id);
  streams_.emplace(id, s);
  // Announce the stream together with any receive window above the spec's 256 KiB default.
  enqueue({Type::window_update, kSyn, id, config_.window - kInitialWindow});
  return s;
}

Task<Result<Clock::duration>> Session::ping() {
  auto self = shared_from_this();
  if (closed_ || closing_) co_return make_error(Errc::state, "yamux: connection closed");
  const std::uint32_t id = next_ping_++;
  auto p = std::make_shared<PendingPing>(executor_);
  pings_[id] = p;
  const auto start = Clock::now();
  enqueue({Type::ping, kSyn, 0, id});
  while (!p->answered && !closed_) co_await p->done.wait();
  pings_.erase(id);
  if (!p->answered) co_return make_error(Errc::io, "yamux: connection closed during ping");
  co_return Clock::now() - start;
}

void Session::close() {
  if (closed_ || closing_) return;
  enqueue({Type::go_away, 0, 0, static_cast<std::uint32_t>(GoAwayCode::normal)});
  closing_ = true;
  out_signal_.notify();
}

void Session::abort(GoAwayCode code, const std::string& reason) {
  if (closed_) return;
  spdlog::warn("p2p: closing connection to {}: {}", remote_peer().to_string(), reason);
  // No GoAway on this path: the Noise writer may be mid-frame, and the remote learns enough from
  // the closed socket. The reason is in our log.
  (void)code;
  fail(make_error(Errc::decode, reason));
}

void Session::enqueue(const Header& h, ByteView payload) {
  if (closed_) return;
  const bool was_empty = out_.empty();
  const std::size_t at = out_.size();
  out_.resize(at + kHeaderSize);
  encode_header(h, out_.data() + at);
  append(out_, payload);
  if (was_empty) out_signal_.notify();
}

void Session::forget(std::uint32_t id) {
  streams_.erase(id);
}

void Session::fail(const Error& e) {
  if (closed_) return;
  closed_ = true;
  channel_->close();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->reset_ = true;
    s->signal_.notify();
  }
  for (auto& [id, p] : pings_) p->done.notify();
  out_signal_.notify();
  drain_signal_.notify();
  out_.clear();
  out_.shrink_to_fit();
  if (on_close_) {
    auto cb = std::move(on_close_);
    on_close_ = nullptr;
    cb(e);
  }
  on_stream_ = nullptr;
}

Task<void> Session::write_loop() {
  auto self = shared_from_this();
  Bytes batch;
  while (!closed_) {
    if (out_.empty()) {
      if (closing_) {
        fail(make_error(Errc::state, "closed locally"));
        break;
      }
      co_await out_signal_.wait();
      continue;
    }
    batch.clear();
    std::swap(batch, out_);
    drain_signal_.notify();
    auto st = co_await channel_->write(batch);
    if (!st) {
      fail(st.error());
      break;
    }
  }
}

Task<void> Session::read_loop() {
  auto self = shared_from_this();
  std::uint8_t hdr_buf[kHeaderSize];
  Bytes payload;
  while (!closed_) {
    // A clean end of stream is only acceptable between frames.
    auto n = co_await channel_->read_some(std::span(hdr_buf, 1));
    if (!n) {
      if (!closed_) fail(n.error());
      break;
    }
    if (*n == 0) {
      if (!closed_) fail(make_error(Errc::io, "connection closed by remote"));
      break;
    }
    auto st = co_await read_exact(*channel_, std::span(hdr_buf + 1, kHeaderSize - 1));
    if (closed_) break;
    if (!st) {
      fail(st.error());
      break;
    }
    auto h = decode_header(ByteView(hdr_buf, kHeaderSize));
    if (!h) {
      abort(GoAwayCode::protocol_error, h.error().message);
      break;
    }
    payload.clear();
    if (h->type == Type::data) {
      // No data frame may exceed the receive window we ever grant, so this bounds the buffer.
      if (h->length > config_.window) {
        abort(GoAwayCode::protocol_error,
              "yamux: data frame of " + std::to_string(h->length) + " bytes exceeds the window");
        break;
      }
      // Copied straight from the channel's decrypted buffer; `payload` keeps the capacity of the
      // stream buffers it is swapped with, so steady streaming allocates nothing here.
      auto pst = co_await read_payload(h->length, payload);
      if (closed_) break;
      if (!pst) {
        fail(pst.error());
        break;
      }
    }
    auto hst = handle_frame(*h, payload);
    if (!hst) {
      abort(GoAwayCode::protocol_error, hst.error().message);
      break;
    }
    if (h->type == Type::data && channel_->has_buffered()) {
      // Let the stream's reader run (and return window) before the next frame: without this the
      // loop decrypts everything the socket holds before the application consumes any of it, and
      // the window update that lets the sender continue goes out only once this side is idle,
      // so sender and receiver take turns instead of working at the same time. (With nothing
      // buffered the next read waits on the socket, which yields anyway.)
      co_await asio::post(executor_, asio::use_awaitable);
    }
  }
}

Task<Status> Session::read_payload(std::size_t length, Bytes& payload) {
  payload.clear();
  payload.reserve(length);
  while (payload.size() < length) {
    auto v = co_await channel_->read_view(length - payload.size());
    if (!v) co_return v.error();
    if (v->empty()) co_return make_error(Errc::io, "stream ended early");
    payload.insert(payload.end(), v->begin(), v->end());
  }
  co_return ok_status();
}

Status Session::handle_frame(const Header& h, Bytes& payload) {
  switch (h.type) {
    case Type::ping:
      if (h.flags & kSyn) {
        // A peer that floods pings without reading our replies must not grow our queue forever.
        if (out_.size() > 2 * config_.max_send_queue) {
          return make_error(Errc::limit, "yamux: peer is not reading (send queue full)");
        }
        enqueue({Type::ping, kAck, 0, h.length});
      } else if (h.flags & kAck) {
        if (auto it = pings_.find(h.length); it != pings_.end()) {
          it->second->answered = true;
          it->second->done.notify();
        }
      }
      return ok_status();
    case Type::go_away:
      remote_go_away_ = true;
      if (h.length != 0) {
        return make_error(Errc::io,
                          "yamux: remote sent GoAway with error code " + std::to_string(h.length));
      }
      if (streams_.empty()) close();
      return ok_status();
    default:
      return handle_stream_frame(h, payload);
  }
}

Status Session::handle_stream_frame(const Header& h, Bytes& payload) {
  const std::uint32_t id = h.stream_id;
  auto it = streams_.find(id);
  if (h.flags & kSyn) {
    if (is_local_id(id))
      return make_error(Errc::decode, "yamux: SYN with our own stream id parity");
    if (id <= highest_remote_id_) {
      return make_error(Errc::decode, "yamux: SYN reuses stream id " + std::to_string(id));
    }
    highest_remote_id_ = id;
    if (closing_ || streams_.size() >= config_.max_streams) {
      if (++refused_in_a_row_ > kMaxRefusedInARow) {
        return make_error(Errc::limit, "yamux: stream flood (" + std::to_string(refused_in_a_row_) +
                                           " streams refused in a row)");
      }
      if (out_.size() > 2 * config_.max_send_queue) {
        return make_error(Errc::limit, "yamux: peer is not reading (send queue full)");
      }
      enqueue({Type::window_update, kRst, id, 0});
      return ok_status();
    }
    refused_in_a_row_ = 0;
    auto s = std::make_shared<Stream>(shared_from_this(), id);
    it = streams_.emplace(id, s).first;
    enqueue({Type::window_update, kAck, id, config_.window - kInitialWindow});
    if (on_stream_) on_stream_(s);
    it = streams_.find(id);  // the handler may have reset it already
    if (it == streams_.end()) return ok_status();
  } else if (it == streams_.end()) {
    // A frame for a stream that existed and is gone (we reset or finished it) is a normal race:
    // drop it. A stream id that was never opened is a protocol violation.
    const bool never_opened = is_local_id(id) ? id >= next_id_ : id > highest_remote_id_;
    if (never_opened)
      return make_error(Errc::decode, "yamux: frame for unknown stream " + std::to_string(id));
    return ok_status();
  }
  Stream& s = *it->second;
  if (h.type == Type::window_update) {
    s.send_window_ += h.length;
    if (s.send_window_ > 0xffffffffull)
      return make_error(Errc::decode, "yamux: send window overflow");
  } else if (!payload.empty()) {
    if (payload.size() > s.recv_window_) {
      return make_error(Errc::decode,
                        "yamux: stream " + std::to_string(id) + " overran its window");
    }
    if (s.remote_closed_) return make_error(Errc::decode, "yamux: data after FIN");
    s.recv_window_ -= static_cast<std::uint32_t>(payload.size());
    if (s.buf_pos_ == s.buf_.size()) {  // nothing unread: take the frame's buffer as is
      s.buf_.swap(payload);
      s.buf_pos_ = 0;
    } else {
      append(s.buf_, payload);
    }
  }
  if (h.flags & kFin) s.remote_closed_ = true;
  if (h.flags & kRst) s.reset_ = true;
  s.signal_.notify();
  if (s.finished()) forget(id);
  return ok_status();
}

}  // namespace ol::p2p::yamux
