// Wire formats and the Noise handshake state machine, without sockets.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include "common/hex.h"
#include "p2p/identify.h"
#include "p2p/multiaddr.h"
#include "p2p/multistream.h"
#include "p2p/noise.h"
#include "p2p/peer_id.h"
#include "p2p/varint.h"
#include "p2p/yamux.h"

namespace ol::p2p {
namespace {

Bytes unhex(std::string_view s) {
  return *from_hex(s);
}

// Protobuf fields written by hand, to build messages the generated encoders never produce.
Bytes pb_field(std::uint32_t number, ByteView value) {
  Bytes out;
  put_uvarint(out, (std::uint64_t{number} << 3) | 2);
  put_uvarint(out, value.size());
  append(out, value);
  return out;
}
Bytes pb_varint(std::uint32_t number, std::uint64_t value) {
  Bytes out;
  put_uvarint(out, std::uint64_t{number} << 3);
  put_uvarint(out, value);
  return out;
}

TEST(Varint, RoundTripsAndRejectsNonMinimalAndOverlong) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16384ull, (1ull << 63) - 1}) {
    Bytes b;
    put_uvarint(b, v);
    EXPECT_EQ(b.size(), uvarint_size(v));
    auto d = try_get_uvarint(b);
    ASSERT_TRUE(d.ok() && d->has_value());
    EXPECT_EQ((*d)->value, v);
    EXPECT_EQ((*d)->size, b.size());
  }
  EXPECT_TRUE(try_get_uvarint(Bytes{0x80}).ok());  // incomplete: more bytes needed
  EXPECT_FALSE(try_get_uvarint(Bytes{0x80})->has_value());
  EXPECT_FALSE(try_get_uvarint(Bytes{0x80, 0x00}).ok());  // non-minimal
  EXPECT_FALSE(try_get_uvarint(Bytes(10, 0xff)).ok());    // longer than 9 bytes
}

