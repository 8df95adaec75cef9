// The load tools' pure parts: percentiles, pacing, the status line, argument checks, config
// edits and the consensus-only wire format.
#include <gtest/gtest.h>

#include <functional>

#include "node/tools/command_load.h"
#include "node/tools/local_network.h"
#include "node/tools/options.h"
#include "node/tools/signed_load.h"
#include "node/tools/stats.h"
#include "node/tools/status_line.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(Percentile, NearestRankOverOneToHundred) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(*percentile(v, 50), 50);
  EXPECT_EQ(*percentile(v, 90), 90);
  EXPECT_EQ(*percentile(v, 99), 99);
  EXPECT_EQ(*percentile(v, 100), 100);
  EXPECT_EQ(*percentile(v, 0.5), 1);
}

TEST(Percentile, SmallAndEmptySets) {
  EXPECT_FALSE(percentile({}, 50));
  EXPECT_EQ(*percentile({7}, 1), 7);
  EXPECT_EQ(*percentile({7}, 99), 7);
  EXPECT_EQ(*percentile({1, 2}, 50), 1);  // rank ceil(0.5 * 2) = 1
  EXPECT_EQ(*percentile({1, 2}, 51), 2);
  EXPECT_FALSE(percentile({1, 2}, 0));
  EXPECT_FALSE(percentile({1, 2}, 101));
}

TEST(Summarize, SortsAndReportsTheTail) {
  std::vector<double> v = {5, 1, 4, 2, 3, 100, 6, 7, 8, 9};
  LatencySummary s = summarize(v);
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.p50, 5);
  EXPECT_EQ(s.p90, 9);
  EXPECT_EQ(s.p99, 100);
  EXPECT_EQ(s.max, 100);
  std::vector<double> none;
  EXPECT_EQ(summarize(none).count, 0u);
}

// The load generator's whole-run latencies (a devnet's load never ends) are counted in buckets:
// exact to the microsecond below 2 ms, within 0.1% above, with the count and maximum exact.
TEST(LatencyHistogram, AgreesWithTheExactPercentilesWithinATenthOfAPercent) {
  std::vector<double> samples;
  LatencyHistogram h;
  std::uint64_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    // Mostly 1-400 ms, a few up to ~40 s, some under 2 ms.
    double ms = static_cast<double>((x >> 33) % 400000) / 1000.0 + 1.0;
    if (i % 1000 == 0) ms *= 100;
    if (i % 7 == 0) ms = static_cast<double>((x >> 40) % 2000) / 1000.0;
    samples.push_back(ms);
    h.add(ms);
  }
  const LatencySummary exact = summarize(samples);
  const LatencySummary approx = h.summary();
  EXPECT_EQ(approx.count, exact.count);
  EXPECT_EQ(approx.max, exact.max);
  for (auto [a, e] : {std::pair{approx.p50, exact.p50}, std::pair{approx.p90, exact.p90},
                      std::pair{approx.p99, exact.p99}}) {
    EXPECT_GE(a, e - 0.0005);  // the sample rounded to the microsecond, at worst
    EXPECT_LE(a, e * 1.001 + 0.0005) << "exact " << e;
  }
}

TEST(LatencyHistogram, SmallSetsEmptySetsAndOutliers) {
  LatencyHistogram h;
  EXPECT_EQ(h.summary().count, 0u);
  EXPECT_EQ(h.summary().p50, 0);
  for (double ms : {0.25, 1.5, 0.75}) h.add(ms);
  LatencySummary s = h.summary();
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.p50, 0.75);  // exact below 2 ms
  EXPECT_DOUBLE_EQ(s.p99, 1.5);
  h.add(-3);    // a clock step: counted as zero
  h.add(1e12);  // beyond the last bucket: kept, at the top
  s = h.summary();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.max, 1e12);
  EXPECT_DOUBLE_EQ(s.p50, 0.75);
  EXPECT_GT(s.p99, 1e9);
}

TEST(RatePacer, ReleasesEvenlyAndNeverAhead) {
  const auto t0 = Clock::now();
  RatePacer p(100, t0);  // one event every 10 ms
  EXPECT_EQ(p.release(t0), 0u);
  EXPECT_EQ(p.release(t0 + milliseconds(9)), 0u);
  EXPECT_EQ(p.release(t0 + milliseconds(10)), 1u);
  EXPECT_EQ(p.release(t0 + milliseconds(15)), 0u);
  EXPECT_EQ(p.release(t0 + milliseconds(1000)), 99u);  // a late tick catches up
  EXPECT_EQ(p.released(), 100u);
  EXPECT_EQ(p.release(t0 + milliseconds(500)), 0u);  // time going backwards releases nothing
}

