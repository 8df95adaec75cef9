// The chaos checker on synthetic inputs: each kind of fault it exists to catch must produce a
// violation, and a clean input none.
#include <gtest/gtest.h>

#include "node/tools/chaos.h"

namespace {

using namespace ol::node::tools;
using ol::Hash32;
using ol::node::TxRecord;

Hash32 h(std::uint8_t v) {
  Hash32 out{};
  out.fill(v);
  return out;
}

std::string hex64(std::uint8_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

bool has_kind(const std::vector<Violation>& vs, const std::string& kind) {
  for (const auto& v : vs) {
    if (v.kind == kind) return true;
  }
  return false;
}

TEST(ChaosCheck, AgreeingChainsOfDifferentLengthsPass) {
  std::vector<ChainView> c{{"node0", {h(1), h(2), h(3)}}, {"node1", {h(1), h(2)}}, {"node2", {}}};
  EXPECT_TRUE(check_chains_agree(c).empty());
}

TEST(ChaosCheck, DivergentChainIsReportedAtItsFirstDivergence) {
  std::vector<ChainView> c{{"node0", {h(1), h(2), h(3), h(4)}},
                           {"node1", {h(1), h(2), h(3)}},
                           {"node2", {h(1), h(9), h(8)}}};
  auto v = check_chains_agree(c);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "divergence");
  EXPECT_NE(v[0].detail.find("at height 2 node2"), std::string::npos) << v[0].detail;
}

struct Receipts {
  std::map<Hash32, TxRecord> records;
  TxView view(std::string node, std::uint64_t height) const {
    return {std::move(node), height,
            [this](const Hash32& tx) -> ol::Result<std::optional<TxRecord>> {
              auto it = records.find(tx);
              if (it == records.end()) return std::optional<TxRecord>{};
              return std::optional<TxRecord>{it->second};
            }};
  }
};

TEST(ChaosCheck, ObservedCommitsFoundEverywherePass) {
  ObservedCommits o;
  o.blocks = {{1, h(1)}, {2, h(2)}};
  o.txs = {{h(0xa1), 1}, {h(0xa2), 2}};
  Receipts r;
  r.records = {{h(0xa1), {1, ol::execution::TxOutcome::success, ""}},
               {h(0xa2), {2, ol::execution::TxOutcome::success, ""}}};
  std::vector<ChainView> c{{"node0", {h(1), h(2)}}, {"node1", {h(1), h(2), h(3)}}};
  EXPECT_TRUE(check_observed(o, c, {r.view("node0", 2), r.view("node1", 3)}).empty());
}

TEST(ChaosCheck, LostCommittedTransactionIsAViolation) {
  ObservedCommits o;
  o.blocks = {{1, h(1)}, {2, h(2)}};
  o.txs = {{h(0xa1), 1}, {h(0xa2), 2}};
  Receipts full, lost;
  full.records = {{h(0xa1), {1, ol::execution::TxOutcome::success, ""}},
                  {h(0xa2), {2, ol::execution::TxOutcome::success, ""}}};
  lost.records = {{h(0xa1), {1, ol::execution::TxOutcome::success, ""}}};
  std::vector<ChainView> c{{"node0", {h(1), h(2)}}, {"node1", {h(1), h(2)}}};
  auto v = check_observed(o, c, {full.view("node0", 2), lost.view("node1", 2)});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "lost-tx");
  EXPECT_NE(v[0].detail.find("node1 has no receipt"), std::string::npos) << v[0].detail;
}

TEST(ChaosCheck, TransactionAtAnotherHeightOrFailedIsAViolation) {
  ObservedCommits o;
  o.blocks = {{1, h(1)}, {2, h(2)}};
  o.txs = {{h(0xa1), 1}, {h(0xa2), 2}};
  Receipts moved;
  moved.records = {{h(0xa1), {2, ol::execution::TxOutcome::success, ""}},
                   {h(0xa2), {2, ol::execution::TxOutcome::bad_nonce, "nonce 3, expected 4"}}};
  std::vector<ChainView> c{{"node0", {h(1), h(2)}}};
  auto v = check_observed(o, c, {moved.view("node0", 2)});
  EXPECT_TRUE(has_kind(v, "lost-tx"));
  EXPECT_TRUE(has_kind(v, "tx-outcome"));
}

