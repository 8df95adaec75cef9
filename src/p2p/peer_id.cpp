#include "p2p/peer_id.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "p2p/proto/keys.pb.h"
#include "p2p/varint.h"

namespace ol::p2p {
namespace {

constexpr char kB58Alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::uint64_t kMultihashIdentity = 0x00;
constexpr std::uint64_t kMultihashSha256 = 0x12;
constexpr std::uint64_t kCodecLibp2pKey = 0x72;
constexpr std::size_t kMaxPeerIdBytes = 128;

constexpr std::array<std::int8_t, 256> make_b58_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 58; ++i)
    t[static_cast<unsigned char>(kB58Alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kB58Table = make_b58_table();

// RFC 4648 base32, lower case, no padding (multibase 'b').
Result<Bytes> base32_decode(std::string_view in) {
  Bytes out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return make_error(Errc::decode, "invalid base32 character");
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  return out;
}

Status check_multihash(ByteView mh) {
  if (mh.size() > kMaxPeerIdBytes) return make_error(Errc::decode, "peer id too long");
  WireReader r(mh);
  OL_TRY_ASSIGN(auto code, r.uvarint());
  OL_TRY_ASSIGN(auto len, r.uvarint());
  if (code != kMultihashIdentity && code != kMultihashSha256) {
    return make_error(Errc::decode, "peer id: unsupported multihash code");
  }
  if (code == kMultihashSha256 && len != 32) {
    return make_error(Errc::decode, "peer id: sha2-256 digest must be 32 bytes");
  }
  if (len != r.remaining()) return make_error(Errc::decode, "peer id: multihash length mismatch");
  return ok_status();
}

}  // namespace

std::string base58btc_encode(ByteView in) {
  std::size_t zeros = 0;
  while (zeros < in.size() && in[zeros] == 0) ++zeros;
  // Big-number base conversion 256 -> 58; digits little-endian in `b58`.
  std::vector<std::uint8_t> b58((in.size() - zeros) * 138 / 100 + 1, 0);
  std::size_t len = 0;
  for (std::size_t i = zeros; i < in.size(); ++i) {
    int carry = in[i];
    std::size_t j = 0;
    for (; j < len || carry != 0; ++j) {
      carry += 256 * b58[j];
      b58[j] = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    len = j;
  }
  std::string out(zeros, '1');
  for (std::size_t i = 0; i < len; ++i) out.push_back(kB58Alphabet[b58[len - 1 - i]]);
  return out;
}

Result<Bytes> base58btc_decode(std::string_view in, std::size_t max_len) {
  if (in.size() > max_len) return make_error(Errc::decode, "base58 text too long");
  std::size_t zeros = 0;
  while (zeros < in.size() && in[zeros] == '1') ++zeros;
  std::vector<std::uint8_t> b256(in.size() * 733 / 1000 + 1, 0);
  std::size_t len = 0;
  for (std::size_t i = zeros; i < in.size(); ++i) {
    int carry = kB58Table[static_cast<unsigned char>(in[i])];
    if (carry < 0) return make_error(Errc::decode, "invalid base58 character");
    std::size_t j = 0;
    for (; j < len || carry != 0; ++j) {
      carry += 58 * b256[j];
      b256[j] = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    len = j;
  }
  Bytes out(zeros, 0);
  for (std::size_t i = 0; i < len; ++i) out.push_back(b256[len - 1 - i]);
  return out;
}

Bytes marshal_public_key(const crypto::Ed25519PublicKey& key) {
  // Generated serialisation writes fields in field-number order (Type, then Data) with no
  // unknown fields, which is the deterministic encoding PeerIds hash.
  proto::PublicKey pb;
  pb.set_type(proto::Ed25519);
  pb.set_data(key.bytes.data(), key.bytes.size());
  Bytes out(pb.ByteSizeLong());
  pb.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<crypto::Ed25519PublicKey> unmarshal_public_key(ByteView msg) {
  if (msg.size() > kMaxPublicKeyBytes) return make_error(Errc::decode, "PublicKey: too large");
  proto::PublicKey pb;
  // Parsed partially, then checked: ParseFromArray would have libprotobuf log an error line for
  // a key without its required fields, so any peer could write to the operator's log at will.
  if (!pb.ParsePartialFromArray(msg.data(), static_cast<int>(msg.size())) || !pb.IsInitialized()) {
    return make_error(Errc::decode, "PublicKey: malformed, or Type or Data missing");
  }
  if (pb.type() != proto::Ed25519) {
    return make_error(Errc::invalid_argument,
                      "PublicKey: unsupported key type " + std::to_string(pb.type()));
  }
  if (pb.data().size() != 32)
    return make_error(Errc::decode, "PublicKey: Ed25519 key must be 32 bytes");
  crypto::Ed25519PublicKey key;
  std::memcpy(key.bytes.data(), pb.data().data(), 32);
  return key;
}

PeerId PeerId::from_public_key(const crypto::Ed25519PublicKey& key) {
  const Bytes pbkey = marshal_public_key(key);
  PeerId id;
  put_uvarint(id.mh_, kMultihashIdentity);
  put_uvarint(id.mh_, pbkey.size());
  append(id.mh_, pbkey);
  return id;
}

Result<PeerId> PeerId::from_bytes(ByteView multihash) {
  OL_TRY(check_multihash(multihash));
  PeerId id;
  id.mh_ = to_bytes(multihash);
  return id;
}

Result<PeerId> PeerId::parse(std::string_view text) {
  if (text.empty()) return make_error(Errc::decode, "empty peer id");
  if (text.size() > 256) return make_error(Errc::decode, "peer id text too long");
  if (text.starts_with("1") || text.starts_with("Qm")) {
    OL_TRY_ASSIGN(auto mh, base58btc_decode(text));
    return from_bytes(mh);
  }
  // CIDv1: multibase prefix, then <version=1><codec=libp2p-key><multihash>.
  Bytes cid;
  if (text[0] == 'b') {
    OL_TRY_ASSIGN(cid, base32_decode(text.substr(1)));
  } else if (text[0] == 'z') {
    OL_TRY_ASSIGN(cid, base58btc_decode(text.substr(1)));
  } else {
    return make_error(Errc::decode, "peer id: unrecognised text form");
  }
  WireReader r(cid);
  OL_TRY_ASSIGN(auto version, r.uvarint());
  OL_TRY_ASSIGN(auto codec, r.uvarint());
  if (version != 1) return make_error(Errc::decode, "peer id: CID version must be 1");
  if (codec != kCodecLibp2pKey)
    return make_error(Errc::decode, "peer id: CID codec is not libp2p-key");
  OL_TRY_ASSIGN(auto mh, r.take(r.remaining()));
  return from_bytes(mh);
}

std::optional<crypto::Ed25519PublicKey> PeerId::public_key() const {
  WireReader r(mh_);
  auto code = r.uvarint();
  if (!code || *code != kMultihashIdentity) return std::nullopt;
  auto len = r.uvarint();
  if (!len) return std::nullopt;
  auto rest = r.take(r.remaining());
  if (!rest) return std::nullopt;
  auto key = unmarshal_public_key(*rest);
  if (!key) return std::nullopt;
  return *key;
}

}  // namespace ol::p2p
