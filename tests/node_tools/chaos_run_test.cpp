// `openliquid chaos` as CI runs it: about a minute of SIGKILLs, restarts and partitions under a
// signed load on real validator processes, then the checker over every store. The run must
// report kills, partitions and commits, and exit 0 with zero violations.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <stdlib.h>
#include "p2p/child_process.h"

namespace {

using ol::p2p::test::ChildProcess;

const std::string kBinary = OL_OPENLIQUID;

std::uint64_t number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return 0;
  return std::stoull(m[1]);
}

TEST(Chaos, ShortRunHasNoViolations) {
  // Kept when the run fails (the logs and stores are the evidence); removed after a clean one.
  std::string base = (std::filesystem::temp_directory_path() / "ol-chaos-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  const std::string dir = base + "/net";
  const char* seed = std::getenv("OL_CHAOS_SEED");
  const char* duration = std::getenv("OL_CHAOS_DURATION");
  ChildProcess p(
      {kBinary, "chaos", "--validators", "4", "--duration", duration ? duration : "60s", "--seed",
       seed ? seed : "20261124", "--rate", "40", "--dir", dir, "--status-every", "10"},
      "", true);
  ASSERT_TRUE(p.started());
  const std::string out = p.read_all();
  const int rc = p.wait();
  std::printf("%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("violations=0"), std::string::npos);
  EXPECT_GT(number_after(out, R"(kills=(\d+))"), 0u);
  EXPECT_GT(number_after(out, R"(restarts=(\d+))"), 0u);
  EXPECT_GT(number_after(out, R"(partitions=(\d+))"), 0u);
  EXPECT_GT(number_after(out, R"(commits=(\d+))"), 20u);
  EXPECT_GT(number_after(out, R"(txs_committed=(\d+))"), 100u);
  // The load says what it had to send again (lost with a killed node's pool).
  EXPECT_GT(number_after(out, R"(load: (\d+) transactions accepted)"), 100u);
  // Every validator was stopped, and the checker read every store and journal.
  EXPECT_NE(out.find("re-executed"), std::string::npos);
  EXPECT_NE(out.find("4 journals"), std::string::npos);

  // The kept network checks clean on its own, and stops checking clean once node0's journal
  // holds a second vote for a round it voted in (the checker can fail).
  {
    ChildProcess again({kBinary, "chaos", "--check", dir}, "", true);
    const std::string text = again.read_all();
    EXPECT_EQ(again.wait(), 0) << text;
    EXPECT_NE(text.find("violations=0"), std::string::npos) << text;
  }
  std::string first_vote;
  {
    std::ifstream in(dir + "/node0/signing.journal");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("vote ", 0) == 0) {
        first_vote = line;
        break;
      }
    }
  }
  ASSERT_FALSE(first_vote.empty());
  std::string other = first_vote;
  other.back() = other.back() == '0' ? '1' : '0';  // another block id, same round
  {
    std::ofstream out_journal(dir + "/node0/signing.journal", std::ios::app);
    out_journal << other << "\n";
  }
  {
    ChildProcess tampered({kBinary, "chaos", "--check", dir}, "", true);
    const std::string text = tampered.read_all();
    EXPECT_EQ(tampered.wait(), 1) << text;
    EXPECT_NE(text.find("violation: double-sign: node0"), std::string::npos) << text;
  }
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(base);
  } else {
    std::printf("chaos test: network kept in %s\n", base.c_str());
  }
}

}  // namespace
