// libp2p peer identity: Ed25519 identity keys, the `PublicKey` protobuf, and the PeerId derived
// from it (peer-ids spec). An Ed25519 key's protobuf is 36 bytes, so its PeerId is the *identity*
// multihash of that protobuf (0x00 0x24 || protobuf) and the key can be recovered from the id.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"

namespace ol::p2p {

/// Bitcoin-alphabet base58, as libp2p prints PeerIds.
std::string base58btc_encode(ByteView in);
/// Decodes base58btc; rejects characters outside the alphabet and inputs above `max_len` chars.
Result<Bytes> base58btc_decode(std::string_view in, std::size_t max_len = 128);

/// Marshals an Ed25519 key as the libp2p PublicKey protobuf {Type: Ed25519 (1), Data: key}.
Bytes marshal_public_key(const crypto::Ed25519PublicKey& key);
/// Bound on a PublicKey protobuf we parse (an Ed25519 one is 36 bytes; RSA ones are larger).
inline constexpr std::size_t kMaxPublicKeyBytes = 1024;
/// Parses a PublicKey protobuf; only Ed25519 keys are accepted (others: Errc::invalid_argument).
/// Unknown fields are skipped; inputs above kMaxPublicKeyBytes, truncated or lacking Type or Data
/// are Errc::decode.
Result<crypto::Ed25519PublicKey> unmarshal_public_key(ByteView pb);

class PeerId {
 public:
  PeerId() = default;
  static PeerId from_public_key(const crypto::Ed25519PublicKey& key);
  /// From multihash bytes (identity or sha2-256 multihash; at most 128 bytes).
  static Result<PeerId> from_bytes(ByteView multihash);
  /// From text: base58btc multihash ("12D3KooW...", "Qm...") or a CIDv1 with the libp2p-key
  /// codec in base32 ("bafz...") or base58btc ("z...") multibase.
  static Result<PeerId> parse(std::string_view text);

  const Bytes& bytes() const { return mh_; }
  bool empty() const { return mh_.empty(); }
  std::string to_string() const { return base58btc_encode(mh_); }
  /// The embedded Ed25519 key when this is an identity multihash of an Ed25519 PublicKey.
  std::optional<crypto::Ed25519PublicKey> public_key() const;

  auto operator<=>(const PeerId&) const = default;

 private:
  Bytes mh_;
};

/// The local node's identity: its Ed25519 key pair and the PeerId that names it.
struct Identity {
  crypto::Ed25519KeyPair key;
  PeerId peer_id;
  explicit Identity(crypto::Ed25519KeyPair k)
      : key(std::move(k)), peer_id(PeerId::from_public_key(key.public_key())) {}
  static Identity generate() { return Identity(crypto::Ed25519KeyPair::generate()); }
};

}  // namespace ol::p2p

// Keyed (crypto::keyed_hash64): a peer id costs one key pair to make, so anyone can grind ids
// that would share a bucket under a fixed hash.
template <>
struct std::hash<ol::p2p::PeerId> {
  std::size_t operator()(const ol::p2p::PeerId& p) const noexcept {
    return static_cast<std::size_t>(ol::crypto::keyed_hash64(p.bytes()));
  }
};
OL_SLOW_HASHER(std::hash<ol::p2p::PeerId>);
