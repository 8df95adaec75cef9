#include <cryptopp/keccak.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <random>
#include <span>
#include <unordered_set>

#include "common/hex.h"
#include "crypto/hash.h"
#include "crypto/secp256k1.h"

namespace ol::crypto {
namespace {

std::string hex(const Hash32& h) {
  return to_hex(h);
}

// FIPS 180-2 examples.
TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(hex(sha256(as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Bytes million_a(1000000, 'a');
  EXPECT_EQ(hex(sha256(million_a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  Bytes data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  Sha256 h;
  h.update(ByteView(data).first(1));
  h.update(ByteView(data).subspan(1, 500));
  h.update(ByteView(data).subspan(501));
  EXPECT_EQ(h.finish(), sha256(data));
}

// Ethereum's Keccak-256 (as used for addresses, tx hashes): distinct from SHA3-256.
TEST(Keccak256, KnownAnswers) {
  EXPECT_EQ(hex(keccak256(as_bytes(""))),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(hex(keccak256(as_bytes("abc"))),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // Solidity selector source: keccak256("transfer(address,uint256)") starts a9059cbb.
  EXPECT_EQ(hex(keccak256(as_bytes("transfer(address,uint256)"))).substr(0, 8), "a9059cbb");
  // Not SHA3-256 (whose empty-input digest is a7ffc6f8...).
  EXPECT_NE(hex(keccak256(as_bytes(""))).substr(0, 8), "a7ffc6f8");
}

TEST(Keccak256, MatchesCryptoppOnRandomInputsAcrossBlockBoundaries) {
  std::mt19937_64 rng(42);
  for (std::size_t len : {0, 1, 31, 32, 135, 136, 137, 271, 272, 273, 1000, 4096}) {
    Bytes data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    Hash32 expected;
    CryptoPP::Keccak_256 ref;
    ref.Update(data.data(), data.size());
    ref.Final(expected.data());
    EXPECT_EQ(keccak256(data), expected) << "length " << len;
  }
}

TEST(TaggedHash, DistinctTagsGiveUnrelatedDigests) {
  auto msg = as_bytes("same payload");
  EXPECT_NE(tagged_hash("vote", msg), tagged_hash("timeout", msg));
  EXPECT_NE(tagged_hash("vote", msg), sha256(msg));
  EXPECT_EQ(tagged_hash("vote", msg), tagged_hash("vote", msg));
  // The tag length is part of the input, so tag/payload boundaries cannot be shifted.
  EXPECT_NE(tagged_hash("ab", as_bytes("c")), tagged_hash("a", as_bytes("bc")));
}

// Fills a hash set with 4,096 keys that are zero but for a count in their last 4 bytes, and
// returns its largest bucket. Spread like random keys, that is about Poisson(1) per bucket: a
// bucket of 13 or more is about a one-in-a-million event over the table.
template <typename Key, typename Hasher>
std::size_t largest_bucket_of_counted_keys(std::span<std::uint8_t> (*bytes)(Key&)) {
  std::unordered_set<Key, Hasher> set;
  for (std::uint32_t i = 0; i < 4096; ++i) {
    Key k{};
    const auto v = bytes(k);
    for (std::size_t b = 0; b < 4; ++b)
      v[v.size() - 4 + b] = static_cast<std::uint8_t>(i >> (8 * b));
    set.insert(k);
  }
  EXPECT_EQ(set.size(), 4096u);
  std::size_t largest = 0;
  for (std::size_t b = 0; b < set.bucket_count(); ++b)
    largest = std::max(largest, set.bucket_size(b));
  return largest;
}

// The old hasher took a digest's first 8 bytes: digests ground to share them all landed in one
// bucket. Keyed, they spread like random keys.
TEST(Hash32Hasher, DigestsSharingTheirFirstBytesSpreadOverBuckets) {
  EXPECT_LE((largest_bucket_of_counted_keys<Hash32, Hash32Hasher>(
                [](Hash32& h) { return std::span<std::uint8_t>(h); })),
            12u);
}

// A transfer may name any 20 bytes as its recipient, at no cost beyond the transfer: the old
// ledger hasher (the first 8 bytes) put every account 0x0000000000000000xxxxxxxxxxxxxxxxxxxxxxxx
// in one bucket, so each lookup walked all of them.
TEST(AddressHasher, ChosenAddressesSharingTheirFirstBytesSpreadOverBuckets) {
  EXPECT_LE((largest_bucket_of_counted_keys<Address, AddressHasher>(
                [](Address& a) { return std::span<std::uint8_t>(a.bytes); })),
            12u);
}

#if defined(__GLIBCXX__)
// The keyed hashers are SipHash: libstdc++ must keep their codes in the nodes rather than
// recompute them on every rehash, erase and bucket walk (OL_SLOW_HASHER).
static_assert(!std::__is_fast_hash<Hash32Hasher>::value);
static_assert(!std::__is_fast_hash<AddressHasher>::value);
#endif

TEST(KeyedHash64, IsAFunctionOfTheInputUnderAKeyNobodyElseHas) {
  const auto a = as_bytes("a transaction id");
  EXPECT_EQ(keyed_hash64(a), keyed_hash64(a));
  EXPECT_NE(keyed_hash64(a), keyed_hash64(as_bytes("a transaction ie")));
  // SipHash-2-4 under the all-zero key (the value an unset key would give) differs: the key was
  // drawn.
  std::array<unsigned char, crypto_shorthash_KEYBYTES> zero{};
  std::uint64_t unkeyed = 0;
  crypto_shorthash(reinterpret_cast<unsigned char*>(&unkeyed), a.data(), a.size(), zero.data());
  EXPECT_NE(keyed_hash64(a), unkeyed);
}

}  // namespace
}  // namespace ol::crypto
