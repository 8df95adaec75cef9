#include "p2p/secure_channel.h"

#include <algorithm>
#include <cstring>

namespace ol::p2p {
namespace {
constexpr std::size_t kRawCapacity = 4 * (noise::kMaxFrame + 2);
constexpr std::size_t kMinRead = noise::kMaxFrame + 2;

Error io_error(const boost::system::error_code& ec) {
  if (ec == asio::error::eof) return make_error(Errc::io, "connection closed by remote");
  return make_error(Errc::io, ec.message());
}
}  // namespace

SecureChannel::SecureChannel(tcp::socket socket) : socket_(std::move(socket)), raw_(kRawCapacity) {}

void SecureChannel::close() {
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

Task<Status> SecureChannel::fill() {
  if (raw_pos_ == raw_end_) raw_pos_ = raw_end_ = 0;
  if (raw_.size() - raw_end_ < kMinRead) {  // compact: move unconsumed bytes to the front
    std::memmove(raw_.data(), raw_.data() + raw_pos_, raw_end_ - raw_pos_);
    raw_end_ -= raw_pos_;
    raw_pos_ = 0;
  }
  boost::system::error_code ec;
  const std::size_t n =
      co_await socket_.async_read_some(asio::buffer(raw_.data() + raw_end_, raw_.size() - raw_end_),
                                       asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    eof_ = ec == asio::error::eof;
    co_return io_error(ec);
  }
  raw_end_ += n;
  co_return ok_status();
}

Task<Result<std::span<std::uint8_t>>> SecureChannel::read_frame() {
  for (;;) {
    std::size_t consumed = 0;
    auto f = noise::next_frame(ByteView(raw_.data() + raw_pos_, raw_end_ - raw_pos_), consumed);
    if (!f) co_return f.error();
    if (*f) {
      const auto body = std::span(raw_).subspan(raw_pos_ + 2, (*f)->size());
      raw_pos_ += consumed;
      co_return body;
    }
    OL_CO_TRY(co_await fill());
  }
}

Task<Status> SecureChannel::write_raw(ByteView data) {
  boost::system::error_code ec;
  co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return io_error(ec);
  co_return ok_status();
}

Task<Status> SecureChannel::write_frame(ByteView body) {
  Bytes frame;
  frame.reserve(body.size() + 2);
  frame.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  frame.push_back(static_cast<std::uint8_t>(body.size()));
  append(frame, body);
  co_return co_await write_raw(frame);
}

Task<Status> SecureChannel::handshake(bool initiator, const noise::LocalKeys& keys,
                                      std::optional<PeerId> expected) {
  noise::Handshake hs(initiator, keys);
  for (int step = 0; step < 3; ++step) {
    const bool writing = (step % 2 == 0) == initiator;
    if (writing) {
      OL_CO_TRY_ASSIGN(auto msg, hs.write_message());
      OL_CO_TRY(co_await write_frame(msg));
    } else {
      OL_CO_TRY_ASSIGN(auto msg, co_await read_frame());
      OL_CO_TRY(hs.read_message(msg, expected));
    }
  }
  std::tie(send_, recv_) = hs.split();
  remote_peer_ = hs.remote_peer();
  secured_ = true;
  co_return ok_status();
}

Task<Result<ByteView>> SecureChannel::read_view(std::size_t max) {
  if (!secured_) {  // raw mode: serve buffered bytes first
    if (raw_pos_ == raw_end_) {
      auto st = co_await fill();
      if (!st) co_return eof_ ? Result<ByteView>(ByteView{}) : Result<ByteView>(st.error());
    }
    const std::size_t n = std::min(max, raw_end_ - raw_pos_);
    const ByteView v(raw_.data() + raw_pos_, n);
    raw_pos_ += n;
    co_return v;
  }
  while (plain_pos_ == plain_end_) {
    auto frame = co_await read_frame();
    if (!frame) {
      if (eof_ && raw_pos_ == raw_end_) co_return ByteView{};  // clean end between frames
      if (eof_) co_return make_error(Errc::decode, "noise: connection ended inside a frame");
      co_return frame.error();
    }
    OL_CO_TRY_ASSIGN(auto plain, recv_.decrypt_in_place({}, *frame));
    plain_pos_ = static_cast<std::size_t>(plain.data() - raw_.data());
    plain_end_ = plain_pos_ + plain.size();
  }
  const std::size_t n = std::min(max, plain_end_ - plain_pos_);
  const ByteView v(raw_.data() + plain_pos_, n);
  plain_pos_ += n;
  co_return v;
}

Task<Result<std::size_t>> SecureChannel::read_some(std::span<std::uint8_t> buf) {
  OL_CO_TRY_ASSIGN(auto v, co_await read_view(buf.size()));
  if (!v.empty()) std::memcpy(buf.data(), v.data(), v.size());
  co_return v.size();
}

Task<Status> SecureChannel::write(ByteView data) {
  if (!secured_) co_return co_await write_raw(data);
  if (out_.empty()) out_.resize(kFramesPerWrite * (noise::kMaxFrame + 2));
  for (std::size_t off = 0; off < data.size();) {
    std::size_t used = 0;
    for (std::size_t f = 0; f < kFramesPerWrite && off < data.size(); ++f) {
      const std::size_t n = std::min(noise::kMaxPlaintext, data.size() - off);
      const std::size_t len = n + noise::kTagSize;
      out_[used] = static_cast<std::uint8_t>(len >> 8);
      out_[used + 1] = static_cast<std::uint8_t>(len);
      OL_CO_TRY(send_.encrypt_to({}, data.subspan(off, n), std::span(out_).subspan(used + 2, len)));
      used += 2 + len;
      off += n;
    }
    OL_CO_TRY(co_await write_raw(ByteView(out_.data(), used)));
  }
  co_return ok_status();
}

}  // namespace ol::p2p