// peer-ids spec: Ed25519 key 1ed1e8fa...; PeerId and CID cross-checked with js-libp2p.
TEST(PeerId, MatchesLibp2pForKnownKey) {
  auto kp = crypto::Ed25519KeyPair::from_seed(
      unhex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"));
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(to_hex(marshal_public_key(kp->public_key())),
            "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  const auto id = PeerId::from_public_key(kp->public_key());
  EXPECT_EQ(id.to_string(), "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
  EXPECT_EQ(*PeerId::parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"), id);
  EXPECT_EQ(*PeerId::parse("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"),
            id);
  EXPECT_EQ(id.public_key(), kp->public_key());
}

// A key missing its required fields is refused without a word from libprotobuf, whose own error
// line would let a peer write to the operator's log with every handshake it starts.
TEST(PeerId, AKeyMissingRequiredFieldsIsRefusedWithoutLibraryLogging) {
  static int logged = 0;
  auto* previous = google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) { ++logged; });
  EXPECT_EQ(unmarshal_public_key(pb_varint(1, 1)).error().code, Errc::decode);  // no Data
  EXPECT_EQ(unmarshal_public_key(Bytes{}).error().code, Errc::decode);          // nothing
  google::protobuf::SetLogHandler(previous);
  EXPECT_EQ(logged, 0);
}

TEST(PeerId, PublicKeyDecodingIsBoundedAndSkipsUnknownFields) {
  const auto key = crypto::Ed25519KeyPair::generate().public_key();
  const Bytes pb = marshal_public_key(key);
  // Unknown fields (varint 3, length-delimited 9) and reversed field order still decode.
  auto with_unknown = concat(pb_varint(3, 7), concat(pb_field(2, key.bytes), pb_varint(1, 1)));
  with_unknown = concat(with_unknown, pb_field(9, as_bytes("ignored")));
  ASSERT_TRUE(unmarshal_public_key(with_unknown).ok());
  EXPECT_EQ(*unmarshal_public_key(with_unknown), key);

  EXPECT_EQ(unmarshal_public_key(ByteView(pb).first(pb.size() - 1)).error().code, Errc::decode);
  EXPECT_EQ(unmarshal_public_key(pb_varint(1, 1)).error().code, Errc::decode);         // no Data
  EXPECT_EQ(unmarshal_public_key(pb_field(2, key.bytes)).error().code, Errc::decode);  // no Type
  EXPECT_EQ(unmarshal_public_key(concat(pb_varint(1, 1), pb_field(2, Bytes(31, 1)))).error().code,
            Errc::decode);  // wrong key length
  EXPECT_EQ(unmarshal_public_key(concat(pb_varint(1, 2), pb_field(2, Bytes(33, 1)))).error().code,
            Errc::invalid_argument);  // secp256k1: valid protobuf, unsupported key type
  EXPECT_EQ(
      unmarshal_public_key(concat(pb, pb_field(9, Bytes(kMaxPublicKeyBytes, 0)))).error().code,
      Errc::decode);                                                 // oversized, however valid
  EXPECT_FALSE(unmarshal_public_key(Bytes{0xff, 0xff, 0xff}).ok());  // garbage
}

TEST(PeerId, RejectsMalformedText) {
  EXPECT_FALSE(PeerId::parse("").ok());
  EXPECT_FALSE(PeerId::parse("12D3KooW0OIl").ok());  // not base58
  EXPECT_FALSE(PeerId::parse("1111").ok());          // decodes, but not a multihash
  EXPECT_FALSE(PeerId::parse("bafyaaaa").ok());      // wrong CID codec / truncated
  EXPECT_FALSE(PeerId::parse(std::string(1000, '1')).ok());
}

TEST(Base58, KnownVectors) {
  EXPECT_EQ(base58btc_encode(as_bytes("hello world")), "StV1DL6CwTryKyV");
  EXPECT_EQ(base58btc_encode(Bytes{0, 0, 1}), "112");
  EXPECT_EQ(*base58btc_decode("112"), (Bytes{0, 0, 1}));
}

TEST(Multiaddr, TextAndBinaryRoundTrip) {
  for (const char* text :
       {"/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/0", "/dns4/example.com/tcp/443",
        "/dns6/localhost/tcp/1",
        "/ip4/1.2.3.4/tcp/80/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"}) {
    auto ma = Multiaddr::parse(text);
    ASSERT_TRUE(ma.ok()) << text << ": " << ma.error().to_string();
    EXPECT_EQ(ma->to_string(), text);
    auto back = Multiaddr::from_bytes(ma->to_bytes());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, *ma);
  }
  // Binary form from the multiaddr spec: /ip4/127.0.0.1/tcp/4001 = 04 7f000001 06 0fa1
  EXPECT_EQ(to_hex(Multiaddr::parse("/ip4/127.0.0.1/tcp/4001")->to_bytes()), "047f000001060fa1");
}

TEST(Multiaddr, ExtractsDialTargetAndPeer) {
  auto ma = *Multiaddr::parse(
      "/ip4/10.0.0.1/tcp/9000/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
  auto t = ma.tcp_target();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "10.0.0.1");
  EXPECT_EQ(t->port, 9000);
  ASSERT_TRUE(ma.peer_id());
  EXPECT_EQ(ma.without_peer_id().to_string(), "/ip4/10.0.0.1/tcp/9000");
  EXPECT_EQ(ma.without_peer_id().with_peer_id(*ma.peer_id()), ma);
  // /ipfs is the legacy name of /p2p
  EXPECT_EQ(Multiaddr::parse(
                "/ip4/10.0.0.1/tcp/9000/ipfs/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
                ->to_string(),
            ma.to_string());
}

TEST(Multiaddr, RejectsBadInput) {
  for (const char* text :
       {"", "ip4/1.2.3.4", "/ip4/1.2.3.400/tcp/1", "/ip4/1.2.3.4/tcp/70000", "/ip4/1.2.3.4/tcp",
        "/udp/53", "/ip6/zz::1/tcp/1", "/p2p/notapeer", "/"}) {
    EXPECT_FALSE(Multiaddr::parse(text).ok()) << text;
  }
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x04, 0x7f}).ok());       // truncated ip4
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x36, 0x05, 'a'}).ok());  // dns length past end
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{0x99, 0x01}).ok());       // unknown code
  EXPECT_FALSE(Multiaddr::from_bytes(Bytes{}).ok());
}

