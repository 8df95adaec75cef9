#include "p2p/noise.h"

#include <sodium.h>

#include <cstring>

#include "crypto/hash.h"
#include "p2p/proto/noise.pb.h"

namespace ol::p2p::noise {
namespace {

constexpr std::string_view kNoiseName = "Noise_XX_25519_ChaChaPoly_SHA256";  // exactly 32 bytes
constexpr std::string_view kSigPrefix = "noise-libp2p-static-key:";
constexpr std::size_t kMaxPayload = 8192;

using Key32 = FixedBytes<32>;

Key32 hmac(ByteView key, ByteView a, ByteView b = {}) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, a.data(), a.size());
  if (!b.empty()) crypto_auth_hmacsha256_update(&st, b.data(), b.size());
  Key32 out;
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
  return out;
}

// Noise HKDF with two outputs.
std::pair<Key32, Key32> hkdf2(const Key32& ck, ByteView ikm) {
  const Key32 temp = hmac(ck, ikm);
  const std::uint8_t one = 1, two = 2;
  const Key32 o1 = hmac(temp, ByteView(&one, 1));
  const Key32 o2 = hmac(temp, o1, ByteView(&two, 1));
  return {o1, o2};
}

void make_nonce(std::uint64_t n, std::uint8_t out[12]) {
  std::memset(out, 0, 4);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
}

}  // namespace

Status CipherState::encrypt_to(ByteView ad, ByteView plain, std::span<std::uint8_t> out) {
  if (!has_key_) {
    if (out.size() != plain.size()) return make_error(Errc::invalid_argument, "noise: bad buffer");
    if (!plain.empty()) std::memmove(out.data(), plain.data(), plain.size());
    return ok_status();
  }
  if (out.size() != plain.size() + kTagSize)
    return make_error(Errc::invalid_argument, "noise: bad ciphertext buffer size");
  if (nonce_ == ~std::uint64_t{0}) return make_error(Errc::limit, "noise: nonce space exhausted");
  std::uint8_t nonce[12];
  make_nonce(nonce_++, nonce);
  // libsodium allows the ciphertext to be written over the plaintext.
  unsigned long long clen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &clen, plain.data(), plain.size(),
                                            ad.data(), ad.size(), nullptr, nonce, key_.data());
  return ok_status();
}

Result<std::span<std::uint8_t>> CipherState::decrypt_in_place(ByteView ad,
                                                              std::span<std::uint8_t> frame) {
  if (!has_key_) return frame;
  if (frame.size() < kTagSize)
    return make_error(Errc::decode, "noise: ciphertext shorter than tag");
  if (nonce_ == ~std::uint64_t{0}) return make_error(Errc::limit, "noise: nonce space exhausted");
  std::uint8_t nonce[12];
  make_nonce(nonce_, nonce);
  // libsodium verifies the tag before it decrypts, and allows the plaintext over the ciphertext.
  unsigned long long plen = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(frame.data(), &plen, nullptr, frame.data(),
                                                frame.size(), ad.data(), ad.size(), nonce,
                                                key_.data()) != 0) {
    return make_error(Errc::verify, "noise: decryption failed (bad tag)");
  }
  ++nonce_;  // a failed decryption does not consume the nonce; the connection is closed anyway
  return frame.first(frame.size() - kTagSize);
}

Status CipherState::encrypt(ByteView ad, ByteView plain, Bytes& out) {
  const std::size_t at = out.size();
  out.resize(at + plain.size() + (has_key_ ? kTagSize : 0));
  auto st = encrypt_to(ad, plain, std::span(out).subspan(at));
  if (!st) out.resize(at);
  return st;
}

Status CipherState::decrypt(ByteView ad, ByteView cipher, Bytes& out) {
  const std::size_t at = out.size();
  append(out, cipher);
  auto plain = decrypt_in_place(ad, std::span(out).subspan(at));
  if (!plain) {
    out.resize(at);
    return plain.error();
  }
  out.resize(at + plain->size());
  return ok_status();
}

