// Noise XX (Noise_XX_25519_ChaChaPoly_SHA256) as the libp2p noise spec (`/noise`) uses it:
//   -> e
//   <- e, ee, s, es, payload(responder identity)
//   -> s, se, payload(initiator identity)
// Each payload is a NoiseHandshakePayload protobuf carrying the Ed25519 identity key and its
// signature over "noise-libp2p-static-key:" || X25519 static key, binding the Noise session to a
// PeerId. Every handshake and transport message is prefixed by a 2-byte big-endian length, so no
// frame exceeds 65535 bytes. Nonces count up from zero per direction and are never reused.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "common/bytes.h"
#include "common/result.h"
#include "p2p/byte_stream.h"
#include "p2p/peer_id.h"

namespace ol::p2p::noise {

inline constexpr std::string_view kProtocolId = "/noise";
inline constexpr std::size_t kMaxFrame = 65535;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMaxPlaintext = kMaxFrame - kTagSize;

/// One direction's ChaChaPoly key and nonce counter (Noise CipherState).
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(const FixedBytes<32>& key) : key_(key), has_key_(true) {}
  ~CipherState() { secure_wipe(key_.data(), key_.size()); }
  CipherState(const CipherState&) = default;
  CipherState& operator=(const CipherState&) = default;

  bool has_key() const { return has_key_; }
  /// Writes ciphertext||tag of `plain` into `out`, which must hold exactly plain.size() + kTagSize
  /// bytes when a key is set (plain.size() without one: plain is copied through). `plain` may be
  /// the front of `out` (in place); no other overlap is allowed.
  Status encrypt_to(ByteView ad, ByteView plain, std::span<std::uint8_t> out);
  /// Authenticates and decrypts `frame` (ciphertext||tag) in place and returns the plaintext, the
  /// front of `frame` (all of it when no key is set). Errc::verify if authentication fails; the
  /// nonce then does not advance and `frame`'s contents are unspecified.
  Result<std::span<std::uint8_t>> decrypt_in_place(ByteView ad, std::span<std::uint8_t> frame);
  /// Appends ciphertext||tag of `plain` to `out` (plain copied through when no key is set).
  Status encrypt(ByteView ad, ByteView plain, Bytes& out);
  /// Appends the plaintext of `cipher` to `out`; Errc::verify if authentication fails.
  Status decrypt(ByteView ad, ByteView cipher, Bytes& out);

 private:
  FixedBytes<32> key_{};
  std::uint64_t nonce_ = 0;
  bool has_key_ = false;
};

/// The local side's long-lived Noise material: an X25519 static key and the signed libp2p
/// handshake payload for it (computed once per host, reused for every handshake).
struct LocalKeys {
  FixedBytes<32> static_secret{};
  FixedBytes<32> static_public{};
  Bytes payload;  // NoiseHandshakePayload protobuf
  static LocalKeys create(const Identity& id);
};

/// The XX handshake as a state machine with no I/O: feed it the remote's messages, send the
/// messages it writes. Message 1 carries no payload; messages 2 and 3 carry identity payloads.
class Handshake {
 public:
  Handshake(bool initiator, const LocalKeys& keys);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  /// Produces the next outgoing handshake message (without the 2-byte length prefix).
  Result<Bytes> write_message();
  /// Consumes the next incoming handshake message; verifies the identity payload when it carries
  /// one (signature over the remote static key), and the PeerId against `expected` if set.
  Status read_message(ByteView msg, const std::optional<PeerId>& expected);
  bool complete() const { return step_ == 3; }
  const PeerId& remote_peer() const { return remote_peer_; }
  /// After completion: (send, receive) cipher states for this side.
  std::pair<CipherState, CipherState> split();

 private:
  void mix_hash(ByteView data);
  void mix_key(ByteView ikm);
  Status dh_into_key(const FixedBytes<32>& secret, const FixedBytes<32>& pub);
  Status encrypt_and_hash(ByteView plain, Bytes& out);
  Status decrypt_and_hash(ByteView cipher, Bytes& out);
  Status read_remote_ephemeral(ByteView msg);
  Status write_static_and_payload(Bytes& out);
  Status read_static_and_payload(ByteView rest, const std::optional<PeerId>& expected);
  Status verify_payload(ByteView payload, const std::optional<PeerId>& expected);

  bool initiator_;
  const LocalKeys& keys_;
  int step_ = 0;  // messages processed so far (0..3)
  FixedBytes<32> h_{};
  FixedBytes<32> ck_{};
  CipherState cs_;
  FixedBytes<32> e_secret_{};
  FixedBytes<32> e_public_{};
  FixedBytes<32> re_{};  // remote ephemeral
  FixedBytes<32> rs_{};  // remote static
  PeerId remote_peer_;
};

/// Splits one encoded transport stream into frames: returns the next complete frame body (no
/// prefix) and advances `consumed`, or nullopt if more bytes are needed. Frames of length 0 or
/// shorter than the tag are rejected.
Result<std::optional<ByteView>> next_frame(ByteView in, std::size_t& consumed);

}  // namespace ol::p2p::noise