// Text may be up to 4 KiB but the address it names must fit the binary bound (1,024 bytes),
// or it would parse and then fail to decode from its own encoding (found by fuzzing).
TEST(Multiaddr, TextWhoseEncodingIsTooLongIsRejected) {
  std::string text;
  for (int i = 0; i < 110; ++i) text += "/dns6/abcdefgh";  // 110 x (1 + 1 + 8) = 1,100 bytes
  ASSERT_LT(text.size(), 4096u);
  auto parsed = Multiaddr::parse(text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("too long"), std::string::npos);
  std::string fits;
  for (int i = 0; i < 100; ++i) fits += "/dns6/abcdefgh";  // 1,000 bytes
  auto ok = Multiaddr::parse(fits);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(Multiaddr::from_bytes(ok->to_bytes()).value_or(Multiaddr()), *ok);
}

TEST(Multistream, EncodesAndDecodesMessages) {
  const Bytes m = multistream::encode_message("/multistream/1.0.0");
  EXPECT_EQ(m[0], 19);
  EXPECT_EQ(m.back(), '\n');
  auto d = multistream::try_decode_message(m);
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->text, "/multistream/1.0.0");
  EXPECT_EQ((*d)->size, m.size());
  EXPECT_FALSE(multistream::try_decode_message(ByteView(m).first(5))->has_value());  // partial
  EXPECT_FALSE(multistream::try_decode_message(Bytes{0x03, 'a', 'b', 'c'}).ok());    // no newline
  EXPECT_FALSE(multistream::try_decode_message(Bytes{0x00}).ok());                   // empty
  EXPECT_FALSE(multistream::try_decode_message(Bytes{0x81, 0x10}).ok());             // 2049 > bound
}

TEST(Yamux, HeaderRoundTripAndValidation) {
  const yamux::Header h{yamux::Type::window_update, yamux::kSyn | yamux::kAck, 7, 262144};
  std::uint8_t buf[yamux::kHeaderSize];
  yamux::encode_header(h, buf);
  EXPECT_EQ(to_hex(ByteView(buf, 12)), "000100030000000700040000");
  EXPECT_EQ(*yamux::decode_header(ByteView(buf, 12)), h);
  buf[0] = 1;
  EXPECT_FALSE(yamux::decode_header(ByteView(buf, 12)).ok());  // version
  buf[0] = 0;
  buf[1] = 4;
  EXPECT_FALSE(yamux::decode_header(ByteView(buf, 12)).ok());  // type
  buf[1] = 2;
  EXPECT_FALSE(yamux::decode_header(ByteView(buf, 12)).ok());  // ping on a stream id
  EXPECT_FALSE(yamux::decode_header(ByteView(buf, 11)).ok());  // truncated
}

TEST(Identify, RoundTrips) {
  identify::Info in;
  in.protocol_version = "ipfs/0.1.0";
  in.agent_version = "openliquid/test";
  in.public_key = marshal_public_key(crypto::Ed25519KeyPair::generate().public_key());
  in.listen_addrs = {*Multiaddr::parse("/ip4/127.0.0.1/tcp/1")};
  in.observed_addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/2");
  in.protocols = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"};
  auto out = identify::decode(identify::encode(in));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->agent_version, in.agent_version);
  EXPECT_EQ(out->public_key, in.public_key);
  EXPECT_EQ(out->listen_addrs, in.listen_addrs);
  EXPECT_EQ(out->observed_addr, in.observed_addr);
  EXPECT_EQ(out->protocols, in.protocols);
}

TEST(Identify, SkipsUnknownFieldsAndUnparseableAddresses) {
  identify::Info in;
  in.agent_version = "openliquid/test";
  in.protocols = {"/ipfs/ping/1.0.0"};
  Bytes msg = identify::encode(in);
  append(msg, pb_varint(99, 12345));                    // unknown varint field
  append(msg, pb_field(8, as_bytes("signed record")));  // signedPeerRecord: parsed, unused
  append(msg, pb_field(2, Bytes{0xff, 0x01}));          // a listen address that is no multiaddr
  auto out = identify::decode(msg);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->agent_version, in.agent_version);
  EXPECT_EQ(out->protocols, in.protocols);
  EXPECT_TRUE(out->listen_addrs.empty());
}

