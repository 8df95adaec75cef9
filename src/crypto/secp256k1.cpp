#include "crypto/secp256k1.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include <cctype>
#include <cstring>

#include "common/hex.h"
#include "crypto/hash.h"
#include "crypto/sodium_init.h"

namespace ol::crypto {
namespace {

// One context for the process: libsecp256k1 contexts are thread-safe for signing and
// verification once created and randomized.
const secp256k1_context* ctx() {
  static secp256k1_context* c = [] {
    detail::ensure_sodium();
    secp256k1_context* created =
        secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    unsigned char seed[32];
    randombytes_buf(seed, sizeof seed);
    int blinded = secp256k1_context_randomize(created, seed);  // side-channel blinding only
    (void)blinded;
    return created;
  }();
  return c;
}

// Half the group order n/2, big-endian: s above it is the malleable twin of a valid signature.
constexpr FixedBytes<32> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

bool is_high_s(const std::uint8_t* s) {
  return std::memcmp(s, kHalfOrder.data(), 32) > 0;
}

}  // namespace

std::string Address::to_checksum_hex() const {
  std::string lower = to_hex(bytes);
  Hash32 h = keccak256(as_bytes(lower));
  std::string out = "0x";
  for (std::size_t i = 0; i < lower.size(); ++i) {
    char c = lower[i];
    std::uint8_t nib = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
    out.push_back((c >= 'a' && nib >= 8) ? static_cast<char>(std::toupper(c)) : c);
  }
  return out;
}

Result<Address> Address::parse(std::string_view text) {
  if (text.size() != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return make_error(Errc::invalid_argument, "address must be 0x followed by 40 hex digits, got " +
                                                  std::to_string(text.size()) + " characters");
  }
  OL_TRY_ASSIGN(auto raw, from_hex_fixed<20>(text));
  Address a{raw};
  std::string_view digits = text.substr(2);
  bool has_lower = false, has_upper = false;
  for (char c : digits) {
    has_lower |= (c >= 'a' && c <= 'f');
    has_upper |= (c >= 'A' && c <= 'F');
  }
  if (has_lower && has_upper && a.to_checksum_hex().substr(2) != digits) {
    return make_error(Errc::invalid_argument, "address has an invalid EIP-55 checksum");
  }
  return a;
}

Address address_of(const Secp256k1PublicKey& key) {
  Hash32 h = keccak256(ByteView(key).subspan(1));
  Address a;
  std::memcpy(a.bytes.data(), h.data() + 12, 20);
  return a;
}

Result<Secp256k1PublicKey> recover_public_key(const Hash32& digest,
                                              const RecoverableSignature& sig) {
  const std::uint8_t v = sig.bytes[64];
  if (v > 1) return make_error(Errc::verify, "recovery id " + std::to_string(v) + " is not 0 or 1");
  if (is_high_s(sig.bytes.data() + 32)) {
    return make_error(Errc::verify, "signature has high s (non-canonical)");
  }
  secp256k1_ecdsa_recoverable_signature rs;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &rs, sig.bytes.data(), v)) {
    return make_error(Errc::verify, "signature r or s out of range");
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(ctx(), &pub, &rs, digest.data())) {
    return make_error(Errc::verify, "public key recovery failed");
  }
  Secp256k1PublicKey out;
  std::size_t len = out.size();
  secp256k1_ec_pubkey_serialize(ctx(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

Result<Address> recover_address(const Hash32& digest, const RecoverableSignature& sig) {
  OL_TRY_ASSIGN(auto pub, recover_public_key(digest, sig));
  return address_of(pub);
}

Secp256k1Key Secp256k1Key::generate() {
  detail::ensure_sodium();
  FixedBytes<32> secret;
  for (;;) {  // a random 32 bytes is a valid scalar except with probability ~2^-128
    randombytes_buf(secret.data(), secret.size());
    auto key = from_secret(secret);
    if (key.ok()) {
      secure_wipe(secret.data(), secret.size());
      return std::move(key).value();
    }
  }
}

Result<Secp256k1Key> Secp256k1Key::from_secret(ByteView secret) {
  if (secret.size() != 32) {
    return make_error(Errc::invalid_argument,
                      "secp256k1 secret must be 32 bytes, got " + std::to_string(secret.size()));
  }
  if (!secp256k1_ec_seckey_verify(ctx(), secret.data())) {
    return make_error(Errc::invalid_argument,
                      "secp256k1 secret is zero or not below the group order");
  }
  Secp256k1Key k;
  std::memcpy(k.secret_.data(), secret.data(), 32);
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(ctx(), &pub, k.secret_.data())) {
    return make_error(Errc::internal, "secp256k1 public key derivation failed");
  }
  std::size_t len = k.public_.size();
  secp256k1_ec_pubkey_serialize(ctx(), k.public_.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  k.address_ = address_of(k.public_);
  return k;
}

Secp256k1Key::Secp256k1Key(const Secp256k1Key&) = default;
Secp256k1Key& Secp256k1Key::operator=(const Secp256k1Key&) = default;
Secp256k1Key::~Secp256k1Key() {
  secure_wipe(secret_.data(), secret_.size());
}

RecoverableSignature Secp256k1Key::sign(const Hash32& digest) const {
  secp256k1_ecdsa_recoverable_signature rs;
  // RFC 6979 nonces; libsecp256k1 always produces low-s signatures.
  secp256k1_ecdsa_sign_recoverable(ctx(), &rs, digest.data(), secret_.data(), nullptr, nullptr);
  RecoverableSignature sig;
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), sig.bytes.data(), &recid, &rs);
  sig.bytes[64] = static_cast<std::uint8_t>(recid);
  return sig;
}

}  // namespace ol::crypto
