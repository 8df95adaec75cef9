#include <gtest/gtest.h>

#include "crypto/multisig.h"
#include "support/committee.h"

namespace ol::crypto {
namespace {

using ol::testing::Committee;

TEST(ValidatorSet, QuorumIsNMinusFWithFEqualNMinusOneOverThree) {
  for (std::size_t n = 1; n <= 100; ++n) {
    std::vector<Ed25519PublicKey> keys(n);
    for (std::size_t i = 0; i < n; ++i) {
      keys[i].bytes[0] = static_cast<std::uint8_t>(i);
      keys[i].bytes[1] = static_cast<std::uint8_t>(i >> 8);
    }
    auto vs = *ValidatorSet::create(keys);
    std::size_t f = (n - 1) / 3;
    EXPECT_EQ(vs.max_faulty(), f);
    EXPECT_EQ(vs.quorum(), n - f);
    // Any two quorums intersect in at least f + 1 validators, so in at least one honest one.
    EXPECT_GE(2 * vs.quorum(), n + f + 1) << "n=" << n;
  }
}

TEST(ValidatorSet, RejectsEmptyAndDuplicates) {
  EXPECT_FALSE(ValidatorSet::create({}).ok());
  Ed25519PublicKey k{};
  EXPECT_FALSE(ValidatorSet::create({k, k}).ok());
}

TEST(QuorumSignature, VerifiesWithQuorumOfDistinctMembers) {
  auto c = Committee::make(4);
  Bytes msg{1, 2, 3};
  auto qs = c.sign_by(msg, {0, 2, 3});
  EXPECT_TRUE(qs.verify(c.set, msg).ok());
  EXPECT_EQ(qs.signers(), (std::vector<std::size_t>{0, 2, 3}));
  EXPECT_TRUE(qs.has_signer(2));
  EXPECT_FALSE(qs.has_signer(1));
}

TEST(QuorumSignature, RejectsBelowQuorum) {
  auto c = Committee::make(4);
  Bytes msg{1};
  auto r = c.sign_by(msg, {0, 1}).verify(c.set, msg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("quorum is 3"), std::string::npos);
}

TEST(QuorumSignature, RejectsDuplicateOrOutOfRangeSigners) {
  auto c = Committee::make(4);
  Bytes msg{1};
  auto s = c.keys[0].sign(msg);
  EXPECT_FALSE(QuorumSignature::from_parts(4, {{0, s}, {0, s}, {1, s}}).ok());
  EXPECT_FALSE(QuorumSignature::from_parts(4, {{4, s}}).ok());
}

TEST(QuorumSignature, RejectsSignatureOverAnotherMessageOrWrongSet) {
  auto c = Committee::make(4);
  Bytes msg{1}, other{2};
  auto qs = c.sign_by(msg, {0, 1, 2});
  EXPECT_FALSE(qs.verify(c.set, other).ok());
  auto c7 = Committee::make(7);
  EXPECT_FALSE(qs.verify(c7.set, msg).ok());
  // Signer 1's signature swapped for one by a non-member over the same message.
  auto outsider = Ed25519KeyPair::generate();
  auto forged = *QuorumSignature::from_parts(
      4, {{0, c.keys[0].sign(msg)}, {1, outsider.sign(msg)}, {2, c.keys[2].sign(msg)}});
  auto r = forged.verify(c.set, msg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("validator 1"), std::string::npos);
}

// Given a quorum signature already verified over the same message, identical signatures are not
// checked again; any other signature is, and so is the shape.
TEST(QuorumSignature, VerifyGivenAVerifiedOneChecksOnlyTheNewSignatures) {
  auto c = Committee::make(4);
  Bytes msg{4, 5, 6};
  auto known = c.sign_by(msg, {0, 1, 2});
  ASSERT_TRUE(known.verify(c.set, msg).ok());
  EXPECT_TRUE(c.sign_by(msg, {0, 1, 3}).verify(c.set, msg, known).ok());
  EXPECT_TRUE(known.verify(c.set, msg, known).ok());

  // Ed25519 is deterministic: signing again gives the bytes `known` holds.
  auto s0 = c.keys[0].sign(msg);
  auto s1 = c.keys[1].sign(msg);
  EXPECT_FALSE(known.has_signer(3));
  auto bad3 = c.keys[3].sign(Bytes{9});
  auto r = QuorumSignature::from_parts(4, {{0, s0}, {1, s1}, {3, bad3}})->verify(c.set, msg, known);
  ASSERT_FALSE(r.ok()) << "a signature the known one lacks is checked";
  EXPECT_NE(r.error().message.find("validator 3"), std::string::npos);
  auto other1 = c.keys[1].sign(Bytes{9});  // validator 1, but not the bytes already checked
  EXPECT_FALSE(QuorumSignature::from_parts(4, {{0, s0}, {1, other1}, {2, c.keys[2].sign(msg)}})
                   ->verify(c.set, msg, known)
                   .ok());
  EXPECT_FALSE(QuorumSignature::from_parts(4, {{0, s0}, {1, s1}})->verify(c.set, msg, known).ok())
      << "below quorum, even if every signature is known";
}

TEST(QuorumSignature, EncodingRoundTripsAndIsStrict) {
  auto c = Committee::make(10);
  Bytes msg{9};
  auto qs = c.sign_by(msg, {1, 3, 5, 7, 8, 9, 0});
  Bytes enc = codec::encode(qs);
  auto dec = codec::decode_exact<QuorumSignature>(enc);
  ASSERT_TRUE(dec.ok()) << dec.error().to_string();
  EXPECT_EQ(*dec, qs);
  EXPECT_TRUE(dec->verify(c.set, msg).ok());

  // A bit set beyond the validator count (10 validators: bits 10..15 of byte 1 must be zero).
  Bytes high_bit = enc;
  high_bit[4 + 1] |= 0x80;
  EXPECT_FALSE(codec::decode_exact<QuorumSignature>(high_bit).ok());
  // Signature count disagreeing with the bitmap.
  Bytes bad_count = enc;
  bad_count[4 + 2] = 6;
  EXPECT_FALSE(codec::decode_exact<QuorumSignature>(bad_count).ok());
  // Validator count above the bound.
  Bytes huge = enc;
  huge[0] = 0xff;
  huge[1] = 0xff;
  EXPECT_FALSE(codec::decode_exact<QuorumSignature>(huge).ok());
  for (std::size_t len = 0; len < enc.size(); ++len) {
    EXPECT_FALSE(codec::decode_exact<QuorumSignature>(ByteView(enc).first(len)).ok());
  }
}

}  // namespace
}  // namespace ol::crypto
