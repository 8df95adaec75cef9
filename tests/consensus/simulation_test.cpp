// Seed sweeps of the consensus core in the simulator. Every run checks safety (honest ledgers
// never fork), no honest double vote (across restarts too) and liveness after GST.
//
//   OL_SIM_RUNS=10000      total runs across scenarios (default 520)
//   OL_SIM_SEED=<s> OL_SIM_SCENARIO=<name>   reproduce one run (printed on failure)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "simulator.h"

namespace ol::sim {
namespace {

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  {
    Scenario s;
    s.name = "fault-free-n4";
    s.expect_commit_every_round = true;
    s.duration_ms = 800;
    s.min_commits_after_gst = 20;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "lossy-reordering-n4";
    s.max_delay_ms = 60;
    s.loss_before_gst = 0.15;
    s.duplicate = 0.1;
    s.gst_ms = 1000;
    s.duration_ms = 2500;
    out.push_back(s);
  }
  for (std::size_t n : {4, 7, 10}) {
    Scenario s;
    s.name = "byzantine-all-n" + std::to_string(n);
    s.n = n;
    s.byzantine = (n - 1) / 3;
    s.behaviour = {true, true, true, true, true};
    s.duplicate = 0.05;
    s.duration_ms = n == 4 ? 2500 : 1500;
    s.min_commits_after_gst = 3;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "crashed-leader-n4";
    s.crashes = {{1, 0, 0}};  // leader of rounds 1, 5, 9, ... never comes back
    s.duration_ms = 3000;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "crash-restart-n4";
    s.crashes = {{2, 200, 600}, {0, 800, 1100}};
    s.duration_ms = 2000;
    out.push_back(s);
  }
  {
    // Every validator stops at once and comes back: only what each stored is left (its safety
    // data, certificates, persisted blocks), and the chain must move on from it.
    Scenario s;
    s.name = "restart-all-n4";
    s.crashes = {{0, 700, 900}, {1, 700, 900}, {2, 700, 900}, {3, 700, 900}};
    s.gst_ms = 900;  // liveness is counted from the restart
    s.duration_ms = 2500;
    out.push_back(s);
  }
  {
    Scenario s;  // self-certifying: the own vote is a quorum
    s.name = "single-validator-n1";
    s.n = 1;
    s.duration_ms = 1000;
    s.expect_commit_every_round = true;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "partition-2-2-heals-n4";
    s.partition = {{0, 1}, {2, 3}};
    s.gst_ms = 800;
    s.duration_ms = 2200;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "equivocating-leader-n4";
    s.byzantine = 1;
    s.behaviour.equivocate = true;
    s.behaviour.vote_everything = true;
    s.duration_ms = 2000;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "equivocating-leader-n7";
    s.n = 7;
    s.byzantine = 2;
    s.behaviour.equivocate = true;
    s.behaviour.vote_everything = true;
    s.duration_ms = 2500;
    out.push_back(s);
  }
  {
    Scenario s;
    s.name = "replay-garbage-storm-n4";
    s.byzantine = 1;
    s.behaviour.garbage = true;
    s.behaviour.replay = true;
    s.behaviour.withhold_votes = true;
    s.duration_ms = 1500;
    out.push_back(s);
  }
  return out;
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

bool report(const Scenario& s, std::uint64_t seed, const RunResult& r) {
  if (r.ok) return true;
  ADD_FAILURE() << "scenario " << s.name << " seed " << seed << ": " << r.failure
                << "\nreproduce: OL_SIM_SCENARIO=" << s.name << " OL_SIM_SEED=" << seed
                << " tests/consensus/consensus_sim_test\nlast events:\n"
                << r.trace;
  return false;
}

TEST(Simulation, SeedSweepAcrossScenarios) {
  const auto all = scenarios();
  if (const char* only = std::getenv("OL_SIM_SCENARIO")) {
    for (const auto& s : all) {
      if (s.name == only) {
        const std::uint64_t seed = env_u64("OL_SIM_SEED", 1);
        auto r = run(s, seed);
        std::cout << s.name << " seed " << seed << ": rounds " << r.rounds << ", height "
                  << r.max_height << ", messages " << r.messages << "\n";
        report(s, seed, r);
        return;
      }
    }
    FAIL() << "no scenario " << only;
  }
  const std::uint64_t runs = env_u64("OL_SIM_RUNS", 520);
  const std::uint64_t base = env_u64("OL_SIM_SEED", 1);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> count(all.size()), rounds(all.size());
  std::size_t failures = 0;
  for (std::uint64_t i = 0; i < runs && failures < 5; ++i) {
    const auto& s = all[i % all.size()];
    const std::uint64_t seed = base + i;
    auto r = run(s, seed);
    ++count[i % all.size()];
    rounds[i % all.size()] += r.rounds;
    if (!report(s, seed, r)) ++failures;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << runs << " runs in " << secs << " s\n";
  for (std::size_t k = 0; k < all.size(); ++k) {
    std::cout << "  " << all[k].name << ": " << count[k] << " runs, mean rounds "
              << (count[k] ? rounds[k] / count[k] : 0) << "\n";
  }
}

TEST(Simulation, SameSeedSameRun) {
  const auto all = scenarios();
  for (const auto& s : all) {
    auto a = run(s, 42);
    auto b = run(s, 42);
    EXPECT_EQ(a.rounds, b.rounds) << s.name;
    EXPECT_EQ(a.max_height, b.max_height) << s.name;
    EXPECT_EQ(a.messages, b.messages) << s.name;
  }
}

TEST(Simulation, PartitionedTwoTwoMakesNoProgressBeforeHealing) {
  Scenario s;
  s.partition = {{0, 1}, {2, 3}};
  s.gst_ms = 100'000;  // never heals within the run
  s.duration_ms = 3000;
  s.min_commits_after_gst = 0;
  auto r = run(s, 7);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.max_height, 0u);
}

}  // namespace
}  // namespace ol::sim