LocalKeys LocalKeys::create(const Identity& id) {
  if (sodium_init() < 0) std::abort();
  LocalKeys k;
  randombytes_buf(k.static_secret.data(), k.static_secret.size());
  crypto_scalarmult_base(k.static_public.data(), k.static_secret.data());
  const auto sig = id.key.sign(concat(as_bytes(kSigPrefix), k.static_public));
  proto::NoiseHandshakePayload pb;
  const Bytes key_pb = marshal_public_key(id.key.public_key());
  pb.set_identity_key(key_pb.data(), key_pb.size());
  pb.set_identity_sig(sig.bytes.data(), sig.bytes.size());
  k.payload.resize(pb.ByteSizeLong());
  pb.SerializeWithCachedSizesToArray(k.payload.data());
  return k;
}

Handshake::Handshake(bool initiator, const LocalKeys& keys) : initiator_(initiator), keys_(keys) {
  std::memcpy(h_.data(), kNoiseName.data(), 32);
  ck_ = h_;
  mix_hash({});  // empty prologue
  randombytes_buf(e_secret_.data(), e_secret_.size());
  crypto_scalarmult_base(e_public_.data(), e_secret_.data());
}

Handshake::~Handshake() {
  secure_wipe(e_secret_.data(), e_secret_.size());
  secure_wipe(ck_.data(), ck_.size());
}

void Handshake::mix_hash(ByteView data) {
  crypto::Sha256 s;
  s.update(h_);
  s.update(data);
  h_ = s.finish();
}

void Handshake::mix_key(ByteView ikm) {
  auto [ck, k] = hkdf2(ck_, ikm);
  ck_ = ck;
  cs_ = CipherState(k);
}

Status Handshake::dh_into_key(const FixedBytes<32>& secret, const FixedBytes<32>& pub) {
  Key32 shared;
  if (crypto_scalarmult(shared.data(), secret.data(), pub.data()) != 0) {
    return make_error(Errc::verify, "noise: invalid X25519 public key");
  }
  mix_key(shared);
  secure_wipe(shared.data(), shared.size());
  return ok_status();
}

Status Handshake::encrypt_and_hash(ByteView plain, Bytes& out) {
  const std::size_t at = out.size();
  OL_TRY(cs_.encrypt(h_, plain, out));
  mix_hash(ByteView(out).subspan(at));
  return ok_status();
}

Status Handshake::decrypt_and_hash(ByteView cipher, Bytes& out) {
  OL_TRY(cs_.decrypt(h_, cipher, out));
  mix_hash(cipher);
  return ok_status();
}

Result<Bytes> Handshake::write_message() {
  Bytes out;
  if (step_ == 0 && initiator_) {  // -> e
    append(out, e_public_);
    mix_hash(e_public_);
    OL_TRY(encrypt_and_hash({}, out));
  } else if (step_ == 1 && !initiator_) {  // <- e, ee, s, es, payload
    append(out, e_public_);
    mix_hash(e_public_);
    OL_TRY(dh_into_key(e_secret_, re_));
    OL_TRY(write_static_and_payload(out));
  } else if (step_ == 2 && initiator_) {  // -> s, se, payload
    OL_TRY(write_static_and_payload(out));
  } else {
    return make_error(Errc::state, "noise: not this side's turn to write");
  }
  ++step_;
  return out;
}

Status Handshake::read_message(ByteView msg, const std::optional<PeerId>& expected) {
  if (step_ == 0 && !initiator_) {  // -> e
    OL_TRY(read_remote_ephemeral(msg));
    Bytes payload;  // libp2p sends no payload in message 1; ignore any the remote sent
    OL_TRY(decrypt_and_hash(msg.subspan(32), payload));
  } else if (step_ == 1 && initiator_) {  // <- e, ee, s, es, payload
    OL_TRY(read_remote_ephemeral(msg));
    OL_TRY(dh_into_key(e_secret_, re_));
    OL_TRY(read_static_and_payload(msg.subspan(32), expected));
  } else if (step_ == 2 && !initiator_) {  // -> s, se, payload
    OL_TRY(read_static_and_payload(msg, expected));
  } else {
    return make_error(Errc::state, "noise: not this side's turn to read");
  }
  ++step_;
  return ok_status();
}

