// Direct-channel framing on /openliquid/consensus/1.0.0: each frame is a u32 big-endian length
// followed by that many bytes. A length above the configured bound is a protocol violation (the
// receiver closes the connection) — it is checked before any of the body is buffered.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace ol::network {

inline constexpr std::size_t kFrameHeader = 4;

/// length(data) as u32 big-endian || data. `data` must be below 4 GiB.
inline Bytes encode_frame(ByteView data) {
  Bytes out(kFrameHeader + data.size());
  const auto n = static_cast<std::uint32_t>(data.size());
  out[0] = static_cast<std::uint8_t>(n >> 24);
  out[1] = static_cast<std::uint8_t>(n >> 16);
  out[2] = static_cast<std::uint8_t>(n >> 8);
  out[3] = static_cast<std::uint8_t>(n);
  std::copy(data.begin(), data.end(), out.begin() + kFrameHeader);
  return out;
}

/// Reassembles frames from stream reads. Buffered bytes never exceed one frame (bounded by
/// `max_frame`) plus one read.
class FrameBuffer {
 public:
  explicit FrameBuffer(std::size_t max_frame) : max_(max_frame) {}

  enum class State { need_more, frame, oversized };

  void append(ByteView data) {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > (1u << 16) && pos_ * 2 > buf_.size()) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
      pos_ = 0;
    }
    ol::append(buf_, data);
  }

  /// Looks at the next frame: `frame` (then frame() views it until pop()), `need_more`, or
  /// `oversized` (the announced length is above the bound; the stream is unusable).
  State next() {
    const std::size_t have = buf_.size() - pos_;
    if (have < kFrameHeader) return State::need_more;
    const std::uint8_t* p = buf_.data() + pos_;
    len_ = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    if (len_ > max_) return State::oversized;
    return have - kFrameHeader >= len_ ? State::frame : State::need_more;
  }
  ByteView frame() const { return ByteView(buf_.data() + pos_ + kFrameHeader, len_); }
  void pop() { pos_ += kFrameHeader + len_; }
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::size_t max_;
  Bytes buf_;
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
};

}  // namespace ol::network
