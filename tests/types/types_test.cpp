// Core types: canonical round trips, strict decoding, domain-separated digests, verification.
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "types/block.h"
#include "types/timeout.h"
#include "types/vote.h"

#include "support/committee.h"

namespace ol::types {
namespace {

using ol::testing::Committee;

const Hash32 kGenesis = Block::genesis().compute_id();

Hash32 h(std::uint8_t v) {
  Hash32 x{};
  x.fill(v);
  return x;
}

Block sample_block(const Committee& c) {
  Block b;
  b.round = 5;
  b.height = 3;
  b.parent_id = h(7);
  b.justify = c.qc(h(7), 4, 3);
  b.proposer = 1;
  b.timestamp_ms = 1'700'000'000'000;
  b.payload = std::vector<Command>{Bytes{1, 2, 3}, Bytes{}};
  return b;
}

Transaction sample_tx(std::uint64_t nonce = 9) {
  auto key = *crypto::Secp256k1Key::from_secret(h(0x11));
  crypto::Address to;
  to.bytes.fill(0xab);
  return Transaction::sign(1337, nonce, Transfer{to, (Amount(5) << 64) | 42}, key);
}

// Every strict decoder property at once: round trip, every proper prefix fails, a trailing byte
// fails.
template <typename T>
void expect_strict_round_trip(const T& value) {
  const Bytes enc = codec::encode(value);
  auto back = codec::decode_exact<T>(enc);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, value);
  EXPECT_EQ(codec::encode(*back), enc) << "encoding is not canonical";
  for (std::size_t len = 0; len < enc.size(); ++len) {
    EXPECT_FALSE(codec::decode_exact<T>(ByteView(enc.data(), len)).ok()) << "prefix " << len;
  }
  Bytes trailing = enc;
  trailing.push_back(0);
  EXPECT_FALSE(codec::decode_exact<T>(trailing).ok());
}

TEST(Types, VoteRoundTripsStrictly) {
  auto c = Committee::make(4);
  expect_strict_round_trip(c.vote(2, h(1), 10));
}

TEST(Types, QuorumCertRoundTripsStrictlyIncludingGenesis) {
  auto c = Committee::make(4);
  expect_strict_round_trip(c.qc(h(3), 8, 3));
  expect_strict_round_trip(QuorumCert::genesis(kGenesis));
}

TEST(Types, TimeoutAndCertRoundTripStrictly) {
  auto c = Committee::make(4);
  auto hqc = c.qc(h(3), 8, 3);
  expect_strict_round_trip(c.timeout(1, 9, hqc));
  expect_strict_round_trip(c.tc(9, {8, 7, 8}, hqc));
}

TEST(Types, BlockRoundTripsStrictlyWithCommandsAndTransactions) {
  auto c = Committee::make(4);
  Block b = sample_block(c);
  expect_strict_round_trip(b);
  b.payload = std::vector<Transaction>{sample_tx(1), sample_tx(2)};
  expect_strict_round_trip(b);
  expect_strict_round_trip(Block::genesis());
}

TEST(Types, TransactionRoundTripsStrictly) {
  expect_strict_round_trip(sample_tx());
}

TEST(Types, UnknownTagsAreRejected) {
  auto c = Committee::make(4);
  Bytes enc = codec::encode(sample_tx());
  enc[16] = 7;  // action tag follows chain_id and nonce
  EXPECT_EQ(codec::decode_exact<Transaction>(enc).error().code, Errc::decode);

  Block b = sample_block(c);
  Bytes benc = codec::encode(b);
  const std::size_t payload_tag = benc.size() - (1 + 4 + 4 + 3 + 4);
  ASSERT_EQ(benc[payload_tag], 1);
  benc[payload_tag] = 2;
  EXPECT_FALSE(codec::decode_exact<Block>(benc).ok());
}

TEST(Types, OverBoundCountsAreRejectedBeforeAllocating) {
  auto c = Committee::make(4);
  Block b = sample_block(c);
  Bytes enc = codec::encode(b);
  // Overwrite the command count with one above kMaxCommands.
  const std::size_t count_at = enc.size() - (4 + 4 + 3 + 4);
  const std::uint32_t huge = Block::kMaxCommands + 1;
  for (int i = 0; i < 4; ++i) enc[count_at + i] = static_cast<std::uint8_t>(huge >> (8 * i));
  EXPECT_FALSE(codec::decode_exact<Block>(enc).ok());
  // A count within bound but beyond what the input could hold is truncation, not an allocation.
  const std::uint32_t big = Block::kMaxCommands;
  for (int i = 0; i < 4; ++i) enc[count_at + i] = static_cast<std::uint8_t>(big >> (8 * i));
  EXPECT_FALSE(codec::decode_exact<Block>(enc).ok());
}

TEST(Types, TcWithHqcCountDifferentFromSignersDoesNotDecode) {
  auto c = Committee::make(4);
  auto tc = c.tc(9, {8, 7, 8}, c.qc(h(3), 8, 3));
  tc.hqc_rounds.push_back(1);
  EXPECT_FALSE(codec::decode_exact<TimeoutCert>(codec::encode(tc)).ok());
}

TEST(Types, DigestsAreDomainSeparated) {
  // Same numbers, different message kinds: unrelated digests.
  Hash32 id{};
  EXPECT_NE(vote_digest(id, 0), timeout_digest(0, 0));
  EXPECT_NE(vote_digest(id, 0), proposal_digest(id));
  EXPECT_NE(timeout_digest(0, 0), proposal_digest(id));
  EXPECT_NE(vote_digest(h(1), 2), vote_digest(h(1), 3));
  EXPECT_NE(timeout_digest(5, 3), timeout_digest(5, 4));
}

TEST(Types, VoteSignatureNeverVerifiesAsTimeout) {
  auto c = Committee::make(4);
  // A vote whose (block id, round) bytes are laid out like a timeout's still fails as a timeout.
  Vote v = c.vote(0, h(0), 3);
  Timeout t{3, QuorumCert::genesis(kGenesis), 0, v.signature};
  EXPECT_FALSE(t.verify(c.set, kGenesis).ok());
  EXPECT_TRUE(v.verify(c.set).ok());
}

TEST(Types, VoteVerification) {
  auto c = Committee::make(4);
  Vote v = c.vote(1, h(2), 3);
  EXPECT_TRUE(v.verify(c.set).ok());
  Vote wrong_round = v;
  wrong_round.round = 4;
  EXPECT_FALSE(wrong_round.verify(c.set).ok());
  Vote unknown = v;
  unknown.voter = 9;
  EXPECT_FALSE(unknown.verify(c.set).ok());
  Vote other_signer = v;
  other_signer.voter = 2;
  EXPECT_FALSE(other_signer.verify(c.set).ok());
}

TEST(Types, QuorumCertNeedsAQuorumOfValidSignatures) {
  auto c = Committee::make(4);
  EXPECT_TRUE(c.qc(h(1), 2, 3).verify(c.set, kGenesis).ok());
  EXPECT_FALSE(c.qc(h(1), 2, 2).verify(c.set, kGenesis).ok());
  auto qc = c.qc(h(1), 2, 3);
  qc.round = 3;
  EXPECT_FALSE(qc.verify(c.set, kGenesis).ok());
  EXPECT_TRUE(QuorumCert::genesis(kGenesis).verify(c.set, kGenesis).ok());
  EXPECT_FALSE(QuorumCert::genesis(h(1)).verify(c.set, kGenesis).ok());
}

TEST(Types, TimeoutVerification) {
  auto c = Committee::make(4);
  auto hqc = c.qc(h(1), 4, 3);
  EXPECT_TRUE(c.timeout(2, 5, hqc).verify(c.set, kGenesis).ok());
  auto t = c.timeout(2, 5, hqc);
  t.high_qc = c.qc(h(1), 3, 3);  // lowered QC: the signed hqc round no longer matches
  EXPECT_FALSE(t.verify(c.set, kGenesis).ok());
  EXPECT_FALSE(c.timeout(2, 4, hqc).verify(c.set, kGenesis).ok()) << "QC round must be below";
}

TEST(Types, TimeoutCertBindsEverySignersHqcRound) {
  auto c = Committee::make(4);
  auto hqc = c.qc(h(1), 7, 3);
  auto tc = c.tc(9, {7, 5, 6}, hqc);
  EXPECT_TRUE(tc.verify(c.set, kGenesis).ok());
  EXPECT_EQ(tc.highest_qc_round(), 7u);

  auto lowered = tc;
  lowered.hqc_rounds[0] = 5;  // a relayer lowering the highest hqc round
  lowered.high_qc = c.qc(h(1), 6, 3);
  EXPECT_FALSE(lowered.verify(c.set, kGenesis).ok());

  auto not_max = c.tc(9, {7, 5, 6}, c.qc(h(1), 6, 3));
  EXPECT_FALSE(not_max.verify(c.set, kGenesis).ok()) << "high_qc must be the maximum";
  EXPECT_FALSE(c.tc(9, {7, 5}, hqc).verify(c.set, kGenesis).ok()) << "below quorum";
}

TEST(Types, BlockShapeAndIdCommitToEveryField) {
  auto c = Committee::make(4);
  Block b = sample_block(c);
  EXPECT_TRUE(b.validate_shape().ok());
  EXPECT_TRUE(Block::genesis().validate_shape().ok());
  const Hash32 id = b.compute_id();
  auto changed = [&](auto mutate) {
    Block x = b;
    mutate(x);
    return x.compute_id() != id;
  };
  EXPECT_TRUE(changed([](Block& x) { x.round++; }));
  EXPECT_TRUE(changed([](Block& x) { x.height++; }));
  EXPECT_TRUE(changed([](Block& x) { x.proposer++; }));
  EXPECT_TRUE(changed([](Block& x) { x.timestamp_ms++; }));
  EXPECT_TRUE(changed([](Block& x) { x.exec_height += 1; }));
  EXPECT_TRUE(changed([](Block& x) { x.exec_roots.push_back(Hash32{}); }));
  EXPECT_TRUE(changed([](Block& x) { std::get<1>(x.payload)[0][0] ^= 1; }));

  Block bad = b;
  bad.parent_id = h(8);
  EXPECT_FALSE(bad.validate_shape().ok()) << "justify must certify the parent";
  bad = b;
  bad.height = 100;
  bad.exec_height = 80;
  bad.exec_roots.assign(64, h(3));
  EXPECT_TRUE(bad.validate_shape().ok());
  EXPECT_EQ(bad.first_exec_height(), 17u);
  ASSERT_NE(bad.exec_root_at(80), nullptr);
  EXPECT_EQ(bad.exec_root_at(16), nullptr);
  EXPECT_EQ(bad.exec_root_at(81), nullptr);
  bad.exec_roots.push_back(h(3));
  EXPECT_FALSE(bad.validate_shape().ok()) << "at most 64 anchored roots";
  bad.exec_roots.resize(2);
  bad.exec_height = 100;
  EXPECT_FALSE(bad.validate_shape().ok()) << "anchors only heights below the block";
  bad.exec_height = 1;
  EXPECT_FALSE(bad.validate_shape().ok()) << "no anchored height below 1";
  bad = b;
  bad.round = 4;
  EXPECT_FALSE(bad.validate_shape().ok()) << "justify round must be below the block round";
  bad = b;
  bad.height = 0;
  EXPECT_FALSE(bad.validate_shape().ok());
}

TEST(Types, TransactionSenderIsRecoveredNeverClaimed) {
  auto key = *crypto::Secp256k1Key::from_secret(h(0x11));
  Transaction tx = sample_tx();
  auto sender = tx.validate(1337);
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ(*sender, key.address());
  EXPECT_FALSE(tx.validate(1).ok()) << "wrong chain";
  Transaction tampered = tx;
  tampered.nonce++;
  auto other = tampered.recover_sender();
  EXPECT_TRUE(!other.ok() || *other != key.address());
  EXPECT_EQ(tx.signing_hash(), crypto::keccak256(tx.signing_bytes()));
  EXPECT_NE(tx.hash(), tx.signing_hash());
}

TEST(Types, ZeroTransferIsInvalid) {
  auto key = *crypto::Secp256k1Key::from_secret(h(0x11));
  auto tx = Transaction::sign(1, 0, Transfer{crypto::Address{}, 0}, key);
  EXPECT_FALSE(tx.validate(1).ok());
}

}  // namespace
}  // namespace ol::types
