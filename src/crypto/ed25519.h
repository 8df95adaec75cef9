// Ed25519 validator keys (libsodium): the consensus key and the libp2p identity key are one key.
#pragma once

#include <filesystem>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace ol::crypto {

struct Ed25519PublicKey {
  FixedBytes<32> bytes{};
  auto operator<=>(const Ed25519PublicKey&) const = default;
};

struct Ed25519Signature {
  FixedBytes<64> bytes{};
  bool operator==(const Ed25519Signature&) const = default;
};

/// RFC 8032 Ed25519 verification of `sig` over `message` by `key`. False for any invalid input
/// (including small-order or non-canonical keys that libsodium rejects).
bool ed25519_verify(const Ed25519PublicKey& key, ByteView message, const Ed25519Signature& sig);

/// An Ed25519 key pair. The 32-byte seed is the secret; it is wiped on destruction.
class Ed25519KeyPair {
 public:
  /// A fresh key pair from the OS random source.
  static Ed25519KeyPair generate();
  /// Deterministic key pair from a 32-byte seed (RFC 8032's "private key").
  static Result<Ed25519KeyPair> from_seed(ByteView seed);

  Ed25519KeyPair(const Ed25519KeyPair&);
  Ed25519KeyPair& operator=(const Ed25519KeyPair&);
  ~Ed25519KeyPair();

  const Ed25519PublicKey& public_key() const { return public_; }
  const FixedBytes<32>& seed() const { return seed_; }
  Ed25519Signature sign(ByteView message) const;

 private:
  Ed25519KeyPair() = default;
  FixedBytes<32> seed_{};
  FixedBytes<64> secret_{};  // libsodium's expanded form: seed || public key
  Ed25519PublicKey public_{};
};

/// Validator key file (JSON): {"type":"ed25519","seed":"<64 hex>","public_key":"<64 hex>",
/// "checksum":"<8 hex>"} where checksum is the first 4 bytes of SHA-256(seed || public_key).
/// Written with mode 0600; refuses to overwrite an existing file.
Status save_ed25519_key_file(const std::filesystem::path& path, const Ed25519KeyPair& key);

/// Loads a key file written by save_ed25519_key_file. Errors name the file and the problem: not
/// found, not JSON, wrong type, wrong seed length, public key not matching the seed, bad checksum.
Result<Ed25519KeyPair> load_ed25519_key_file(const std::filesystem::path& path);

}  // namespace ol::crypto
