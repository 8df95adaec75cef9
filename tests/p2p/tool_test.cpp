// The openliquid-p2p binary, run as an operator would.
#include <gtest/gtest.h>

#include "p2p/child_process.h"

namespace ol::p2p {
namespace {

using test::ChildProcess;

const std::string kTool = OL_P2P_TOOL;

struct Listener {
  ChildProcess proc{{kTool, "listen", "--port", "0"}};
  std::string addr = proc.next_line().value_or("");
};

TEST(Tool, ListenPrintsFullMultiaddrAndServesPingAndIdentify) {
  Listener l;
  ASSERT_TRUE(l.addr.starts_with("/ip4/127.0.0.1/tcp/")) << l.addr;
  const auto id_at = l.addr.find("/p2p/12D3KooW");
  ASSERT_NE(id_at, std::string::npos) << l.addr;
  const std::string peer_id = l.addr.substr(id_at + 5);

  ChildProcess ping({kTool, "ping", l.addr, "-n", "3"});
  int lines = 0;
  while (auto line = ping.next_line()) {
    EXPECT_TRUE(line->starts_with("ping " + std::to_string(lines + 1) + ": " + peer_id + " rtt="))
        << *line;
    ++lines;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(ping.wait(), 0);

  ChildProcess ident({kTool, "identify", l.addr});
  const std::string out = ident.read_all();
  EXPECT_EQ(ident.wait(), 0);
  EXPECT_NE(out.find("peer id: " + peer_id), std::string::npos) << out;
  EXPECT_NE(out.find("agent version: openliquid/"), std::string::npos) << out;
  EXPECT_NE(out.find("  /echo/1.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("  /ipfs/ping/1.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("  " + l.addr.substr(0, id_at)), std::string::npos) << out;

  l.proc.terminate();
  EXPECT_EQ(l.proc.wait(), 0);
}

// Each failure: exit status 1 and exactly one line naming the reason.
void expect_failure(std::vector<std::string> args, const std::string& reason) {
  args.insert(args.begin(), kTool);
  ChildProcess p(args, "", /*capture_stderr=*/true);
  const std::string out = p.read_all();
  EXPECT_EQ(p.wait(), 1) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_TRUE(out.starts_with("openliquid-p2p: " + reason)) << out;
}

TEST(Tool, FailuresExitNonZeroWithOneLineReason) {
  Listener l;
  const auto id_at = l.addr.find("/p2p/");
  // A PeerId that is not the listener's.
  expect_failure({"ping", l.addr.substr(0, id_at) +
                              "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"},
                 "handshake failed: noise: peer id mismatch");
  expect_failure({"identify", "/ip4/127.0.0.1/tcp/1"}, "unreachable");
  expect_failure({"ping", "/ip4/127.0.0.1/udp/1"}, "bad multiaddr");
  expect_failure({"ping", "not-an-address"}, "bad multiaddr");
}

}  // namespace
}  // namespace ol::p2p
