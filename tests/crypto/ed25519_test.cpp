#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/hex.h"
#include "crypto/ed25519.h"

namespace ol::crypto {
namespace {

struct Rfc8032Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1, 2, 3 and SHA(abc).
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6594a7c15e9716ed28dc027beceea1ec40a"},
    {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e"
     "0303dca179c138ac17ad9bef1177331a704"},
};

TEST(Ed25519, Rfc8032Vectors) {
  for (const auto& v : kVectors) {
    auto key = Ed25519KeyPair::from_seed(*from_hex(v.secret));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(to_hex(key->public_key().bytes), v.public_key);
    Bytes msg = *from_hex(v.message);
    Ed25519Signature sig = key->sign(msg);
    EXPECT_EQ(to_hex(sig.bytes), v.signature);
    EXPECT_TRUE(ed25519_verify(key->public_key(), msg, sig));
  }
}

TEST(Ed25519, VerifyRejectsTamperedMessageSignatureOrKey) {
  auto key = Ed25519KeyPair::generate();
  auto other = Ed25519KeyPair::generate();
  Bytes msg{1, 2, 3};
  auto sig = key.sign(msg);
  ASSERT_TRUE(ed25519_verify(key.public_key(), msg, sig));
  Bytes msg2{1, 2, 4};
  EXPECT_FALSE(ed25519_verify(key.public_key(), msg2, sig));
  auto bad = sig;
  bad.bytes[10] ^= 1;
  EXPECT_FALSE(ed25519_verify(key.public_key(), msg, bad));
  EXPECT_FALSE(ed25519_verify(other.public_key(), msg, sig));
  EXPECT_FALSE(ed25519_verify(Ed25519PublicKey{}, msg, sig));
}

TEST(Ed25519, FromSeedRejectsWrongLength) {
  Bytes short_seed(31, 1);
  auto r = Ed25519KeyPair::from_seed(short_seed);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("32 bytes"), std::string::npos);
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ol-keyfile-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, SavesWithMode0600AndLoadsTheSameKey) {
  auto key = Ed25519KeyPair::generate();
  auto path = dir_ / "validator.json";
  ASSERT_TRUE(save_ed25519_key_file(path, key).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_ed25519_key_file(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->public_key(), key.public_key());
  EXPECT_EQ(loaded->seed(), key.seed());
}

TEST_F(KeyFileTest, RefusesToOverwrite) {
  auto path = dir_ / "validator.json";
  ASSERT_TRUE(save_ed25519_key_file(path, Ed25519KeyPair::generate()).ok());
  auto again = save_ed25519_key_file(path, Ed25519KeyPair::generate());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::io);
}

void write(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p) << s;
}

TEST_F(KeyFileTest, LoadErrorsNameTheProblem) {
  auto key = Ed25519KeyPair::generate();
  std::string seed = to_hex(key.seed());
  std::string pub = to_hex(key.public_key().bytes);

  auto expect_error = [&](const std::string& contents, const std::string& needle) {
    auto p = dir_ / "k.json";
    std::filesystem::remove(p);
    write(p, contents);
    auto r = load_ed25519_key_file(p);
    ASSERT_FALSE(r.ok()) << contents;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  // Build a valid file, then damage one thing at a time.
  auto good = dir_ / "good.json";
  ASSERT_TRUE(save_ed25519_key_file(good, key).ok());
  std::ifstream in(good);
  std::string valid((std::istreambuf_iterator<char>(in)), {});
  std::string checksum = valid.substr(valid.find("\"checksum\": \"") + 13, 8);

  expect_error("not json", "not a JSON object");
  expect_error(R"({"type":"secp256k1"})", "expected ed25519");
  expect_error(R"({"type":"ed25519","seed":")" + seed.substr(2) + R"(","public_key":")" + pub +
                   R"(","checksum":")" + checksum + "\"}",
               "expected 32 bytes");
  std::string flipped = seed;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  expect_error(R"({"type":"ed25519","seed":")" + flipped + R"(","public_key":")" + pub +
                   R"(","checksum":")" + checksum + "\"}",
               "does not match");
  expect_error(R"({"type":"ed25519","seed":")" + seed + R"(","public_key":")" + pub +
                   R"(","checksum":"00000000"})",
               "bad checksum");
  auto missing = load_ed25519_key_file(dir_ / "absent.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

}  // namespace
}  // namespace ol::crypto
