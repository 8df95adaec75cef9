#include <gtest/gtest.h>

#include <random>

#include "codec/codec.h"

namespace ol::codec {
namespace {

// A small record exercising every codec form, as a real message type would.
struct Sample {
  std::uint8_t kind = 0;
  std::uint16_t a = 0;
  std::uint32_t b = 0;
  std::uint64_t c = 0;
  std::int64_t d = 0;
  bool flag = false;
  FixedBytes<4> id{};
  Bytes blob;
  std::vector<std::uint32_t> items;
  std::optional<std::uint64_t> maybe;

  static constexpr std::size_t kMaxBlob = 64;
  static constexpr std::size_t kMaxItems = 8;

  void encode(Writer& w) const {
    w.u8(kind);
    w.u16(a);
    w.u32(b);
    w.u64(c);
    w.i64(d);
    w.boolean(flag);
    w.fixed(id);
    w.bytes(blob);
    w.vec(items, [](Writer& ww, std::uint32_t v) { ww.u32(v); });
    w.optional(maybe, [](Writer& ww, std::uint64_t v) { ww.u64(v); });
  }
  static Result<Sample> decode(Reader& r) {
    Sample s;
    OL_TRY_ASSIGN(s.kind, r.u8());
    OL_TRY_ASSIGN(s.a, r.u16());
    OL_TRY_ASSIGN(s.b, r.u32());
    OL_TRY_ASSIGN(s.c, r.u64());
    OL_TRY_ASSIGN(s.d, r.i64());
    OL_TRY_ASSIGN(s.flag, r.boolean());
    OL_TRY_ASSIGN(s.id, r.fixed<4>());
    OL_TRY_ASSIGN(s.blob, r.bytes(kMaxBlob));
    OL_TRY_ASSIGN(s.items, r.vec<std::uint32_t>(kMaxItems, 4, [](Reader& rr) { return rr.u32(); }));
    OL_TRY_ASSIGN(s.maybe, r.optional<std::uint64_t>([](Reader& rr) { return rr.u64(); }));
    return s;
  }
  bool operator==(const Sample&) const = default;
};

Sample example() {
  Sample s;
  s.kind = 7;
  s.a = 0x0102;
  s.b = 0x03040506;
  s.c = 0x0708090a0b0c0d0eULL;
  s.d = -2;
  s.flag = true;
  s.id = {9, 8, 7, 6};
  s.blob = {1, 2, 3};
  s.items = {10, 20};
  s.maybe = 99;
  return s;
}

TEST(Codec, IntegersAreFixedWidthLittleEndian) {
  Writer w;
  w.u16(0x0102);
  w.u32(0x03040506);
  w.u64(1);
  EXPECT_EQ(w.data(), (Bytes{0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Codec, ByteStringsAndVectorsCarryU32LengthPrefix) {
  Writer w;
  w.bytes(Bytes{0xaa, 0xbb});
  w.vec(std::vector<std::uint8_t>{5}, [](Writer& ww, std::uint8_t v) { ww.u8(v); });
  EXPECT_EQ(w.data(), (Bytes{2, 0, 0, 0, 0xaa, 0xbb, 1, 0, 0, 0, 5}));
}

TEST(Codec, RoundTripsEveryForm) {
  Sample s = example();
  Bytes enc = encode(s);
  auto dec = decode_exact<Sample>(enc);
  ASSERT_TRUE(dec.ok()) << dec.error().to_string();
  EXPECT_EQ(*dec, s);

  s.maybe.reset();
  s.items.clear();
  s.blob.clear();
  dec = decode_exact<Sample>(encode(s));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, s);
}

TEST(Codec, EncodingIsDeterministic) {
  EXPECT_EQ(encode(example()), encode(example()));
}

TEST(Codec, EveryTruncationIsAnError) {
  Bytes enc = encode(example());
  for (std::size_t len = 0; len < enc.size(); ++len) {
    auto dec = decode_exact<Sample>(ByteView(enc).first(len));
    ASSERT_FALSE(dec.ok()) << "prefix of " << len << " bytes decoded";
    EXPECT_EQ(dec.error().code, Errc::decode);
  }
}

TEST(Codec, TrailingBytesAreRejected) {
  Bytes enc = encode(example());
  enc.push_back(0);
  auto dec = decode_exact<Sample>(enc);
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.error().message.find("trailing"), std::string::npos);
}

TEST(Codec, LengthAboveDeclaredBoundIsRejected) {
  Sample s = example();
  s.blob.assign(Sample::kMaxBlob + 1, 0x55);
  auto dec = decode_exact<Sample>(encode(s));
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.error().message.find("above bound"), std::string::npos);

  s = example();
  s.items.assign(Sample::kMaxItems + 1, 1);
  dec = decode_exact<Sample>(encode(s));
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.error().message.find("vector count"), std::string::npos);
}

TEST(Codec, NonCanonicalBoolAndOptionalFlagsAreRejected) {
  Bytes enc = encode(example());
  // Offset of the bool: 1 + 2 + 4 + 8 + 8.
  Bytes bad_bool = enc;
  bad_bool[23] = 2;
  EXPECT_FALSE(decode_exact<Sample>(bad_bool).ok());

  Bytes bad_opt = enc;
  bad_opt[bad_opt.size() - 9] = 2;  // the optional's flag precedes its u64
  auto dec = decode_exact<Sample>(bad_opt);
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.error().message.find("non-canonical"), std::string::npos);
}

TEST(Codec, HugeDeclaredCountDoesNotAllocateBeyondInput) {
  // A vector claiming 2^32-1 elements of 4 bytes in a 4-byte buffer must fail before reserving.
  Bytes evil{0xff, 0xff, 0xff, 0xff};
  Reader r(evil);
  auto v = r.vec<std::uint32_t>(SIZE_MAX, 4, [](Reader& rr) { return rr.u32(); });
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("truncated"), std::string::npos);

  Reader r2(evil);
  auto b = r2.bytes(SIZE_MAX);
  ASSERT_FALSE(b.ok());
}

TEST(Codec, RandomBytesNeverCrashTheDecoder) {
  std::mt19937_64 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes junk(rng() % 80);
    for (auto& x : junk) x = static_cast<std::uint8_t>(rng());
    auto dec = decode_exact<Sample>(junk);
    if (dec.ok()) {
      ++accepted;
      EXPECT_EQ(encode(*dec), junk) << "accepted input must be the canonical encoding";
    }
  }
  SUCCEED() << accepted << " random inputs happened to be canonical";
}

}  // namespace
}  // namespace ol::codec
