#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "crypto/hash.h"
#include "crypto/secp256k1.h"

namespace ol::crypto {
namespace {

nlohmann::json load_vectors() {
  std::ifstream in(std::string(OL_TEST_DATA_DIR) + "/ethereum_vectors.json");
  return nlohmann::json::parse(in);
}

RecoverableSignature signature_of(const nlohmann::json& v) {
  RecoverableSignature sig;
  auto r = *from_hex_fixed<32>(v["r"].get<std::string>());
  auto s = *from_hex_fixed<32>(v["s"].get<std::string>());
  std::copy(r.begin(), r.end(), sig.bytes.begin());
  std::copy(s.begin(), s.end(), sig.bytes.begin() + 32);
  sig.bytes[64] = v["v"].get<std::uint8_t>();
  return sig;
}

// Vectors produced by ethers (see the data file's provenance).
TEST(Secp256k1, EthersVectorsKeyToAddressAndSignature) {
  auto doc = load_vectors();
  ASSERT_GE(doc["vectors"].size(), 3u);
  Hash32 digest = keccak256(as_bytes(doc["message"].get<std::string>()));
  for (const auto& v : doc["vectors"]) {
    auto key = Secp256k1Key::from_secret(*from_hex(v["secret"].get<std::string>()));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->address().to_checksum_hex(), v["address"].get<std::string>());
    EXPECT_EQ(to_hex(key->public_key(), true), v["public_key"].get<std::string>());
    EXPECT_EQ(to_hex(digest, true), v["digest"].get<std::string>());
    // RFC 6979 is deterministic, so our signature must equal ethers' byte for byte.
    auto sig = key->sign(digest);
    EXPECT_EQ(sig, signature_of(v)) << v["secret"];
    auto recovered = recover_address(digest, signature_of(v));
    ASSERT_TRUE(recovered.ok());
    EXPECT_EQ(recovered->to_checksum_hex(), v["address"].get<std::string>());
  }
}

TEST(Secp256k1, RecoverRejectsHighSAndBadRecoveryId) {
  auto key = Secp256k1Key::generate();
  Hash32 digest = keccak256(as_bytes("payload"));
  auto sig = key.sign(digest);
  ASSERT_TRUE(recover_address(digest, sig).ok());

  auto bad_v = sig;
  bad_v.bytes[64] = 27;  // legacy Ethereum v must be normalized by the caller
  EXPECT_FALSE(recover_address(digest, bad_v).ok());

  // s' = n - s is the malleable twin; it must be refused.
  static const FixedBytes<32> n =
      *from_hex_fixed<32>("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  auto high = sig;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = int(n[i]) - int(sig.bytes[32 + i]) - borrow;
    borrow = d < 0;
    high.bytes[32 + i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  high.bytes[64] ^= 1;
  auto r = recover_address(digest, high);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("high s"), std::string::npos);
}

TEST(Secp256k1, RecoveryOfAnotherDigestGivesAnotherAddress) {
  auto key = Secp256k1Key::generate();
  auto sig = key.sign(keccak256(as_bytes("a")));
  auto other = recover_address(keccak256(as_bytes("b")), sig);
  if (other.ok()) {
    EXPECT_NE(*other, key.address());
  }
}

TEST(Secp256k1, FromSecretRejectsZeroOrderAndWrongLength) {
  EXPECT_FALSE(Secp256k1Key::from_secret(Bytes(32, 0)).ok());
  EXPECT_FALSE(Secp256k1Key::from_secret(
                   *from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"))
                   .ok());
  EXPECT_FALSE(Secp256k1Key::from_secret(Bytes(31, 1)).ok());
}

// EIP-55's own examples.
TEST(Address, Eip55ChecksumExamples) {
  for (const char* text :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    auto a = Address::parse(text);
    ASSERT_TRUE(a.ok()) << text;
    EXPECT_EQ(a->to_checksum_hex(), text);
  }
}

TEST(Address, ParseAcceptsSingleCaseAndRejectsBadChecksumOrShape) {
  EXPECT_TRUE(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").ok());
  EXPECT_TRUE(Address::parse("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").ok());
  auto bad = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("EIP-55"), std::string::npos);
  EXPECT_FALSE(Address::parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").ok());
  EXPECT_FALSE(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").ok());
  EXPECT_FALSE(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beazz").ok());
}

TEST(Secp256k1KeyFile, RoundTripsAndDetectsCorruption) {
  auto dir = std::filesystem::temp_directory_path() / ("ol-secp-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto key = Secp256k1Key::generate();
  auto path = dir / "user.json";
  ASSERT_TRUE(save_secp256k1_key_file(path, key).ok());
  auto loaded = load_secp256k1_key_file(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->address(), key.address());

  auto other = Secp256k1Key::generate();
  auto bad = dir / "bad.json";
  std::ofstream(bad) << R"({"type":"secp256k1","secret":")" << to_hex(other.secret())
                     << R"(","address":")" << key.address().to_checksum_hex() << "\"}";
  auto r = load_secp256k1_key_file(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ol::crypto