TEST(Identify, RejectsTruncatedOversizedAndOverBoundMessages) {
  identify::Info in;
  in.agent_version = "openliquid/test";
  in.protocols = {"/ipfs/id/1.0.0"};
  const Bytes msg = identify::encode(in);
  EXPECT_EQ(identify::decode(ByteView(msg).first(msg.size() - 1)).error().code, Errc::decode);
  EXPECT_FALSE(identify::decode(Bytes(identify::kMaxMessage + 1, 0)).ok());

  identify::Info many = in;
  many.protocols.assign(identify::kMaxListEntries + 1, "/p");
  EXPECT_FALSE(identify::decode(identify::encode(many)).ok());
  many.protocols.resize(identify::kMaxListEntries);
  EXPECT_TRUE(identify::decode(identify::encode(many)).ok());

  identify::Info addrs = in;
  addrs.listen_addrs.assign(identify::kMaxListEntries + 1, *Multiaddr::parse("/ip4/1.2.3.4/tcp/1"));
  EXPECT_FALSE(identify::decode(identify::encode(addrs)).ok());

  identify::Info long_id = in;
  long_id.protocols = {std::string(identify::kMaxString + 1, 'p')};
  EXPECT_FALSE(identify::decode(identify::encode(long_id)).ok());
  identify::Info long_agent = in;
  long_agent.agent_version = std::string(identify::kMaxString + 1, 'a');
  EXPECT_FALSE(identify::decode(identify::encode(long_agent)).ok());
  EXPECT_FALSE(identify::decode(pb_field(2, Bytes(identify::kMaxAddress + 1, 4))).ok());
}

struct HandshakePair {
  Identity a = Identity::generate(), b = Identity::generate();
  noise::LocalKeys ka = noise::LocalKeys::create(a), kb = noise::LocalKeys::create(b);
};

// Runs XX between initiator and responder; returns the first error.
Status run_xx(noise::Handshake& i, noise::Handshake& r, const std::optional<PeerId>& expect) {
  OL_TRY_ASSIGN(auto m1, i.write_message());
  OL_TRY(r.read_message(m1, std::nullopt));
  OL_TRY_ASSIGN(auto m2, r.write_message());
  OL_TRY(i.read_message(m2, expect));
  OL_TRY_ASSIGN(auto m3, i.write_message());
  return r.read_message(m3, std::nullopt);
}

TEST(Noise, HandshakeAuthenticatesBothSidesAndKeysMatch) {
  HandshakePair p;
  noise::Handshake i(true, p.ka), r(false, p.kb);
  ASSERT_TRUE(run_xx(i, r, p.b.peer_id).ok());
  EXPECT_TRUE(i.complete() && r.complete());
  EXPECT_EQ(i.remote_peer(), p.b.peer_id);
  EXPECT_EQ(r.remote_peer(), p.a.peer_id);
  auto [i_send, i_recv] = i.split();
  auto [r_send, r_recv] = r.split();
  Bytes ct, pt;
  ASSERT_TRUE(i_send.encrypt({}, as_bytes("hello"), ct).ok());
  ASSERT_TRUE(r_recv.decrypt({}, ct, pt).ok());
  EXPECT_EQ(pt, to_bytes(as_bytes("hello")));
  // Replaying the same ciphertext fails: the receive nonce has moved on.
  pt.clear();
  EXPECT_FALSE(r_recv.decrypt({}, ct, pt).ok());
}

TEST(Noise, RejectsPeerIdMismatch) {
  HandshakePair p;
  noise::Handshake i(true, p.ka), r(false, p.kb);
  auto st = run_xx(i, r, Identity::generate().peer_id);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify);
}

TEST(Noise, RejectsPayloadSignedForAnotherStaticKey) {
  HandshakePair p;
  p.kb.payload = noise::LocalKeys::create(p.b).payload;  // signs a different static key
  noise::Handshake i(true, p.ka), r(false, p.kb);
  auto st = run_xx(i, r, std::nullopt);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify);
}

