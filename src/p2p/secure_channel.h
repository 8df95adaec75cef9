// A TCP connection that starts raw (for the first multistream-select) and becomes a Noise
// transport after `handshake()`. Reads and writes are ByteStream calls; once secured, writes are
// cut into frames of at most 65535 bytes and reads authenticate every frame.
#pragma once

#include <memory>
#include <optional>

#include "p2p/byte_stream.h"
#include "p2p/noise.h"
#include "p2p/peer_id.h"

namespace ol::p2p {

class SecureChannel final : public ByteStream {
 public:
  static constexpr std::size_t kFramesPerWrite = 2;

  explicit SecureChannel(tcp::socket socket);

  /// Runs the Noise XX handshake; on success the channel is encrypted and remote_peer() is the
  /// authenticated PeerId. With `expected`, any other PeerId fails with Errc::verify.
  Task<Status> handshake(bool initiator, const noise::LocalKeys& keys,
                         std::optional<PeerId> expected);

  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf) override;
  /// Like read_some without the copy: returns between 1 and `max` (> 0) received bytes, reading
  /// and decrypting a frame if none are buffered, or an empty view at a clean end of stream. The
  /// view points into the channel's buffer and is valid until the next read call.
  Task<Result<ByteView>> read_view(std::size_t max);
  /// Not reentrant: at most one write in flight (yamux serialises its frames through one writer).
  /// Once secured, encrypts up to kFramesPerWrite frames into a buffer reused across calls and
  /// hands them to the socket in one write, so the receiver can start on the first frames while
  /// later ones are still being encrypted.
  Task<Status> write(ByteView data) override;

  /// Whether received bytes are waiting, so the next read will not touch the socket.
  bool has_buffered() const { return raw_pos_ != raw_end_ || plain_pos_ != plain_end_; }
  const PeerId& remote_peer() const { return remote_peer_; }
  bool secured() const { return secured_; }
  tcp::socket& socket() { return socket_; }
  /// Closes the socket; pending reads and writes fail.
  void close();

 private:
  Task<Status> fill();  // reads more raw bytes (error at EOF)
  // The next 2-byte-length-prefixed frame body, inside raw_ (valid until the next fill()).
  Task<Result<std::span<std::uint8_t>>> read_frame();
  Task<Status> write_frame(ByteView body);
  Task<Status> write_raw(ByteView data);

  tcp::socket socket_;
  // Received bytes. raw_[raw_pos_, raw_end_) is not yet consumed; once secured, each frame is
  // decrypted in place and its unread plaintext is raw_[plain_pos_, plain_end_), which lies
  // before raw_pos_.
  Bytes raw_;
  std::size_t raw_pos_ = 0, raw_end_ = 0;
  std::size_t plain_pos_ = 0, plain_end_ = 0;
  Bytes out_;  // encrypted frames on their way out; sized once, on the first secured write
  noise::CipherState send_, recv_;
  bool secured_ = false;
  bool eof_ = false;
  PeerId remote_peer_;
};

}  // namespace ol::p2p