TEST(ChaosCheck, ObservedBlockMissingOrDifferentInAStoreIsAViolation) {
  ObservedCommits o;
  o.blocks = {{1, h(1)}, {2, h(2)}, {3, h(3)}};
  std::vector<ChainView> c{{"node0", {h(1), h(7), h(3)}}, {"node1", {h(1), h(2)}}};
  auto v = check_observed(o, c, {});
  EXPECT_TRUE(has_kind(v, "divergence"));  // node0 holds another block at height 2
  EXPECT_TRUE(has_kind(v, "lost-block"));  // node1's chain ends below height 3
}

TEST(ChaosCheck, StateRootsMustMatchEachOtherAndTheReplay) {
  const std::vector<Hash32> replay{h(0), h(1), h(2), h(3)};
  EXPECT_TRUE(
      check_state_roots({{"node0", 3, h(3)}, {"node1", 2, h(2)}, {"node2", 3, h(3)}}, replay)
          .empty());
  auto v = check_state_roots({{"node0", 3, h(3)}, {"node1", 3, h(9)}}, replay);
  ASSERT_EQ(v.size(), 2u);  // differs from node0 and from the replay
  EXPECT_EQ(v[0].kind, "state");
  // Beyond the replay only the pairwise comparison applies.
  EXPECT_TRUE(check_state_roots({{"node0", 7, h(7)}}, replay).empty());
}

TEST(ChaosCheck, JournalWithResendsAndTimeoutsPasses) {
  const std::string j = "vote 1 " + hex64(1) + "\nvote 2 " + hex64(2) + "\nvote 2 " + hex64(2) +
                        "\ntimeout 3 2\ntimeout 3 2\nproposal 4 " + hex64(4) + "\nvote 4 " +
                        hex64(4) + "\n";
  auto s = check_signing_journal("node0", j);
  EXPECT_TRUE(s.violations.empty());
  EXPECT_EQ(s.votes, 4u);
  EXPECT_EQ(s.timeouts, 2u);
  EXPECT_EQ(s.proposals, 1u);
}

TEST(ChaosCheck, TwoVotesInOneRoundAreADoubleSign) {
  const std::string j =
      "vote 5 " + hex64(1) + "\ntimeout 6 5\nvote 7 " + hex64(3) + "\nvote 5 " + hex64(2) + "\n";
  auto s = check_signing_journal("node3", j);
  ASSERT_EQ(s.violations.size(), 1u);
  EXPECT_EQ(s.violations[0].kind, "double-sign");
  EXPECT_NE(s.violations[0].detail.find("round 5"), std::string::npos);
  EXPECT_NE(s.violations[0].detail.find("line 4"), std::string::npos);
}

// A leader signs at most one proposal per round, across restarts (SafetyData's
// last_proposed_round), so two different proposals for one round are a double-signed round.
TEST(ChaosCheck, TwoProposalsInOneRoundAreADoubleSign) {
  const std::string j =
      "proposal 9 " + hex64(1) + "\nvote 9 " + hex64(1) + "\nproposal 9 " + hex64(2) + "\n";
  auto s = check_signing_journal("node1", j);
  ASSERT_EQ(s.violations.size(), 1u);
  EXPECT_EQ(s.violations[0].kind, "double-proposal");
  EXPECT_NE(s.violations[0].detail.find("round 9"), std::string::npos);
  EXPECT_NE(s.violations[0].detail.find("line 3"), std::string::npos);
  EXPECT_EQ(s.double_proposals, 1u);
  EXPECT_EQ(s.proposals, 2u);
}

TEST(ChaosCheck, SameProposalTwiceIsAResend) {
  const std::string j = "proposal 9 " + hex64(1) + "\nproposal 9 " + hex64(1) + "\n";
  auto s = check_signing_journal("node1", j);
  EXPECT_TRUE(s.violations.empty());
  EXPECT_EQ(s.double_proposals, 0u);
}

TEST(ChaosCheck, TornLastLineIsIgnoredButGarbageIsReported) {
  const std::string torn = "vote 1 " + hex64(1) + "\nvote 2 " + hex64(2).substr(0, 20);
  EXPECT_TRUE(check_signing_journal("node0", torn).violations.empty());
  const std::string garbage = "vote 1 " + hex64(1) + "\nvote x y\n";
  EXPECT_TRUE(has_kind(check_signing_journal("node0", garbage).violations, "journal"));
}

}  // namespace
