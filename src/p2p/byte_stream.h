// A reliable, ordered byte stream as the upper protocols see it: a raw or Noise-secured TCP
// connection, or a yamux stream. multistream-select, identify and ping are written against this.
#pragma once

#include <span>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "p2p/asio.h"

namespace ol::p2p {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  /// Reads at least one byte into `buf` (non-empty); returns 0 at end of stream.
  virtual Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf) = 0;
  /// Writes all of `data` (or fails; the stream is then unusable).
  virtual Task<Status> write(ByteView data) = 0;
};

/// Fills `buf` completely; end of stream before that is an Errc::io error.
Task<Status> read_exact(ByteStream& s, std::span<std::uint8_t> buf);

/// Reads a varint length then that many bytes; lengths above `max_len` are an Errc::limit error.
/// Reads exactly the message and nothing past it.
Task<Result<Bytes>> read_length_prefixed(ByteStream& s, std::size_t max_len);

/// Writes varint(len) || data.
Task<Status> write_length_prefixed(ByteStream& s, ByteView data);

}  // namespace ol::p2p