TEST(Noise, PayloadSkipsUnknownFieldsAndExtensions) {
  HandshakePair p;
  append(p.kb.payload, pb_field(4, pb_field(2, as_bytes("/yamux/1.0.0"))));  // extensions
  append(p.kb.payload, pb_varint(31, 1));                                    // unknown
  noise::Handshake i(true, p.ka), r(false, p.kb);
  auto st = run_xx(i, r, p.b.peer_id);
  EXPECT_TRUE(st.ok()) << st.error().to_string();
}

TEST(Noise, RejectsMalformedTruncatedAndOversizedPayloads) {
  auto run_with_payload = [](auto edit) {
    HandshakePair p;
    edit(p.kb.payload);
    noise::Handshake i(true, p.ka), r(false, p.kb);
    return run_xx(i, r, std::nullopt);
  };
  auto truncated = run_with_payload([](Bytes& pl) { pl.pop_back(); });
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, Errc::decode);
  auto oversized = run_with_payload([](Bytes& pl) { append(pl, pb_field(15, Bytes(9000, 0))); });
  ASSERT_FALSE(oversized.ok());
  EXPECT_EQ(oversized.error().code, Errc::decode);
  auto no_sig = run_with_payload([](Bytes& pl) {
    pl = pb_field(1, marshal_public_key(crypto::Ed25519KeyPair::generate().public_key()));
  });
  ASSERT_FALSE(no_sig.ok());
  EXPECT_EQ(no_sig.error().code, Errc::decode);
  auto garbage = run_with_payload([](Bytes& pl) { pl = Bytes{0x0a, 0xff, 0xff}; });
  EXPECT_FALSE(garbage.ok());
}

TEST(Noise, RejectsTamperedAndTruncatedMessages) {
  HandshakePair p;
  noise::Handshake i(true, p.ka), r(false, p.kb);
  auto m1 = *i.write_message();
  ASSERT_TRUE(r.read_message(m1, std::nullopt).ok());
  auto m2 = *r.write_message();
  m2[40] ^= 1;
  EXPECT_FALSE(i.read_message(m2, std::nullopt).ok());
  noise::Handshake r2(false, p.kb);
  EXPECT_FALSE(r2.read_message(ByteView(m1).first(10), std::nullopt).ok());
}

TEST(Noise, InPlaceEncryptionInteroperatesWithCopyingAndChecksBuffers) {
  const FixedBytes<32> key{7};
  noise::CipherState copy_send(key), place_send(key), copy_recv(key), place_recv(key);
  const Bytes plain = to_bytes(as_bytes("in place, with a tag after it"));
  Bytes copied;
  ASSERT_TRUE(copy_send.encrypt({}, plain, copied).ok());
  Bytes frame = plain;
  frame.resize(plain.size() + noise::kTagSize);
  ASSERT_TRUE(place_send.encrypt_to({}, ByteView(frame).first(plain.size()), frame).ok());
  EXPECT_EQ(frame, copied);  // same key and nonce: same ciphertext

  auto opened = place_recv.decrypt_in_place({}, frame);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(to_bytes(*opened), plain);
  Bytes tampered = copied;
  tampered[0] ^= 1;
  EXPECT_EQ(copy_recv.decrypt_in_place({}, tampered).error().code, Errc::verify);
  Bytes out;  // the failure did not use up the nonce
  ASSERT_TRUE(copy_recv.decrypt({}, copied, out).ok());
  EXPECT_EQ(out, plain);

  Bytes small(plain.size());  // no room for the tag
  EXPECT_FALSE(copy_send.encrypt_to({}, plain, small).ok());
  Bytes short_frame(noise::kTagSize - 1);
  EXPECT_FALSE(place_recv.decrypt_in_place({}, short_frame).ok());
}

TEST(Noise, FrameSplitter) {
  std::size_t used = 0;
  Bytes in = {0x00, 0x10};
  in.resize(2 + 16, 0xaa);
  in.push_back(0x00);
  auto f = noise::next_frame(in, used);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->size(), 16u);
  EXPECT_EQ(used, 18u);
  EXPECT_FALSE(noise::next_frame(ByteView(in).subspan(used), used)->has_value());
  EXPECT_FALSE(noise::next_frame(Bytes{0x00, 0x01, 0x00}, used).ok());  // shorter than the tag
}

}  // namespace
}  // namespace ol::p2p
