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
  explicit SecureChannel(tcp::socket socket);

  /// Runs the Noise XX handshake; on success the channel is encrypted and remote_peer() is the
  /// authenticated PeerId. With `expected`, any other PeerId fails with Errc::verify.
  Task<Status> handshake(bool initiator, const noise::LocalKeys& keys,
                         std::optional<PeerId> expected);

  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf) override;
  /// Not reentrant: at most one write in flight (yamux serialises its frames through one writer).
  Task<Status> write(ByteView data) override;

  const PeerId& remote_peer() const { return remote_peer_; }
  bool secured() const { return secured_; }
  tcp::socket& socket() { return socket_; }
  /// Closes the socket; pending reads and writes fail.
  void close();

 private:
  Task<Status> fill();                  // reads more raw bytes (error at EOF)
  Task<Result<ByteView>> read_frame();  // next raw 2-byte-length-prefixed frame
  Task<Status> write_frame(ByteView body);

  tcp::socket socket_;
  Bytes raw_;  // received, not yet consumed bytes: raw_[raw_pos_, raw_end_)
  std::size_t raw_pos_ = 0, raw_end_ = 0;
  Bytes plain_;  // decrypted, not yet consumed: plain_[plain_pos_, end)
  std::size_t plain_pos_ = 0;
  Bytes out_;  // scratch for encrypted writes
  noise::CipherState send_, recv_;
  bool secured_ = false;
  bool eof_ = false;
  PeerId remote_peer_;
};

}  // namespace ol::p2p
