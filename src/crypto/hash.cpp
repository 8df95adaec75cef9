#include "crypto/hash.h"

#include <cryptopp/keccak.h>
#include <sodium.h>

#include <cstdlib>
#include <new>

#include "crypto/sodium_init.h"

namespace ol::crypto {

namespace detail {
void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) std::abort();  // no usable random source: nothing can be trusted
    return true;
  }();
  (void)ready;
}
}  // namespace detail

Hash32 sha256(ByteView data) {
  Hash32 out;
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

Hash32 keccak256(ByteView data) {
  Hash32 out;
  CryptoPP::Keccak_256 h;
  h.Update(data.data(), data.size());
  h.Final(out.data());
  return out;
}

Hash32 tagged_hash(std::string_view tag, ByteView data) {
  Sha256 h;
  const std::uint8_t len = static_cast<std::uint8_t>(tag.size() > 255 ? 255 : tag.size());
  h.update(ByteView(&len, 1));
  h.update(as_bytes(tag.substr(0, len)));
  h.update(data);
  return h.finish();
}

static_assert(sizeof(crypto_hash_sha256_state) <= 128, "Sha256 state buffer too small");

Sha256::Sha256() {
  crypto_hash_sha256_init(new (state_) crypto_hash_sha256_state);
}
Sha256::~Sha256() {
  secure_wipe(state_, sizeof(state_));
}

void Sha256::update(ByteView data) {
  crypto_hash_sha256_update(reinterpret_cast<crypto_hash_sha256_state*>(state_), data.data(),
                            data.size());
}

Hash32 Sha256::finish() {
  Hash32 out;
  crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_), out.data());
  return out;
}

}  // namespace ol::crypto
