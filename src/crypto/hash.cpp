#include "crypto/hash.h"

#include <cryptopp/keccak.h>
#include <cryptopp/sha.h>
#include <sodium.h>

#include <array>
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

std::uint64_t keyed_hash64(ByteView data) noexcept {
  static const auto key = [] {
    detail::ensure_sodium();
    std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  std::uint64_t out = 0;
  crypto_shorthash(reinterpret_cast<unsigned char*>(&out), data.data(), data.size(), key.data());
  return out;
}

// SHA-256 is Crypto++'s: it uses the CPU's SHA extensions where present (about 4.7x libsodium's
// portable code on this project's machines; same digests), and block ids, tagged hashes and
// gossip ids are hashed a lot.
Hash32 sha256(ByteView data) {
  Hash32 out;
  CryptoPP::SHA256().CalculateDigest(out.data(), data.data(), data.size());
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

static_assert(sizeof(CryptoPP::SHA256) <= sizeof(Sha256::State), "Sha256 state buffer too small");
static_assert(alignof(CryptoPP::SHA256) <= alignof(Sha256::State), "Sha256 state misaligned");

namespace {
CryptoPP::SHA256& impl(Sha256::State& s) {
  return *std::launder(reinterpret_cast<CryptoPP::SHA256*>(s.bytes));
}
}  // namespace

Sha256::Sha256() {
  new (state_.bytes) CryptoPP::SHA256();
}
Sha256::~Sha256() {
  impl(state_).~SHA256();  // Crypto++ wipes its state buffers
}

void Sha256::update(ByteView data) {
  impl(state_).Update(data.data(), data.size());
}

Hash32 Sha256::finish() {
  Hash32 out;
  impl(state_).Final(out.data());
  return out;
}

}  // namespace ol::crypto