TEST(RatePacer, NextDueIsTheNextEventButNotSoonerThanTheMinimumTick) {
  const auto t0 = Clock::now();
  RatePacer slow(1, t0, milliseconds(1));
  EXPECT_EQ(slow.next_due(t0), t0 + std::chrono::seconds(1));
  RatePacer fast(100'000, t0, milliseconds(2));
  EXPECT_EQ(fast.next_due(t0), t0 + milliseconds(2));
  EXPECT_EQ(fast.release(t0 + milliseconds(2)), 200u);
}

TEST(RatePacer, FractionalRates) {
  const auto t0 = Clock::now();
  RatePacer p(0.5, t0);
  EXPECT_EQ(p.release(t0 + milliseconds(1999)), 0u);
  EXPECT_EQ(p.release(t0 + milliseconds(2000)), 1u);
}

TEST(Median, NearestRankLowerMiddle) {
  EXPECT_EQ(median({}), 0);
  EXPECT_EQ(median({62.2, 40.0, 51.9}), 51.9);
  EXPECT_EQ(median({4, 1, 3, 2}), 2);  // the lower middle of an even count
}

SweepRun sustained_at(double rate) {
  return SweepRun{rate, rate * 0.99, 40, true, 0};
}

TEST(RateSweep, WhatCountsAsSustained) {
  EXPECT_EQ(unsustained_reason(sustained_at(4000)), "");
  SweepRun r = sustained_at(4000);
  r.committed_tps = 3850;  // 96%
  EXPECT_NE(unsustained_reason(r).find("committed 3850 tx/s, 96% of the offered rate"),
            std::string::npos);
  r = sustained_at(4000);
  r.client_kept_up = false;
  EXPECT_NE(unsustained_reason(r).find("not all that was due was sent"), std::string::npos);
  r = sustained_at(4000);
  r.lost = 12;
  EXPECT_NE(unsustained_reason(r).find("12 accepted transactions not committed"),
            std::string::npos);
  r = sustained_at(4000);
  r.p50_ms = 1500;
  EXPECT_NE(unsustained_reason(r).find("median latency 1500 ms"), std::string::npos);
}

// Runs the sweep to its end against a "machine" that `outcome` describes; the rates offered.
std::vector<double> drive(RateSweep& s, const std::function<SweepRun(double)>& outcome) {
  std::vector<double> offered;
  while (auto rate = s.next()) {
    offered.push_back(*rate);
    s.record(outcome(*rate));
  }
  return offered;
}

TEST(RateSweep, ClimbsUntilARateFailsThenNarrowsOnce) {
  RateSweep s(3000, 500, 100'000);
  const auto offered = drive(s, [](double rate) {
    SweepRun r = sustained_at(rate);
    if (rate > 4700) r.committed_tps = rate * 0.9;  // this "machine" sustains up to 4,700
    return r;
  });
  // 3000, 3500, 4000, 4500 sustained; 5000 not; then halfway back: 4750, not sustained.
  EXPECT_EQ(offered, (std::vector<double>{3000, 3500, 4000, 4500, 5000, 4750}));
  EXPECT_EQ(s.highest_sustained(), 4500);
  EXPECT_EQ(s.lowest_unsustained(), 4750);
  EXPECT_FALSE(s.reached_max());
  EXPECT_EQ(s.runs().size(), 6u);
}

TEST(RateSweep, TheHalfStepCanRaiseTheAnswer) {
  RateSweep s(1000, 1000, 100'000);
  const auto offered = drive(s, [](double rate) {
    SweepRun r = sustained_at(rate);
    if (rate > 2600) r.lost = 1;
    return r;
  });
  EXPECT_EQ(offered, (std::vector<double>{1000, 2000, 3000, 2500}));
  EXPECT_EQ(s.highest_sustained(), 2500);
  EXPECT_EQ(s.lowest_unsustained(), 3000);
}

TEST(RateSweep, StopsAtTheMaximumOrAtAFailedStart) {
  RateSweep capped(200, 200, 500);
  EXPECT_EQ(drive(capped, sustained_at),
            (std::vector<double>{200, 400}));  // 600 would pass the maximum
  EXPECT_EQ(capped.highest_sustained(), 400);
  EXPECT_TRUE(capped.reached_max());
  EXPECT_EQ(capped.lowest_unsustained(), 0);

  RateSweep failed(8000, 500, 100'000);
  ASSERT_TRUE(failed.next());
  SweepRun r = sustained_at(8000);
  r.committed_tps = 5000;
  failed.record(r);
  EXPECT_FALSE(failed.next());  // nothing below to narrow towards
  EXPECT_EQ(failed.highest_sustained(), 0);

  // A step too fine to halve on a noisy machine: no narrowing run.
  RateSweep fine(1000, 80, 100'000);
  fine.record(sustained_at(1000));
  r = sustained_at(1080);
  r.client_kept_up = false;
  fine.record(r);
  EXPECT_FALSE(fine.next());
  EXPECT_EQ(fine.highest_sustained(), 1000);

  EXPECT_FALSE(RateSweep(600, 100, 500).next());  // starts above its maximum
}

TEST(NodeStatus, ParsesTheRpcFields) {
  auto s = parse_node_status(
      R"({"chain_id":1337,"height":42,"round":45,"leader":1,"last_commit_ms":5,"peers":3,)"
      R"("validator_peers":3,"partitioned":false,"syncing":false,"mempool_size":17,)"
      R"("state_root":"0x00"})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->chain_id, 1337u);
  EXPECT_EQ(s->height, 42u);
  EXPECT_EQ(s->validator_peers, 3u);
  EXPECT_EQ(s->mempool_size, 17u);
  EXPECT_FALSE(s->partitioned);
  EXPECT_FALSE(parse_node_status("not json"));
  EXPECT_FALSE(parse_node_status("[1,2]"));
  EXPECT_FALSE(parse_node_status(R"({"round":1})"));
}

TEST(StatusLine, ShowsTheChainAndTheLoad) {
  StatusSnapshot s;
  s.elapsed_s = 12.3;
  NodeStatus a;
  a.height = 57;
  a.validator_peers = 3;
  a.mempool_size = 41;
  NodeStatus b = a;
  b.height = 56;
  b.validator_peers = 2;
  s.nodes = {a, b, std::nullopt, a};
  s.committed_tps = 480.4;
  s.p50_ms = 31;
  s.p99_ms = 88.2;
  s.committed_total = 12034;
  EXPECT_EQ(format_status(s),
            "t 12s | height 57 | 480 tx/s | e2e p50 31 ms p99 88 ms | peers 2/3 | partition no "
            "| mempool 41 | 12034 committed | down: node2");
  s.nodes[1]->partitioned = true;
  s.p50_ms.reset();
  s.p99_ms.reset();
  const std::string line = format_status(s);
  EXPECT_NE(line.find("partition YES"), std::string::npos);
  EXPECT_NE(line.find("e2e p50 - ms p99 - ms"), std::string::npos);
}

TEST(Options, DevnetChecks) {
  DevnetOptions o;
  EXPECT_TRUE(validate(o));
  o.validators = 0;
  EXPECT_EQ(validate(o).error().message, "--validators must be between 1 and 64");
  o = {};
  o.rate = -1;
  EXPECT_FALSE(validate(o));
  o = {};
  o.accounts = 2;  // fewer than the validators
  EXPECT_FALSE(validate(o));
}

TEST(Options, BenchChecks) {
  BenchOptions o;
  EXPECT_EQ(validate(o).error().message, "give either --local or --rpc URL..., not both");
  o.local = true;
  EXPECT_TRUE(validate(o));
  o.rpc = {"http://127.0.0.1:8600"};
  EXPECT_FALSE(validate(o));
  o.local = false;
  EXPECT_EQ(validate(o).error().message,
            "--faucet FILE (the faucet's key file) is needed with --rpc");
  o.faucet = "faucet_key.json";
  EXPECT_TRUE(validate(o));
  o.rate = 0;
  EXPECT_FALSE(validate(o));
  o.open_loop = true;
  EXPECT_TRUE(validate(o));
  o = {};
  o.local = true;
  o.commands = true;
  o.command_size = 8;  // too small to hold the 16-byte id
  EXPECT_FALSE(validate(o));
  o.command_size = 32;
  o.batch = o.outstanding + 1;
  EXPECT_FALSE(validate(o));
  o.batch = 400;
  EXPECT_TRUE(validate(o));
  o.duration_s = 0;
  EXPECT_FALSE(validate(o));
  o = {};
  o.local = true;
  o.connections = 0;
  EXPECT_EQ(validate(o).error().message, "--connections must be between 1 and 64");
  o.connections = 8;
  EXPECT_TRUE(validate(o));
}

// The load generator's default connections offer the rate asked for: the fixed four per node
// could not send more than ~3,500 tx/s to four nodes one request at a time.
TEST(SignedLoad, ConnectionsFollowTheRate) {
  EXPECT_EQ(connections_for_rate(1'000, 4, 1, 4), 4u) << "the floor";
  EXPECT_EQ(connections_for_rate(100, 4, 1, 2), 2u);
  EXPECT_EQ(connections_for_rate(4'400, 4, 1, 4), 8u) << "1,100 requests/s per node";
  EXPECT_EQ(connections_for_rate(6'000, 4, 1, 4), 10u);
  EXPECT_EQ(connections_for_rate(6'000, 4, 64, 4), 4u) << "batched: few requests";
  EXPECT_EQ(connections_for_rate(1e6, 1, 1, 4), 64u) << "the cap";
  EXPECT_EQ(connections_for_rate(500, 0, 0, 1), 4u) << "no division by zero";
}

TEST(ConfigEdit, ReplacesAddsAndCreatesSections) {
  const std::string toml =
      "log_level = \"info\"\n\n[consensus]\nround_timeout_base_ms = 1000\nmax_block_txs = 5000\n"
      "\n[storage]\npath = \"data\"\n";
  std::string t = apply_config_edit(toml, {"consensus", "max_block_txs", "400"});
  EXPECT_NE(t.find("max_block_txs = 400\n"), std::string::npos);
  EXPECT_EQ(t.find("5000"), std::string::npos);
  t = apply_config_edit(t, {"consensus", "payload", "\"commands\""});
  EXPECT_NE(t.find("max_block_txs = 400\npayload = \"commands\"\n\n[storage]"), std::string::npos);
  t = apply_config_edit(t, {"mempool", "capacity", "5"});
  EXPECT_NE(t.find("path = \"data\"\n\n[mempool]\ncapacity = 5\n"), std::string::npos);
  // A key of the same name in another section is left alone.
  t = apply_config_edit(t, {"storage", "path", "\"db\""});
  EXPECT_NE(t.find("[storage]\npath = \"db\""), std::string::npos);
  EXPECT_NE(t.find("log_level = \"info\""), std::string::npos);
}

TEST(BenchCommits, CommandIdsRoundTripThroughTheCommitLogFormat) {
  std::vector<std::uint8_t> cmd(32, 0xff);
  write_command(cmd.data(), cmd.size(), 0x0102030405060708ull, 9);
  EXPECT_EQ(cmd[0], 0x01);
  EXPECT_EQ(cmd[7], 0x08);
  EXPECT_EQ(cmd[15], 9);
  EXPECT_EQ(cmd[31], 0);
  // One block: height 5, time 1000, two ids.
  Bytes body;
  auto be = [&](std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) body.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  be(5, 8);
  be(1000, 8);
  be(2, 4);
  body.insert(body.end(), cmd.begin(), cmd.begin() + 16);
  be(7, 8);
  be(8, 8);
  auto parsed = parse_bench_commits(body);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].height, 5u);
  EXPECT_EQ((*parsed)[0].commit_ms, 1000u);
  ASSERT_EQ((*parsed)[0].ids.size(), 2u);
  EXPECT_EQ((*parsed)[0].ids[0],
            std::make_pair(std::uint64_t{0x0102030405060708}, std::uint64_t{9}));
  EXPECT_EQ((*parsed)[0].ids[1], std::make_pair(std::uint64_t{7}, std::uint64_t{8}));
  EXPECT_TRUE(parse_bench_commits({}));  // nothing committed within the wait
  body.pop_back();
  EXPECT_FALSE(parse_bench_commits(body));  // truncated
  Bytes huge = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(parse_bench_commits(huge));  // a count the body cannot hold
}

}  // namespace
}  // namespace ol::node::tools
