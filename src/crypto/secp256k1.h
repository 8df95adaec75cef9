// secp256k1 user keys (libsecp256k1 with recovery): Ethereum-compatible signatures and addresses.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/hash.h"

namespace ol::crypto {

/// A 20-byte Ethereum address.
struct Address {
  FixedBytes<20> bytes{};
  auto operator<=>(const Address&) const = default;

  /// EIP-55 mixed-case checksum form with 0x prefix.
  std::string to_checksum_hex() const;
  /// Parses "0x" + 40 hex digits. All-lower or all-upper is accepted without a checksum; mixed
  /// case must be a valid EIP-55 checksum.
  static Result<Address> parse(std::string_view text);
};

/// Hasher for hash tables keyed by addresses, keyed like Hash32Hasher: a recipient's address is
/// any 20 bytes its sender likes, so its bytes say nothing about where it lands.
struct AddressHasher {
  std::size_t operator()(const Address& a) const noexcept {
    return static_cast<std::size_t>(keyed_hash64(a.bytes));
  }
};

/// 65 bytes: r (32) || s (32) || v (1, recovery id 0 or 1). s must be in the lower half-order.
struct RecoverableSignature {
  FixedBytes<65> bytes{};
  bool operator==(const RecoverableSignature&) const = default;
};

/// 65-byte uncompressed public key (0x04 || X || Y).
using Secp256k1PublicKey = FixedBytes<65>;

/// Ethereum address of an uncompressed public key: last 20 bytes of Keccak-256(X || Y).
Address address_of(const Secp256k1PublicKey& key);

/// Recovers the signer's public key from a signature over a 32-byte digest. Rejects a recovery
/// id above 1, r or s out of range, and high-s signatures (malleable twins).
Result<Secp256k1PublicKey> recover_public_key(const Hash32& digest,
                                              const RecoverableSignature& sig);

/// recover_public_key then address_of.
Result<Address> recover_address(const Hash32& digest, const RecoverableSignature& sig);

/// A secp256k1 secret key; wiped on destruction.
class Secp256k1Key {
 public:
  static Secp256k1Key generate();
  /// Errors if `secret` is not 32 bytes or not a valid scalar (zero or ≥ the group order).
  static Result<Secp256k1Key> from_secret(ByteView secret);

  Secp256k1Key(const Secp256k1Key&);
  Secp256k1Key& operator=(const Secp256k1Key&);
  ~Secp256k1Key();

  const FixedBytes<32>& secret() const { return secret_; }
  const Secp256k1PublicKey& public_key() const { return public_; }
  const Address& address() const { return address_; }

  /// Deterministic (RFC 6979) recoverable signature over a 32-byte digest, always low-s.
  RecoverableSignature sign(const Hash32& digest) const;

 private:
  Secp256k1Key() = default;
  FixedBytes<32> secret_{};
  Secp256k1PublicKey public_{};
  Address address_{};
};

/// User key file (JSON): {"type":"secp256k1","secret":"<64 hex>","address":"0x<EIP-55>"}, mode
/// 0600.
Status save_secp256k1_key_file(const std::filesystem::path& path, const Secp256k1Key& key);
Result<Secp256k1Key> load_secp256k1_key_file(const std::filesystem::path& path);

}  // namespace ol::crypto

OL_SLOW_HASHER(ol::crypto::AddressHasher);