Status Handshake::read_remote_ephemeral(ByteView msg) {
  if (msg.size() < 32) return make_error(Errc::decode, "noise: handshake message truncated");
  std::memcpy(re_.data(), msg.data(), 32);
  mix_hash(re_);
  return ok_status();
}

// The tail both identity-carrying messages share, written: our encrypted static key, the DH of
// our static key with the remote ephemeral ("es" from the responder in message 2, "se" from the
// initiator in message 3: both are DH(s, re)), then our encrypted identity payload.
Status Handshake::write_static_and_payload(Bytes& out) {
  OL_TRY(encrypt_and_hash(keys_.static_public, out));
  OL_TRY(dh_into_key(keys_.static_secret, re_));
  return encrypt_and_hash(keys_.payload, out);
}

// The same tail, read: the remote's encrypted static key, the DH of our ephemeral key with it
// ("es" for the initiator reading message 2, "se" for the responder reading message 3: both are
// DH(e, rs)), then the encrypted identity payload, whose signature must cover that static key.
Status Handshake::read_static_and_payload(ByteView rest, const std::optional<PeerId>& expected) {
  if (rest.size() < 32 + kTagSize)
    return make_error(Errc::decode, "noise: handshake message truncated");
  Bytes rs;
  OL_TRY(decrypt_and_hash(rest.first(32 + kTagSize), rs));
  std::memcpy(rs_.data(), rs.data(), 32);
  OL_TRY(dh_into_key(e_secret_, rs_));
  Bytes payload;
  OL_TRY(decrypt_and_hash(rest.subspan(32 + kTagSize), payload));
  return verify_payload(payload, expected);
}

Status Handshake::verify_payload(ByteView payload, const std::optional<PeerId>& expected) {
  if (payload.size() > kMaxPayload) return make_error(Errc::decode, "noise: payload too large");
  proto::NoiseHandshakePayload pb;  // extensions and unknown fields are parsed and ignored
  if (!pb.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return make_error(Errc::decode, "noise: malformed handshake payload");
  }
  if (!pb.has_identity_key() || !pb.has_identity_sig())
    return make_error(Errc::decode, "noise: payload lacks identity key or signature");
  OL_TRY_ASSIGN(auto key, unmarshal_public_key(as_bytes(pb.identity_key())));
  if (pb.identity_sig().size() != 64)
    return make_error(Errc::verify, "noise: identity signature must be 64 bytes");
  crypto::Ed25519Signature s;
  std::memcpy(s.bytes.data(), pb.identity_sig().data(), 64);
  if (!crypto::ed25519_verify(key, concat(as_bytes(kSigPrefix), rs_), s)) {
    return make_error(Errc::verify, "noise: identity signature does not cover the static key");
  }
  remote_peer_ = PeerId::from_public_key(key);
  if (expected && *expected != remote_peer_) {
    return make_error(Errc::verify, "noise: peer id mismatch: expected " + expected->to_string() +
                                        ", remote is " + remote_peer_.to_string());
  }
  return ok_status();
}

std::pair<CipherState, CipherState> Handshake::split() {
  auto [k1, k2] = hkdf2(ck_, {});
  CipherState c1(k1), c2(k2);
  secure_wipe(k1.data(), k1.size());
  secure_wipe(k2.data(), k2.size());
  if (initiator_) return {c1, c2};
  return {c2, c1};
}

Result<std::optional<ByteView>> next_frame(ByteView in, std::size_t& consumed) {
  if (in.size() < 2) return std::optional<ByteView>{};
  const std::size_t len = (static_cast<std::size_t>(in[0]) << 8) | in[1];
  if (len < kTagSize) return make_error(Errc::decode, "noise: frame shorter than its tag");
  if (in.size() < 2 + len) return std::optional<ByteView>{};
  consumed += 2 + len;
  return std::optional<ByteView>(in.subspan(2, len));
}

}  // namespace ol::p2p::noise
