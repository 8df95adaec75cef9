#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstring>

#include "crypto/sodium_init.h"

namespace ol::crypto {

bool ed25519_verify(const Ed25519PublicKey& key, ByteView message, const Ed25519Signature& sig) {
  detail::ensure_sodium();
  return crypto_sign_verify_detached(sig.bytes.data(), message.data(), message.size(),
                                     key.bytes.data()) == 0;
}

Ed25519KeyPair Ed25519KeyPair::generate() {
  detail::ensure_sodium();
  FixedBytes<32> seed;
  randombytes_buf(seed.data(), seed.size());
  auto kp = from_seed(seed);
  secure_wipe(seed.data(), seed.size());
  return std::move(kp).value();  // a 32-byte seed always yields a key
}

Result<Ed25519KeyPair> Ed25519KeyPair::from_seed(ByteView seed) {
  detail::ensure_sodium();
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return make_error(Errc::invalid_argument,
                      "Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size()));
  }
  Ed25519KeyPair kp;
  std::memcpy(kp.seed_.data(), seed.data(), 32);
  crypto_sign_seed_keypair(kp.public_.bytes.data(), kp.secret_.data(), kp.seed_.data());
  return kp;
}

Ed25519KeyPair::Ed25519KeyPair(const Ed25519KeyPair&) = default;
Ed25519KeyPair& Ed25519KeyPair::operator=(const Ed25519KeyPair&) = default;
Ed25519KeyPair::~Ed25519KeyPair() {
  secure_wipe(seed_.data(), seed_.size());
  secure_wipe(secret_.data(), secret_.size());
}

Ed25519Signature Ed25519KeyPair::sign(ByteView message) const {
  Ed25519Signature sig;
  crypto_sign_detached(sig.bytes.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

}  // namespace ol::crypto
