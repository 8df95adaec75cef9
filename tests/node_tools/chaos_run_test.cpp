// `openliquid chaos` as CI runs it: about a minute of SIGKILLs, restarts and partitions under a
// signed load on real validator processes, then the checker over every store. The run must
// report kills, partitions and commits, and exit 0 with zero violations.
#include <gtest/gtest.h>

#include <filesystem>
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
  // Every validator was stopped, and the checker read every store.
  EXPECT_NE(out.find("re-executed"), std::string::npos);
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(base);
  } else {
    std::printf("chaos test: network kept in %s\n", base.c_str());
  }
}

}  // namespace
