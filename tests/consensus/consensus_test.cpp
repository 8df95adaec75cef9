// The consensus rules, each stated as the rule it checks.
#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "consensus/aggregator.h"
#include "consensus/block_tree.h"
#include "consensus/leader_election.h"
#include "consensus/pacemaker.h"
#include "consensus/replica.h"
#include "consensus/safety_rules.h"

#include "support/committee.h"

namespace ol::consensus {
namespace {

using types::TimeoutCert;

using ol::testing::Committee;

TimeoutCert tc_with(Round round, Round highest_qc_round) {
  TimeoutCert tc;
  tc.round = round;
  tc.high_qc.round = highest_qc_round;
  return tc;
}

const Hash32 kGenesisId = Block::genesis().compute_id();

// A block at `round` on `parent` (id `parent_id`), certified parent by `justify`.
Block child_of(const Block& parent, const Hash32& parent_id, Round round,
               const QuorumCert& justify) {
  Block b;
  b.round = round;
  b.height = parent.height + 1;
  b.parent_id = parent_id;
  b.justify = justify;
  b.payload = std::vector<types::Command>{Bytes{static_cast<std::uint8_t>(round)}};
  return b;
}

// ---- voting rules: one test per clause -------------------------------------------------------

TEST(VoteRule, VotesOnlyInARoundAboveTheLastVotedRound) {
  EXPECT_TRUE(rules::is_new_round(6, 5));
  EXPECT_FALSE(rules::is_new_round(5, 5));
  EXPECT_FALSE(rules::is_new_round(4, 5));
}

TEST(VoteRule, VotesForABlockWhoseRoundIsItsQcRoundPlusOne) {
  EXPECT_TRUE(rules::extends_previous_round(8, 7));
  EXPECT_FALSE(rules::extends_previous_round(9, 7));
  EXPECT_TRUE(rules::safe_to_vote(8, 7, nullptr));
  EXPECT_FALSE(rules::safe_to_vote(9, 7, nullptr));
}

TEST(VoteRule, VotesAfterATcWhenRoundIsTcRoundPlusOneAndQcIsAtLeastTheTcsHighestQc) {
  const auto tc = tc_with(8, 6);
  EXPECT_TRUE(rules::follows_timeout_with_highest_qc(9, 6, &tc));
  EXPECT_TRUE(rules::follows_timeout_with_highest_qc(9, 7, &tc));
  EXPECT_TRUE(rules::safe_to_vote(9, 6, &tc));
}

TEST(VoteRule, RefusesAfterATcWhenTheQcIsBelowTheTcsHighestQc) {
  const auto tc = tc_with(8, 6);
  EXPECT_FALSE(rules::follows_timeout_with_highest_qc(9, 5, &tc));
  EXPECT_FALSE(rules::safe_to_vote(9, 5, &tc));
}

TEST(VoteRule, RefusesATcThatIsNotTheDirectlyPrecedingRound) {
  const auto tc = tc_with(7, 6);
  EXPECT_FALSE(rules::follows_timeout_with_highest_qc(9, 6, &tc));
  EXPECT_FALSE(rules::safe_to_vote(9, 6, &tc));
  EXPECT_FALSE(rules::follows_timeout_with_highest_qc(9, 6, nullptr));
}

// ---- timeout rules: one test per clause ------------------------------------------------------

TEST(TimeoutRule, NeverTimesOutARoundBelowTheLastVotedRound) {
  EXPECT_TRUE(rules::is_not_past_round(5, 5)) << "may time out the round it voted in";
  EXPECT_TRUE(rules::is_not_past_round(6, 5));
  EXPECT_FALSE(rules::is_not_past_round(4, 5));
}

TEST(TimeoutRule, RoundMustBeQcRoundPlusOne) {
  EXPECT_TRUE(rules::is_next_round_of_qc_or_tc(5, 4, nullptr));
  EXPECT_FALSE(rules::is_next_round_of_qc_or_tc(6, 4, nullptr));
}

TEST(TimeoutRule, OrRoundMustBeTcRoundPlusOne) {
  const auto tc = tc_with(5, 3);
  EXPECT_TRUE(rules::is_next_round_of_qc_or_tc(6, 3, &tc));
  EXPECT_FALSE(rules::is_next_round_of_qc_or_tc(7, 3, &tc));
}

TEST(TimeoutRule, CarriedQcMustBeAtLeastTheOneChainRound) {
  EXPECT_TRUE(rules::carries_one_chain_qc(4, 4));
  EXPECT_TRUE(rules::carries_one_chain_qc(5, 4));
  EXPECT_FALSE(rules::carries_one_chain_qc(3, 4));
  EXPECT_FALSE(rules::safe_to_timeout(4, 3, nullptr, 4)) << "next round of QC but QC too low";
}

// ---- SafetyRules: signing, persistence, restarts ---------------------------------------------

struct SafetyFixture : ::testing::Test {
  Committee c = Committee::make(4);
  MemorySafetyStorage storage;
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  Hash32 b1_id = b1.compute_id();
  SafetyRules rules_for(SafetyData d = {}) { return SafetyRules(c.keys[0], 0, storage, d); }
};

TEST_F(SafetyFixture, PersistsBeforeReturningAVote) {
  auto sr = rules_for();
  auto v = sr.vote(b1, b1_id, nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(storage.writes(), 1u);
  EXPECT_EQ(storage.data().last_voted_round, 1u);
  EXPECT_EQ(storage.data().last_vote, *v);
  EXPECT_TRUE(v->verify(c.set).ok());
}

TEST_F(SafetyFixture, StorageFailureMeansNoVoteAndNoStateChange) {
  auto sr = rules_for();
  storage.fail_next_save();
  EXPECT_FALSE(sr.vote(b1, b1_id, nullptr).ok());
  EXPECT_EQ(sr.data(), SafetyData{});
  EXPECT_TRUE(sr.vote(b1, b1_id, nullptr).ok()) << "a later attempt may still succeed";
}

TEST_F(SafetyFixture, SameBlockSameRoundReturnsTheSameVoteDifferentBlockIsRefused) {
  auto sr = rules_for();
  auto v1 = sr.vote(b1, b1_id, nullptr);
  auto again = sr.vote(b1, b1_id, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *v1);
  Block other = b1;
  other.timestamp_ms = 99;
  EXPECT_FALSE(sr.vote(other, other.compute_id(), nullptr).ok());
}

TEST_F(SafetyFixture, RestartFromPersistedDataNeverSignsAConflictingVote) {
  { ASSERT_TRUE(rules_for().vote(b1, b1_id, nullptr).ok()); }
  auto restarted = rules_for(storage.data());
  Block other = b1;
  other.timestamp_ms = 99;
  EXPECT_FALSE(restarted.vote(other, other.compute_id(), nullptr).ok());
}

TEST_F(SafetyFixture, OneProposalPerRoundAcrossRestartsSavedBeforeSigning) {
  {
    auto sr = rules_for();
    storage.fail_next_save();
    EXPECT_FALSE(sr.sign_proposal(1, b1_id).ok()) << "no signature unless the round is saved";
    auto sig = sr.sign_proposal(1, b1_id);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(crypto::ed25519_verify(c.set.key(0), types::proposal_digest(b1_id), *sig));
    EXPECT_EQ(storage.data().last_proposed_round, 1u);
  }
  // Killed after proposing in round 1: back up, it does not propose another block in round 1.
  auto restarted = rules_for(storage.data());
  Block other = b1;
  other.timestamp_ms = 99;
  EXPECT_FALSE(restarted.sign_proposal(1, other.compute_id()).ok());
  EXPECT_TRUE(restarted.sign_proposal(5, other.compute_id()).ok());
  EXPECT_FALSE(restarted.sign_proposal(4, b1_id).ok());
  codec::Writer w;
  storage.data().encode(w);
  codec::Reader r(w.data());
  EXPECT_EQ(SafetyData::decode(r).value().last_proposed_round, 5u);
}

// A validator that leads the next round reserves it in its vote's synced write, so that its
// proposal can leave without another write; the reservation is good for one proposal in this
// process, and a restarted process treats the round as proposed.
TEST_F(SafetyFixture, AReservedRoundIsSignedOnceWithoutAWriteAndTakenAfterARestart) {
  {
    auto sr = rules_for();
    storage.fail_next_save();
    EXPECT_FALSE(sr.vote(b1, b1_id, nullptr, /*reserve_next_round=*/true).ok());
    EXPECT_EQ(storage.data().last_proposed_round, 0u) << "a failed write reserves nothing";
    ASSERT_TRUE(sr.vote(b1, b1_id, nullptr, /*reserve_next_round=*/true).ok());
    EXPECT_EQ(storage.data().last_proposed_round, 2u) << "saved with the vote";
    EXPECT_EQ(storage.writes(), 1u);
    Block b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
    auto sig = sr.sign_proposal(2, b2.compute_id());
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(
        crypto::ed25519_verify(c.set.key(0), types::proposal_digest(b2.compute_id()), *sig));
    EXPECT_EQ(storage.writes(), 1u) << "nothing more written";
    EXPECT_EQ(storage.unsynced_writes(), 0u);
    EXPECT_TRUE(sr.synced()) << "the proposal may leave at once";
    Block other = b2;
    other.timestamp_ms = 99;
    EXPECT_FALSE(sr.sign_proposal(2, other.compute_id()).ok()) << "one proposal per round";
  }
  {
    // Killed after the vote, whether or not it proposed: back up, round 2 is taken.
    auto restarted = rules_for(storage.data());
    Block b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
    EXPECT_FALSE(restarted.sign_proposal(2, b2.compute_id()).ok());
    // A timeout reserves too; a round already proposed in is not reserved again.
    ASSERT_TRUE(restarted.timeout(2, c.qc(b1_id, 1), nullptr, /*reserve_next_round=*/true).ok());
    EXPECT_EQ(storage.data().last_proposed_round, 3u);
    const auto writes = storage.writes();
    EXPECT_TRUE(restarted.sign_proposal(3, b2.compute_id()).ok());
    EXPECT_EQ(storage.writes(), writes);
  }
  {
    // Without a reservation the round is saved unsynced, as before: synced() says so.
    auto sr = rules_for(storage.data());
    ASSERT_TRUE(sr.sign_proposal(7, b1_id).ok());
    EXPECT_FALSE(sr.synced());
    EXPECT_EQ(storage.unsynced_writes(), 1u);
    ASSERT_TRUE(sr.sync_pending().ok());
    EXPECT_TRUE(sr.synced());
  }
}

TEST_F(SafetyFixture, AfterTimingOutARoundNoVoteInIt) {
  auto sr = rules_for();
  auto t = sr.timeout(1, QuorumCert::genesis(kGenesisId), nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->verify(c.set, kGenesisId).ok());
  EXPECT_EQ(storage.data().highest_timeout_round, 1u);
  EXPECT_FALSE(sr.vote(b1, b1_id, nullptr).ok());
}

TEST_F(SafetyFixture, OneChainRoundRisesWithVotedQcsAndGatesTimeouts) {
  auto sr = rules_for();
  ASSERT_TRUE(sr.vote(b1, b1_id, nullptr).ok());
  Block b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
  ASSERT_TRUE(sr.vote(b2, b2.compute_id(), nullptr).ok());
  EXPECT_EQ(sr.data().one_chain_round, 1u);
  // Round 3 entered by a TC of round 2, but carrying the genesis QC (below one-chain round 1).
  auto tc = tc_with(2, 0);
  EXPECT_FALSE(sr.timeout(3, QuorumCert::genesis(kGenesisId), &tc).ok());
  EXPECT_TRUE(sr.timeout(3, c.qc(b1_id, 1), &tc).ok());
}

// ---- quorum arithmetic, leaders, backoff -----------------------------------------------------

TEST(Quorum, ArithmeticForFourToOneHundredValidators) {
  for (std::size_t n = 4; n <= 100; ++n) {
    auto c = Committee::make(1);  // keys irrelevant; build a set of n distinct keys cheaply
    std::vector<crypto::Ed25519PublicKey> pubs(n);
    for (std::size_t i = 0; i < n; ++i) {
      pubs[i].bytes[0] = static_cast<std::uint8_t>(i);
      pubs[i].bytes[1] = static_cast<std::uint8_t>(i >> 8);
    }
    auto set = *crypto::ValidatorSet::create(pubs);
    const std::size_t f = set.max_faulty(), q = set.quorum();
    EXPECT_EQ(f, (n - 1) / 3);
    EXPECT_EQ(q, n - f);
    EXPECT_GE(n, 3 * f + 1) << "f faults tolerated";
    EXPECT_GE(2 * q, n + f + 1) << "two quorums share an honest validator, n=" << n;
    EXPECT_LE(q, n - f) << "honest validators alone form a quorum";
  }
}

TEST(Leaders, RoundRobinIsRoundModN) {
  RoundRobinLeaders leaders(7);
  for (Round r = 0; r < 100; ++r) EXPECT_EQ(leaders.leader(r), r % 7);
  std::vector<int> led(7, 0);
  for (Round r = 1; r <= 70; ++r) ++led[leaders.leader(r)];
  for (int count : led) EXPECT_EQ(count, 10) << "each validator leads once per n rounds";
}

TEST(Backoff, DoublesPerConsecutiveTimeoutUpToTheCap) {
  PacemakerConfig cfg{100, 1000};
  EXPECT_EQ(Pacemaker::backoff_ms(cfg, 0), 100u);
  EXPECT_EQ(Pacemaker::backoff_ms(cfg, 1), 200u);
  EXPECT_EQ(Pacemaker::backoff_ms(cfg, 3), 800u);
  EXPECT_EQ(Pacemaker::backoff_ms(cfg, 4), 1000u);
  EXPECT_EQ(Pacemaker::backoff_ms(cfg, 1000), 1000u) << "saturates, never overflows";
}

TEST(Backoff, TimeoutsGrowTheTimerAndProgressResetsIt) {
  Pacemaker pm({100, 1000});
  EXPECT_EQ(pm.current_round(), 1u);
  EXPECT_TRUE(pm.advance_on_tc(tc_with(1, 0)));
  EXPECT_TRUE(pm.advance_on_tc(tc_with(2, 0)));
  EXPECT_EQ(pm.current_round(), 3u);
  EXPECT_EQ(pm.round_timeout_ms(), 400u);
  EXPECT_TRUE(pm.advance_on_qc(3));
  EXPECT_EQ(pm.current_round(), 4u);
  EXPECT_EQ(pm.round_timeout_ms(), 100u);
}

TEST(PacemakerRule, RoundsAdvanceOnlyOnCertificatesAndNeverBackwards) {
  Pacemaker pm({100, 1000});
  EXPECT_TRUE(pm.advance_on_qc(9));
  EXPECT_EQ(pm.current_round(), 10u);
  EXPECT_FALSE(pm.advance_on_qc(4));
  EXPECT_FALSE(pm.advance_on_tc(tc_with(8, 0)));
  EXPECT_EQ(pm.current_round(), 10u);
}

// ---- aggregators -------------------------------------------------------------------------

TEST(VoteAggregatorRule, QcFormsAtExactlyQuorumDistinctValidSigners) {
  auto c = Committee::make(4);
  VoteAggregator agg(c.set);
  Hash32 id{};
  id[0] = 1;
  RoundWindow w{5, 10};
  EXPECT_FALSE(agg.add(c.vote(0, id, 5), w));
  EXPECT_FALSE(agg.add(c.vote(1, id, 5), w));
  auto qc = agg.add(c.vote(2, id, 5), w);
  ASSERT_TRUE(qc);
  EXPECT_TRUE(qc->verify(c.set, kGenesisId).ok());
  EXPECT_FALSE(agg.add(c.vote(3, id, 5), w)) << "one QC per round";
  EXPECT_EQ(agg.drops().after_quorum, 1u);
}

// Once a round is certified, a vote for it is dropped before its signature is checked (it could
// change nothing); before that, only the replica's own vote skips the check.
TEST(VoteAggregatorRule, VotesAfterQuorumAndOwnVotesAreNotVerified) {
  auto c = Committee::make(4);
  VoteAggregator agg(c.set);
  Hash32 id{};
  id[0] = 3;
  RoundWindow w{5, 10};
  auto forged = c.vote(1, id, 6);
  forged.voter = 0;  // signed by 1, claims 0
  EXPECT_FALSE(agg.add(forged, w));
  EXPECT_EQ(agg.drops().bad_signature, 1u) << "someone else's vote is verified";
  auto own = c.vote(2, id, 5);
  own.voter = 1;  // a bad signature, but handed over as this replica's own vote
  EXPECT_FALSE(agg.add(own, w, /*own=*/true)) << "as its own vote it is counted unchecked";
  EXPECT_EQ(agg.drops().bad_signature, 1u);
  EXPECT_FALSE(agg.add(c.vote(2, id, 5), w));
  ASSERT_TRUE(agg.add(c.vote(3, id, 5), w));
  auto late = c.vote(2, id, 5);
  late.voter = 0;  // a bad signature, after the QC formed
  EXPECT_FALSE(agg.add(late, w));
  EXPECT_EQ(agg.drops().after_quorum, 1u);
  EXPECT_EQ(agg.drops().bad_signature, 1u) << "not checked once the round is certified";
}

// Bad signature with a flipped bit.
template <typename T>
T with_bad_signature(T signed_message) {
  signed_message.signature.bytes[0] ^= 1;
  return signed_message;
}

TEST(VoteAggregatorRule, DropsAndCountsDuplicatesUnknownWrongRoundBadSignatureAndEquivocation) {
  auto c = Committee::make(4);
  VoteAggregator agg(c.set);
  Hash32 id{}, other{};
  other[0] = 9;
  RoundWindow w{5, 10};
  auto v = c.vote(0, id, 5);
  EXPECT_FALSE(agg.add(v, w));
  EXPECT_FALSE(agg.add(v, w));
  EXPECT_EQ(agg.drops().duplicate, 1u);
  auto unknown = c.vote(1, id, 5);
  unknown.voter = 17;
  EXPECT_FALSE(agg.add(unknown, w));
  EXPECT_EQ(agg.drops().unknown_signer, 1u);
  EXPECT_FALSE(agg.add(c.vote(1, id, 4), w));
  EXPECT_FALSE(agg.add(c.vote(1, id, 11), w));
  EXPECT_EQ(agg.drops().stale, 1u) << "round 4: below the window";
  EXPECT_EQ(agg.drops().wrong_round, 1u) << "round 11: above it";
  EXPECT_FALSE(agg.add(with_bad_signature(c.vote(2, id, 5)), w));
  EXPECT_EQ(agg.drops().bad_signature, 1u);
  EXPECT_FALSE(agg.add(c.vote(0, other, 5), w));
  EXPECT_EQ(agg.drops().equivocation, 1u);
  EXPECT_FALSE(agg.add(c.vote(1, id, 5), w));
  EXPECT_TRUE(agg.add(c.vote(3, id, 5), w)) << "0, 1 and 3 certify the block 0 voted for first";
}

// The caller hands over only votes that came from their voter, so everything a voter sends in a
// round is its own doing: its first vote is checked, the rest are dropped unchecked. However many
// votes a faulty validator sends, it costs the others one signature check per round.
TEST(VoteAggregatorRule, OnlyAVotersFirstVoteInARoundIsChecked) {
  auto c = Committee::make(4);
  VoteAggregator agg(c.set);
  Hash32 id{}, other{};
  id[0] = 1;
  other[0] = 2;
  RoundWindow w{5, 10};
  EXPECT_FALSE(agg.add(c.vote(0, id, 5), w));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(agg.add(with_bad_signature(c.vote(0, other, 5)), w));
    EXPECT_FALSE(agg.add(with_bad_signature(c.vote(0, id, 5)), w));
  }
  EXPECT_EQ(agg.drops().equivocation, 3u) << "a second block from voter 0, not checked";
  EXPECT_EQ(agg.drops().duplicate, 3u) << "the same block again, not checked";
  EXPECT_EQ(agg.drops().bad_signature, 0u);

  // A voter whose first vote fails its check is not heard in that round again, even with a
  // good vote; in the next round it is.
  EXPECT_FALSE(agg.add(with_bad_signature(c.vote(1, id, 5)), w));
  EXPECT_FALSE(agg.add(with_bad_signature(c.vote(1, id, 5)), w));
  EXPECT_FALSE(agg.add(c.vote(1, id, 5), w));
  EXPECT_EQ(agg.drops().bad_signature, 1u);
  EXPECT_EQ(agg.drops().after_bad_signature, 2u);
  EXPECT_FALSE(agg.add(c.vote(2, id, 5), w)) << "0 and 2: voter 1 does not count";
  ASSERT_TRUE(agg.add(c.vote(3, id, 5), w));
  EXPECT_FALSE(agg.add(c.vote(1, id, 6), w));
  EXPECT_EQ(agg.drops().after_bad_signature, 2u);
  EXPECT_EQ(agg.drops().total(), 9u);
  EXPECT_EQ(agg.drops().by_reason().size(), DropCounts::kReasons.size());
}

TEST(TimeoutAggregatorRule, OnlyAnAuthorsFirstTimeoutInARoundIsChecked) {
  auto c = Committee::make(4);
  TimeoutAggregator agg(c.set);
  Hash32 a{};
  a[0] = 1;
  RoundWindow w{9, 20};
  EXPECT_FALSE(agg.add(c.timeout(0, 9, c.qc(a, 6)), w));
  EXPECT_FALSE(agg.add(with_bad_signature(c.timeout(0, 9, c.qc(a, 8))), w));
  EXPECT_FALSE(agg.add(c.timeout(0, 9, c.qc(a, 8)), w)) << "re-sent with a higher QC";
  EXPECT_EQ(agg.drops().duplicate, 2u);
  EXPECT_EQ(agg.drops().bad_signature, 0u) << "the first timeout was kept; the rest unchecked";
  EXPECT_FALSE(agg.add(with_bad_signature(c.timeout(1, 9, c.qc(a, 6))), w));
  EXPECT_FALSE(agg.add(c.timeout(1, 9, c.qc(a, 6)), w));
  EXPECT_EQ(agg.drops().bad_signature, 1u);
  EXPECT_EQ(agg.drops().after_bad_signature, 1u);
  EXPECT_EQ(agg.count(9), 1u);
  EXPECT_FALSE(agg.add(c.timeout(2, 9, c.qc(a, 6)), w));
  auto tc = agg.add(c.timeout(3, 9, c.qc(a, 7)), w);
  ASSERT_TRUE(tc);
  EXPECT_EQ(tc->hqc_rounds, (std::vector<Round>{6, 6, 7})) << "signers 0, 2 and 3";
  EXPECT_TRUE(tc->verify(c.set, kGenesisId).ok());
}

TEST(TimeoutAggregatorRule, TcFromQuorumKeepsEverySignersHqcRoundAndTheHighestQc) {
  auto c = Committee::make(4);
  TimeoutAggregator agg(c.set);
  Hash32 a{}, b{};
  a[0] = 1;
  b[0] = 2;
  RoundWindow w{9, 20};
  EXPECT_FALSE(agg.add(c.timeout(3, 9, c.qc(a, 6)), w));
  EXPECT_FALSE(agg.add(c.timeout(3, 9, c.qc(a, 6)), w));
  EXPECT_EQ(agg.drops().duplicate, 1u);
  EXPECT_FALSE(agg.add(c.timeout(0, 9, c.qc(b, 8)), w));
  auto tc = agg.add(c.timeout(1, 9, c.qc(a, 7)), w);
  ASSERT_TRUE(tc);
  EXPECT_EQ(tc->round, 9u);
  EXPECT_EQ(tc->hqc_rounds, (std::vector<Round>{8, 7, 6}));
  EXPECT_EQ(tc->highest_qc_round(), 8u);
  EXPECT_EQ(tc->high_qc.block_id, b);
  EXPECT_TRUE(tc->verify(c.set, kGenesisId).ok());
}

// ---- block tree and the commit rule ------------------------------------------------------

struct TreeFixture : ::testing::Test {
  Committee c = Committee::make(4);
  BlockTree tree{Block::genesis(), QuorumCert::genesis(kGenesisId)};
  // Inserts a child of `parent_id` at `round`.
  Hash32 add(const Hash32& parent_id, Round round) {
    const Block& parent = *tree.find(parent_id);
    QuorumCert justify =
        parent.round == 0 ? QuorumCert::genesis(kGenesisId) : c.qc(parent_id, parent.round);
    Block b = child_of(parent, parent_id, round, justify);
    Hash32 id = b.compute_id();
    EXPECT_TRUE(tree.insert(b, id).ok());
    return id;
  }
};

TEST_F(TreeFixture, InsertNeedsAKnownParentAndLinkedHeightAndRound) {
  Block orphan = child_of(Block::genesis(), Hash32{}, 1, QuorumCert::genesis(Hash32{}));
  orphan.parent_id[0] = 0x42;
  EXPECT_EQ(tree.insert(orphan, orphan.compute_id()).error().code, Errc::not_found);
  Block bad_height = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  bad_height.height = 5;
  EXPECT_FALSE(tree.insert(bad_height, bad_height.compute_id()).ok());
  EXPECT_EQ(tree.size(), 1u);
}

TEST_F(TreeFixture, BlockAndDirectNextRoundChildBothCertifiedCommitsTheBlock) {
  Hash32 b1 = add(kGenesisId, 1);
  Hash32 b2 = add(b1, 2);  // b2.justify certifies b1
  // A QC for b2 (round 2 == b1.round + 1): b1 commits.
  auto qc2 = c.qc(b2, 2);
  ASSERT_TRUE(tree.record_qc(qc2));
  auto cand = tree.commit_candidate(qc2);
  ASSERT_TRUE(cand);
  EXPECT_EQ(*cand, b1);
}

TEST_F(TreeFixture, CertifiedChildInALaterNonConsecutiveRoundCommitsNothing) {
  Hash32 b1 = add(kGenesisId, 1);
  Hash32 b3 = add(b1, 3);  // round 2 timed out
  EXPECT_FALSE(tree.commit_candidate(c.qc(b3, 3)));
}

TEST_F(TreeFixture, CommitDeliversAncestorsInOrderExactlyOnceAndPrunesForks) {
  Hash32 b1 = add(kGenesisId, 1);
  Hash32 b2 = add(b1, 2);
  Hash32 fork = add(b1, 3);
  Hash32 b4 = add(b2, 4);
  Hash32 b5 = add(b4, 5);
  auto qc5 = c.qc(b5, 5);
  auto cand = tree.commit_candidate(qc5);
  ASSERT_TRUE(cand);
  EXPECT_EQ(*cand, b4);
  auto committed = tree.commit(b4, tree.find(b5)->justify);
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed[0].block.round, 1u);
  EXPECT_EQ(committed[1].block.round, 2u);
  EXPECT_EQ(committed[2].block.round, 4u);
  EXPECT_EQ(committed[0].certificate, tree.find(b5) ? committed[1].block.justify : QuorumCert{});
  EXPECT_EQ(tree.root_id(), b4);
  EXPECT_FALSE(tree.contains(fork));
  EXPECT_FALSE(tree.contains(b1));
  EXPECT_FALSE(tree.commit_candidate(qc5)) << "already committed: never again";
}

// ---- the replica: invalid input never crashes or corrupts ----------------------------------

struct NoPayload final : PayloadSource {
  types::Payload next_payload(Round, Height, const Hash32&) override {
    return std::vector<types::Command>{};
  }
};

// One replica of a 4-validator committee, fed by hand.
class ReplicaInput : public ::testing::Test {
 protected:
  Replica& replica(ValidatorIndex self) {
    r_ = std::make_unique<Replica>(c.set, self, c.keys[self], ReplicaConfig{}, RecoveryState{},
                                   storage, leaders, payload, nullptr);
    return *r_;
  }
  Committee c = Committee::make(4);
  MemorySafetyStorage storage;
  RoundRobinLeaders leaders{4};
  NoPayload payload;
  std::unique_ptr<Replica> r_;
};

TEST_F(ReplicaInput, UnknownParentProducesASyncRequest) {
  Replica& r = replica(0);
  (void)r.start(0);
  // A valid round-2 proposal by leader 2 whose parent (a round-1 block) we never saw.
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  Hash32 b1_id = b1.compute_id();
  Block b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
  b2.proposer = 2;
  ProposalMsg p{b2, std::nullopt, c.keys[2].sign(types::proposal_digest(b2.compute_id()))};
  auto effects = r.on_message(0, 2, p);
  bool requested = false;
  for (const auto& e : effects) {
    if (auto* rb = std::get_if<RequestBlocks>(&e)) requested = rb->request.block_id == b1_id;
  }
  EXPECT_TRUE(requested);
  EXPECT_EQ(r.current_round(), 2u) << "the verified QC still advances the round";
}

// Every message naming a block we lack would ask for it again; within the retry interval one
// request stands for all of them.
TEST_F(ReplicaInput, ABlockAskedForIsNotAskedForAgainWithinTheRetryInterval) {
  Replica& r = replica(0);
  (void)r.start(0);
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  const Hash32 b1_id = b1.compute_id();
  const auto requests = [&](const Effects& effects) {
    std::size_t n = 0;
    for (const auto& e : effects) {
      if (auto* rb = std::get_if<RequestBlocks>(&e)) n += rb->request.block_id == b1_id;
    }
    return n;
  };
  const SyncInfo names_b1{c.qc(b1_id, 1), std::nullopt};
  EXPECT_EQ(requests(r.on_message(1'000, 1, names_b1)), 1u);
  EXPECT_EQ(requests(r.on_message(1'001, 2, names_b1)), 0u);
  EXPECT_EQ(requests(r.on_message(1'000 + Replica::kSyncRequestRetryMs - 1, 3, names_b1)), 0u);
  EXPECT_EQ(requests(r.on_message(1'000 + Replica::kSyncRequestRetryMs, 3, names_b1)), 1u)
      << "unanswered: asked again after the interval";
}

// A response that does not reach the tree (its oldest block's parent is missing too) is kept,
// and asks for that parent, not for the block it answered again before the interval: it used to,
// at once, so that a deep chain after a stall was asked for hundreds of times a second. The
// response that reaches the tree brings in every block kept above it.
TEST_F(ReplicaInput, AResponseThatDoesNotReachTheTreeIsKeptAndAsksOnlyForItsParent) {
  Replica& r = replica(0);
  (void)r.start(0);
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  const Hash32 b1_id = b1.compute_id();
  Block b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
  const Hash32 b2_id = b2.compute_id();
  Block b3 = child_of(b2, b2_id, 3, c.qc(b2_id, 2));
  const Hash32 b3_id = b3.compute_id();
  const auto requests_for = [](const Effects& effects, const Hash32& id) {
    std::size_t n = 0;
    for (const auto& e : effects) {
      if (auto* rb = std::get_if<RequestBlocks>(&e)) n += rb->request.block_id == id;
    }
    return n;
  };
  EXPECT_EQ(requests_for(r.on_message(1'000, 1, SyncInfo{c.qc(b3_id, 3), std::nullopt}), b3_id),
            1u);
  // Its answer holds b3 alone; b2 is missing as well.
  const auto answered = r.on_message(1'010, 1, SyncResponse{{b3}});
  EXPECT_EQ(requests_for(answered, b2_id), 1u) << "more history is asked for";
  EXPECT_EQ(requests_for(answered, b3_id), 0u) << "but not the block just answered";
  EXPECT_EQ(r.fetched_blocks(), 1u);
  // b2's answer holds b2 alone; b1 is missing too.
  const auto deeper = r.on_message(1'020, 1, SyncResponse{{b2}});
  EXPECT_EQ(requests_for(deeper, b1_id), 1u);
  EXPECT_EQ(requests_for(deeper, b3_id), 0u);
  EXPECT_FALSE(r.tree().contains(b3_id));
  // b1's answer reaches the tree: b1 goes in, and the kept b2 and b3 after it.
  const auto reached = r.on_message(1'030, 1, SyncResponse{{b1}});
  EXPECT_TRUE(r.tree().contains(b3_id));
  EXPECT_EQ(r.fetched_blocks(), 0u);
  std::vector<Hash32> persisted;
  for (const auto& e : reached) {
    if (auto* p = std::get_if<PersistBlock>(&e)) persisted.push_back(p->id);
  }
  ASSERT_GE(persisted.size(), 3u);  // (then its own proposal, if it leads the next round)
  persisted.resize(3);
  EXPECT_EQ(persisted, (std::vector<Hash32>{b1_id, b2_id, b3_id})) << "oldest first";
  EXPECT_EQ(requests_for(reached, b3_id), 0u) << "nothing left to ask for";
}

// A chain several responses deep is fetched in as many responses, each asking below the last:
// before blocks were kept, each walk inserted only its last response and began again from the
// top, so a chain of N blocks took N / 64 walks of up to N / 64 responses each.
TEST_F(ReplicaInput, ADeepChainIsFetchedInOneWalk) {
  Replica& r = replica(0);
  (void)r.start(0);
  constexpr std::size_t kDepth = 3 * kMaxSyncBlocks + 10;
  std::vector<Block> chain{Block::genesis()};
  std::vector<Hash32> ids{kGenesisId};
  for (std::size_t h = 1; h <= kDepth; ++h) {
    const QuorumCert justify = h == 1 ? QuorumCert::genesis(kGenesisId) : c.qc(ids[h - 1], h - 1);
    chain.push_back(child_of(chain[h - 1], ids[h - 1], h, justify));
    ids.push_back(chain.back().compute_id());
  }
  // What a peer answers for a request: the block asked for and its ancestors, newest first.
  const auto answer = [&](const Hash32& id) {
    const auto top = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
    std::vector<Block> blocks;
    for (std::size_t h = top; h >= 1 && blocks.size() < kMaxSyncBlocks; --h) {
      blocks.push_back(chain[h]);
    }
    return SyncResponse{std::move(blocks)};
  };
  auto effects = r.on_message(1'000, 1, SyncInfo{c.qc(ids[kDepth], kDepth), std::nullopt});
  std::size_t responses = 0;
  for (std::uint64_t now = 1'010; responses < 20; now += 10) {
    std::optional<Hash32> asked;
    for (const auto& e : effects) {
      if (auto* rb = std::get_if<RequestBlocks>(&e)) asked = rb->request.block_id;
    }
    if (!asked) break;
    effects = r.on_message(now, 1, answer(*asked));
    ++responses;
  }
  EXPECT_TRUE(r.tree().contains(ids[kDepth]));
  EXPECT_EQ(responses, 4u) << "(3 * 64 + 10) / 64 rounded up";
  EXPECT_EQ(r.fetched_blocks(), 0u);
  EXPECT_EQ(r.stats().invalid, 0u);
}

TEST_F(ReplicaInput, MisSignedAndMalformedInputIsDroppedAndCounted) {
  Replica& r = replica(0);
  (void)r.start(0);
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  b1.proposer = 1;
  ProposalMsg forged{b1, std::nullopt, c.keys[3].sign(types::proposal_digest(b1.compute_id()))};
  EXPECT_TRUE(r.on_message(0, 3, forged).empty());
  ProposalMsg wrong_leader = forged;
  wrong_leader.block.proposer = 3;
  EXPECT_TRUE(r.on_message(0, 3, wrong_leader).empty());
  EXPECT_TRUE(r.on_message(0, 99, Message(SyncInfo{})).empty()) << "unknown sender";
  EXPECT_EQ(r.stats().invalid, 3u);
  EXPECT_EQ(storage.writes(), 0u) << "nothing signed";
  EXPECT_EQ(r.current_round(), 1u);
}

TEST_F(ReplicaInput, HonestLeaderProposesAndVotesThroughItsOwnSafetyRules) {
  Replica& r = replica(1);  // leads round 1
  auto effects = r.start(0);
  bool proposed = false, voted = false, timer = false;
  for (const auto& e : effects) {
    if (auto* b = std::get_if<Broadcast>(&e))
      proposed |= std::holds_alternative<ProposalMsg>(b->message);
    if (auto* b = std::get_if<Broadcast>(&e)) voted |= std::holds_alternative<Vote>(b->message);
    EXPECT_FALSE(std::holds_alternative<SendTo>(e)) << "nothing goes to one validator alone";
    timer |= std::holds_alternative<SetTimer>(e);
  }
  EXPECT_TRUE(proposed);
  EXPECT_TRUE(voted) << "the vote goes to every validator";
  EXPECT_TRUE(timer);
  EXPECT_EQ(storage.data().last_voted_round, 1u);
  EXPECT_EQ(storage.data().last_proposed_round, 1u);
  // The proposed round was saved unsynced and the vote's synced save covered it: one synced
  // write for the round, no separate sync.
  EXPECT_EQ(storage.unsynced_writes(), 1u);
  EXPECT_EQ(storage.writes(), 1u);
  EXPECT_EQ(storage.syncs(), 0u);
}

// Records what a leader may anchor: the `committed` bound Replica passes to exec_anchor.
struct RecordsAnchorBound final : PayloadSource {
  types::Payload next_payload(Round, Height, const Hash32&) override {
    return std::vector<types::Command>{};
  }
  ExecAnchor exec_anchor(const types::Block& parent, Height committed) override {
    bounds.push_back(committed);
    return {parent.exec_height, {}};
  }
  std::vector<Height> bounds;
};

ProposalMsg signed_proposal(const Committee& c, const Block& b,
                            std::optional<TimeoutCert> tc = std::nullopt) {
  return ProposalMsg{b, std::move(tc),
                     c.keys[b.proposer].sign(types::proposal_digest(b.compute_id()))};
}

// Validator `self` of four, with b1 (round 1, by validator 1) and b2 (round 2, by validator 2,
// on b1's certificate) proposed to it.
class ReplicaAnchors : public ::testing::Test {
 protected:
  Replica& with_two_blocks(ValidatorIndex self) {
    r_ = std::make_unique<Replica>(c.set, self, c.keys[self], ReplicaConfig{}, RecoveryState{},
                                   storage, leaders, payload, nullptr);
    (void)r_->start(0);
    b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
    b1.proposer = 1;
    b1_id = b1.compute_id();
    b2 = child_of(b1, b1_id, 2, c.qc(b1_id, 1));
    b2.proposer = 2;
    b2_id = b2.compute_id();
    (void)r_->on_message(1, 1, signed_proposal(c, b1));
    (void)r_->on_message(2, 2, signed_proposal(c, b2));
    return *r_;
  }
  Committee c = Committee::make(4);
  RoundRobinLeaders leaders{4};
  RecordsAnchorBound payload;
  MemorySafetyStorage storage;
  std::unique_ptr<Replica> r_;
  Block b1, b2;
  Hash32 b1_id{}, b2_id{};
};

// On an unbroken chain the leader may anchor what its certificate commits: the grandparent.
TEST_F(ReplicaAnchors, ALeaderMayAnchorWhatItsProposalsCertificateCommits) {
  Replica& r = with_two_blocks(3);
  (void)r.on_message(3, 2, SyncInfo{c.qc(b2_id, 2), std::nullopt});
  ASSERT_EQ(r.current_round(), 3u);
  ASSERT_EQ(payload.bounds.size(), 1u) << "validator 3 proposed round 3";
  EXPECT_EQ(payload.bounds[0], 1u) << "QC(b2) commits b1 (height 1) for every voter";
}

// The chaos run's stall, at one leader: it committed b1 through a certificate (for b2) that
// formed from broadcast votes only at some validators, after they had timed out; the round-2
// timeout certificate names b1's, so the chain goes on from b1 (y, round 3), and y's certificate
// commits nothing. This leader must not anchor height 1 in round 4: a voter that never saw b2's
// certificate has not executed height 1 and could not vote (with two such validators of four, no
// proposal of the others would be certified again, and the chain would never commit height 1
// for them).
TEST_F(ReplicaAnchors, ALeaderAnchorsNothingItsChainDoesNotCommit) {
  Replica& r = with_two_blocks(0);
  (void)r.on_message(3, 3, SyncInfo{c.qc(b2_id, 2), std::nullopt});
  ASSERT_EQ(r.tree().root().height, 1u) << "this leader committed b1 through b2's certificate";

  const TimeoutCert tc2 = c.tc(2, {1, 1, 1}, c.qc(b1_id, 1));
  Block y = child_of(b1, b1_id, 3, c.qc(b1_id, 1));
  y.proposer = 3;
  const Hash32 y_id = y.compute_id();
  (void)r.on_message(4, 3, signed_proposal(c, y, tc2));
  ASSERT_TRUE(r.tree().contains(y_id));
  (void)r.on_message(5, 1, SyncInfo{c.qc(y_id, 3), std::nullopt});
  ASSERT_EQ(r.current_round(), 4u);
  ASSERT_EQ(payload.bounds.size(), 1u) << "validator 0 proposed round 4";
  EXPECT_EQ(payload.bounds[0], 0u)
      << "y's chain commits nothing above genesis: height 1 is not anchored";
}

// A leader that does not vote for its own block (here its payload source refuses it) syncs the
// proposed round itself before the proposal leaves; if that sync fails, nothing leaves.
struct RefusesEverything final : PayloadSource {
  types::Payload next_payload(Round, Height, const Hash32&) override {
    return std::vector<types::Command>{};
  }
  bool votable(const types::Block&, const Hash32&) override { return false; }
};

TEST(ReplicaSync, AProposalWithoutItsLeadersVoteLeavesOnlyAfterASync) {
  auto c = Committee::make(4);
  RoundRobinLeaders leaders{4};
  RefusesEverything payload;
  auto proposals = [](const Effects& effects) {
    std::size_t n = 0;
    for (const auto& e : effects) {
      if (auto* b = std::get_if<Broadcast>(&e))
        n += std::holds_alternative<ProposalMsg>(b->message);
    }
    return n;
  };
  {
    MemorySafetyStorage storage;
    Replica r(c.set, 1, c.keys[1], ReplicaConfig{}, RecoveryState{}, storage, leaders, payload,
              nullptr);
    EXPECT_EQ(proposals(r.start(0)), 1u);
    EXPECT_EQ(storage.writes(), 0u) << "no vote";
    EXPECT_EQ(storage.syncs(), 1u);
  }
  {
    MemorySafetyStorage storage;
    storage.fail_next_sync();
    Replica r(c.set, 1, c.keys[1], ReplicaConfig{}, RecoveryState{}, storage, leaders, payload,
              nullptr);
    const auto effects = r.start(0);
    EXPECT_EQ(proposals(effects), 0u) << "an unsynced proposal must not leave";
    for (const auto& e : effects) {
      EXPECT_FALSE(std::holds_alternative<SendTo>(e) || std::holds_alternative<Broadcast>(e));
    }
    EXPECT_EQ(storage.data().last_proposed_round, 1u) << "and the round is not proposed again";
  }
}

// The leader of round 2 reserved the round when it voted in round 1: when round 1 is certified,
// its proposal leaves at once, and its own vote on it (a synced write) follows in
// on_own_input(). Killed in between, it comes back without proposing round 2 again.
TEST(ReplicaSync, AReservedRoundsProposalLeavesBeforeTheLeadersOwnVote) {
  auto c = Committee::make(4);
  RoundRobinLeaders leaders{4};
  NoPayload payload;
  MemorySafetyStorage storage;
  auto r = std::make_unique<Replica>(c.set, 2, c.keys[2], ReplicaConfig{}, RecoveryState{}, storage,
                                     leaders, payload, nullptr);
  (void)r->start(0);
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  b1.proposer = 1;
  const Hash32 b1_id = b1.compute_id();
  ProposalMsg p1{b1, std::nullopt, c.keys[1].sign(types::proposal_digest(b1_id))};
  (void)r->on_message(1, 1, p1);
  ASSERT_EQ(storage.data().last_voted_round, 1u);
  EXPECT_EQ(storage.data().last_proposed_round, 2u) << "reserved with the vote";
  const auto writes = storage.writes();

  auto count = [](const Effects& effects, auto kind) {
    std::size_t n = 0;
    for (const auto& e : effects) {
      if (auto* b = std::get_if<Broadcast>(&e)) {
        n += std::holds_alternative<decltype(kind)>(b->message);
      }
    }
    return n;
  };
  const auto certified = r->on_message(2, 3, SyncInfo{c.qc(b1_id, 1), std::nullopt});
  EXPECT_EQ(r->current_round(), 2u);
  EXPECT_EQ(count(certified, ProposalMsg{}), 1u) << "the proposal leaves with this input";
  EXPECT_EQ(count(certified, Vote{}), 0u) << "before the leader's own vote";
  EXPECT_EQ(storage.writes(), writes) << "and without a write of its own";
  EXPECT_EQ(storage.syncs(), 0u);
  ASSERT_TRUE(r->has_own_input());

  // Killed now: the restarted replica is in round 2 but does not propose in it again.
  {
    MemorySafetyStorage copy = storage;
    RecoveryState rec;
    rec.safety = copy.data();
    rec.high_qc = copy.high_qc();
    Replica restarted(c.set, 2, c.keys[2], ReplicaConfig{}, rec, copy, leaders, payload, nullptr);
    const auto effects = restarted.start(3);
    EXPECT_EQ(restarted.current_round(), 2u);
    EXPECT_EQ(count(effects, ProposalMsg{}), 0u);
    EXPECT_FALSE(restarted.has_own_input());
  }

  const auto own = r->on_own_input(3);
  EXPECT_EQ(count(own, Vote{}), 1u) << "the leader votes for its own block";
  EXPECT_EQ(count(own, ProposalMsg{}), 0u);
  EXPECT_EQ(storage.writes(), writes + 1);
  EXPECT_EQ(storage.data().last_voted_round, 2u);
  EXPECT_FALSE(r->has_own_input());
}

// ---- whole committees: a synchronous in-memory network, timers fired by hand ------------------

/// Persisted and committed blocks of one validator: its database, which survives restarts and
/// answers peers' sync requests.
struct BlockStore final : CommittedBlocks {
  std::map<Hash32, Block> blocks;
  std::vector<Block> committed;
  std::optional<Block> find(const Hash32& id) const override {
    auto it = blocks.find(id);
    return it == blocks.end() ? std::nullopt : std::optional<Block>(it->second);
  }
};

struct Cluster {
  struct Member {
    MemorySafetyStorage storage;
    BlockStore store;
    NoPayload payload;
    std::unique_ptr<Replica> replica;
    std::optional<Round> timer;
    QuorumCert root_qc = QuorumCert::genesis(kGenesisId);
  };
  struct InFlight {
    ValidatorIndex from, to;
    Message message;
  };

  explicit Cluster(std::size_t n) : c(Committee::make(n)), leaders(n), members(n) {
    for (std::size_t i = 0; i < n; ++i) boot(static_cast<ValidatorIndex>(i));
  }

  /// Starts (or restarts) validator `i` from what it stored.
  void boot(ValidatorIndex i) {
    Member& m = members[i];
    RecoveryState rec;
    if (!m.store.committed.empty()) {
      rec.root = m.store.committed.back();
      rec.root_qc = m.root_qc;
    }
    rec.safety = m.storage.data();
    rec.high_qc = m.storage.high_qc();
    rec.last_tc = m.storage.last_tc();
    m.timer.reset();
    m.replica = std::make_unique<Replica>(c.set, i, c.keys[i], ReplicaConfig{}, rec, m.storage,
                                          leaders, m.payload, &m.store);
    apply(i, m.replica->start(now));
  }

  void apply(ValidatorIndex i, Effects effects) {
    for (auto& e : effects) {
      if (auto* s = std::get_if<SendTo>(&e)) wire.push_back({i, s->to, std::move(s->message)});
      if (auto* b = std::get_if<Broadcast>(&e)) {
        for (std::size_t to = 0; to < members.size(); ++to) {
          if (to != i) wire.push_back({i, static_cast<ValidatorIndex>(to), b->message});
        }
      }
      if (auto* r = std::get_if<RequestBlocks>(&e)) wire.push_back({i, r->to, r->request});
      if (auto* t = std::get_if<SetTimer>(&e)) members[i].timer = t->round;
      if (auto* p = std::get_if<PersistBlock>(&e)) {
        EXPECT_EQ(p->id, p->block.compute_id());
        members[i].store.blocks[p->id] = p->block;
      }
      if (auto* k = std::get_if<Commit>(&e)) {
        EXPECT_EQ(k->certificate.block_id, k->block.compute_id());  // the node relies on it
        members[i].store.blocks[k->block.compute_id()] = k->block;
        members[i].store.committed.push_back(k->block);
        members[i].root_qc = k->certificate;
      }
    }
    if (members[i].replica->has_own_input()) apply(i, members[i].replica->on_own_input(now));
  }

  /// Delivers until the network is quiet or `budget` messages went through (a live committee
  /// never goes quiet); `drop` decides which messages are lost.
  void deliver_all(std::size_t budget = 400) {
    while (!wire.empty() && budget-- > 0) {
      InFlight f = std::move(wire.front());
      wire.pop_front();
      if (drop && drop(f.from, f.to, f.message)) continue;
      apply(f.to, members[f.to].replica->on_message(now, f.from, f.message));
    }
  }

  /// Every validator's armed timer fires (time jumps past any timeout), then the network settles.
  void fire_timers() {
    now += 60'000;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (auto round = std::exchange(members[i].timer, std::nullopt)) {
        apply(static_cast<ValidatorIndex>(i), members[i].replica->on_timer(now, *round));
      }
    }
    deliver_all();
  }

  Height height(ValidatorIndex i) const {
    return members[i].store.committed.empty() ? 0 : members[i].store.committed.back().height;
  }

  Committee c;
  RoundRobinLeaders leaders;
  std::vector<Member> members;
  std::deque<InFlight> wire;
  std::function<bool(ValidatorIndex, ValidatorIndex, const Message&)> drop;
  std::uint64_t now = 1;
};

/// A Cluster::drop that loses every proposal of round `first` and later.
auto proposals_from_round(Round first) {
  return [first](ValidatorIndex, ValidatorIndex, const Message& m) {
    auto* p = std::get_if<ProposalMsg>(&m);
    return p != nullptr && p->block.round >= first;
  };
}

// Votes go to every validator, so each one certifies a block from the votes and commits its
// parent before the next leader's proposal brings the certificate (here only the proposals of
// rounds 1 and 2 are delivered).
TEST(VotesToEveryone, EveryValidatorCommitsFromTheVotesBeforeTheNextProposal) {
  Cluster net(4);
  net.drop = proposals_from_round(3);
  net.deliver_all();
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& m = net.members[i];
    ASSERT_EQ(m.store.committed.size(), 1u) << "validator " << i;
    EXPECT_EQ(m.store.committed[0].round, 1u) << "validator " << i;
    EXPECT_EQ(m.replica->high_qc().round, 2u) << "validator " << i;
    EXPECT_EQ(m.replica->current_round(), 3u) << "validator " << i;
    EXPECT_EQ(m.replica->stats().sync_requests, 0u) << "validator " << i;
  }
}

// Each validator reserves the round it leads next in its vote (or, when the round before times
// out, in its timeout), so in a healthy committee only the very first proposal (round 1, with
// nothing voted before it) takes the unsynced path, and no proposal ever needs a sync of its own.
TEST(VotesToEveryone, EveryProposalAfterTheFirstLeavesOnARoundItsLeaderReserved) {
  Cluster net(4);
  net.drop = [](ValidatorIndex, ValidatorIndex, const Message& m) {
    auto* p = std::get_if<ProposalMsg>(&m);
    return p != nullptr && p->block.round == 6;  // round 6 times out
  };
  net.deliver_all();
  ASSERT_EQ(net.members[0].replica->current_round(), 6u);
  net.fire_timers();  // a TC for round 6; round 7's leader proposes on its timeout's reservation
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& m = net.members[i];
    EXPECT_GT(m.replica->current_round(), 12u) << "validator " << i;
    EXPECT_GE(m.storage.data().highest_timeout_round, 6u) << "validator " << i;
    EXPECT_EQ(m.storage.unsynced_writes(), i == 1 ? 1u : 0u) << "validator " << i;
    EXPECT_EQ(m.storage.syncs(), 0u) << "validator " << i;
  }
}

// A proposal can arrive after the votes that certify its block (a big proposal waits for its
// transactions to be checked; votes are small). The replica has by then left the round: it does
// not fetch the block at once (the proposal is on its way), and when the proposal arrives it is
// too late to vote on it but the block joins the tree and its parent commits.
TEST(VotesToEveryone, AProposalOvertakenByItsVotesIsStillInsertedAndCommits) {
  Cluster net(4);
  std::optional<Cluster::InFlight> held;  // round 2's proposal to validator 0
  net.drop = [&](ValidatorIndex from, ValidatorIndex to, const Message& m) {
    auto* p = std::get_if<ProposalMsg>(&m);
    if (p == nullptr) return false;
    if (p->block.round == 2 && to == 0) {
      held = Cluster::InFlight{from, to, m};
      return true;
    }
    return proposals_from_round(3)(from, to, m);
  };
  net.deliver_all();
  ASSERT_TRUE(held.has_value());
  Cluster::Member& v0 = net.members[0];
  EXPECT_EQ(v0.replica->high_qc().round, 2u) << "certified round 2 from the others' votes";
  EXPECT_EQ(v0.replica->current_round(), 3u);
  EXPECT_TRUE(v0.store.committed.empty()) << "round 2's block is unknown: nothing to commit yet";
  EXPECT_EQ(v0.replica->stats().sync_requests, 0u) << "its proposal is on the way";
  EXPECT_EQ(v0.storage.data().last_voted_round, 1u);

  net.apply(0, v0.replica->on_message(net.now, held->from, held->message));
  ASSERT_EQ(v0.store.committed.size(), 1u);
  EXPECT_EQ(v0.store.committed[0].round, 1u);
  EXPECT_EQ(v0.replica->stats().stale, 0u) << "inserted, not dropped as stale";
  EXPECT_EQ(v0.storage.data().last_voted_round, 1u) << "too late to vote for round 2";
  EXPECT_TRUE(v0.store.blocks.contains(std::get<ProposalMsg>(held->message).block.compute_id()))
      << "persisted";
}

// Votes are sent by their voters only. One that arrives from another validator (relayed,
// replayed, or forged in someone else's name) is dropped before its signature is checked.
TEST(VotesToEveryone, AVoteFromAnotherThanItsVoterIsDropped) {
  Cluster net(4);
  net.drop = proposals_from_round(3);
  std::vector<Vote> votes;  // round 2's votes, as they leave
  auto deliver = std::move(net.drop);
  net.drop = [&](ValidatorIndex from, ValidatorIndex to, const Message& m) {
    if (auto* v = std::get_if<Vote>(&m); v && v->round == 2 && to == 0) {
      votes.push_back(*v);
      return true;  // validator 0 gets no round-2 vote directly
    }
    return deliver(from, to, m);
  };
  net.deliver_all();
  Cluster::Member& v0 = net.members[0];
  ASSERT_GE(votes.size(), 3u);
  ASSERT_EQ(v0.replica->high_qc().round, 1u);
  const auto invalid_before = v0.replica->stats().invalid;
  for (const Vote& v : votes) {
    const ValidatorIndex relay = v.voter == 3 ? 2 : 3;
    (void)v0.replica->on_message(net.now, relay, v);
  }
  EXPECT_EQ(v0.replica->stats().invalid, invalid_before + votes.size());
  EXPECT_EQ(v0.replica->high_qc().round, 1u) << "relayed votes certify nothing";
  EXPECT_EQ(v0.replica->vote_drops().bad_signature, 0u) << "dropped before any signature check";
  for (const Vote& v : votes) (void)v0.replica->on_message(net.now, v.voter, v);
  EXPECT_EQ(v0.replica->high_qc().round, 2u) << "the same votes from their voters do";
}

// Timeouts too come from their authors only (TimeoutAggregator checks one per author and round).
TEST(VotesToEveryone, ATimeoutFromAnotherThanItsAuthorIsDropped) {
  Cluster net(4);
  Cluster::Member& v0 = net.members[0];
  ASSERT_EQ(v0.replica->current_round(), 1u);
  std::vector<TimeoutMsg> timeouts;
  for (ValidatorIndex i = 1; i < 4; ++i) {
    timeouts.push_back(TimeoutMsg{net.c.timeout(i, 1, QuorumCert::genesis(kGenesisId)), {}});
  }
  for (const auto& t : timeouts) {
    (void)v0.replica->on_message(net.now, t.timeout.author == 3 ? 2 : 3, t);
  }
  EXPECT_EQ(v0.replica->stats().invalid, 3u);
  EXPECT_EQ(v0.replica->timeout_drops().total(), 0u) << "dropped before the aggregator";
  EXPECT_EQ(v0.replica->current_round(), 1u) << "relayed timeouts certify nothing";
  for (const auto& t : timeouts) (void)v0.replica->on_message(net.now, t.timeout.author, t);
  EXPECT_EQ(v0.replica->current_round(), 2u) << "the same timeouts from their authors do";
}

// The next leader's certificate usually has other signers than the one a validator formed from
// the votes; only the signatures it has not checked are checked, and a bad one is still caught.
TEST(VotesToEveryone, AnotherCertificateForACertifiedBlockIsCheckedForItsNewSignatures) {
  Cluster net(4);
  net.drop = proposals_from_round(3);
  net.deliver_all();
  Cluster::Member& v1 = net.members[1];
  const QuorumCert mine = v1.replica->high_qc();
  ASSERT_EQ(mine.round, 2u);
  // Validator 1 formed its certificate from its own vote and two others: some validator is
  // missing from it. A certificate with that validator's valid signature passes; with a bad one
  // it is rejected (counted invalid, the round does not move).
  ValidatorIndex missing = 0;
  for (ValidatorIndex i = 0; i < 4; ++i) {
    if (!mine.signature.has_signer(i)) missing = i;
  }
  const Hash32 digest = types::vote_digest(mine.block_id, mine.round);
  std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
  for (std::size_t s : mine.signature.signers()) {
    // Ed25519 is deterministic: signing again gives the bytes of `mine`.
    if (parts.size() < 2) parts.emplace_back(s, net.c.keys[s].sign(digest));
  }
  auto with = [&](const crypto::Ed25519Signature& sig) {
    auto p = parts;
    p.emplace_back(missing, sig);
    return QuorumCert{mine.block_id, mine.round, *crypto::QuorumSignature::from_parts(4, p)};
  };
  const QuorumCert good = with(net.c.keys[missing].sign(digest));
  const QuorumCert bad = with(net.c.keys[missing].sign(types::vote_digest(mine.block_id, 7)));
  const auto invalid_before = v1.replica->stats().invalid;
  (void)v1.replica->on_message(net.now, 2, SyncInfo{bad, std::nullopt});
  EXPECT_EQ(v1.replica->stats().invalid, invalid_before + 1) << "the new signature is checked";
  (void)v1.replica->on_message(net.now, 2, SyncInfo{good, std::nullopt});
  EXPECT_EQ(v1.replica->stats().invalid, invalid_before + 1);
}

TEST(Restart, AllReplicasRestartedWithCertificatesTwoRoundsPastTheCommitResumeAndCommit) {
  Cluster net(4);
  net.deliver_all();
  ASSERT_GE(net.height(0), 3u) << "the happy path commits";

  // Round X's proposal is lost: everyone times out, a TC for X opens X + 1, X + 1's leader
  // proposes and everyone votes, and every vote is lost. Then every validator stops.
  Round x = 0;
  for (auto& m : net.members) x = std::max(x, m.replica->current_round());
  net.drop = [&](ValidatorIndex, ValidatorIndex, const Message& m) {
    if (auto* p = std::get_if<ProposalMsg>(&m)) return p->block.round <= x;
    return std::holds_alternative<Vote>(m);
  };
  net.deliver_all();
  auto all_voted_after_tc = [&] {
    for (auto& m : net.members) {
      if (m.storage.data().last_voted_round != x + 1) return false;
    }
    return true;
  };
  for (int i = 0; i < 4 && !all_voted_after_tc(); ++i) net.fire_timers();
  const Height stopped_at = net.height(0);
  for (auto& m : net.members) {
    ASSERT_EQ(m.storage.data().last_voted_round, x + 1);
    ASSERT_TRUE(m.storage.last_tc().has_value());
    ASSERT_EQ(m.storage.last_tc()->round, x);
    ASSERT_GE(x, m.store.committed.back().round + 2) << "certificates two rounds past the root";
  }

  net.drop = nullptr;
  net.wire.clear();
  for (std::size_t i = 0; i < 4; ++i) net.boot(static_cast<ValidatorIndex>(i));
  for (auto& m : net.members) {
    EXPECT_EQ(m.replica->current_round(), x + 1) << "resumes in the round after the TC";
  }
  net.deliver_all();
  for (int i = 0; i < 10 && net.height(0) < stopped_at + 3; ++i) net.fire_timers();
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_GE(net.height(static_cast<ValidatorIndex>(i)), stopped_at + 3) << "validator " << i;
  }
}

TEST(Restart, WithoutCertificatesAReplicaSitsBelowItsLastVoteUnableToTimeOut) {
  // What RecoveryState::high_qc / last_tc are for: safety data alone pins the round.
  auto c = Committee::make(4);
  MemorySafetyStorage storage;
  RoundRobinLeaders leaders(4);
  NoPayload payload;
  RecoveryState rec;
  rec.safety.last_voted_round = 3;
  Replica r(c.set, 0, c.keys[0], {}, rec, storage, leaders, payload, nullptr);
  (void)r.start(0);
  EXPECT_EQ(r.current_round(), 1u);
  (void)r.on_timer(1, 1);
  EXPECT_EQ(storage.writes(), 0u) << "no timeout can be signed below the last voted round";
}

TEST(SingleValidator, OwnVoteCertifiesItsProposalAndEveryInputReturnsAfterOneProposal) {
  // n = 1: quorum 1, so the leader's own vote forms the QC inside the same input. The next
  // proposal waits for the next input (a zero-length timer), so no input loops forever.
  Cluster net(1);
  auto& m = net.members[0];
  EXPECT_EQ(m.replica->current_round(), 2u) << "round 1 certified by its own vote";
  ASSERT_TRUE(m.timer.has_value());
  for (int i = 0; i < 10; ++i) net.fire_timers();
  EXPECT_GE(net.height(0), 9u) << "one block per input, each committed a round later";
  EXPECT_EQ(m.storage.data().highest_timeout_round, 0u) << "the deferred proposal never times out";
  for (std::size_t h = 0; h < m.store.committed.size(); ++h) {
    EXPECT_EQ(m.store.committed[h].height, h + 1);
  }
}

TEST(Messages, EveryKindRoundTripsAndGarbageIsRejected) {
  auto c = Committee::make(4);
  Block b1 = child_of(Block::genesis(), kGenesisId, 1, QuorumCert::genesis(kGenesisId));
  std::vector<Message> all = {ProposalMsg{b1, std::nullopt, {}},
                              c.vote(1, kGenesisId, 3),
                              TimeoutMsg{c.timeout(2, 4, c.qc(kGenesisId, 3)), std::nullopt},
                              SyncInfo{c.qc(kGenesisId, 3), std::nullopt},
                              SyncRequest{kGenesisId, 7},
                              SyncResponse{{b1, Block::genesis()}}};
  for (const auto& m : all) {
    Bytes enc = encode_message(m);
    auto back = decode_message(enc);
    ASSERT_TRUE(back.ok()) << message_kind(m);
    EXPECT_EQ(encode_message(*back), enc);
    enc.push_back(0);
    EXPECT_FALSE(decode_message(enc).ok());
  }
  EXPECT_FALSE(decode_message(Bytes{6}).ok()) << "unknown tag";
  EXPECT_FALSE(decode_message(Bytes{}).ok());
}

}  // namespace
}  // namespace ol::consensus
