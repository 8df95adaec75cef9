// openliquid-p2p pub/sub, run as an operator would: a listener joined to a topic, a subscriber
// and a publisher meeting through it.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "p2p/child_process.h"

namespace ol::p2p {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;

const std::string kTool = OL_P2P_TOOL;
const std::string kTopic = "openliquid/tool-test/1.0.0";

TEST(GossipsubTool, PubAndSubMeetThroughListen) {
  ChildProcess listener({kTool, "listen", "--port", "0", "--topic", kTopic});
  const std::string addr = listener.next_line().value_or("");
  ASSERT_TRUE(addr.starts_with("/ip4/127.0.0.1/tcp/")) << addr;

  ChildProcess sub({kTool, "sub", kTopic, "--bootstrap", addr});
  ASSERT_TRUE(sub.started());
  // The subscriber's first line arrives on another thread; the publisher retries until then
  // (its message is lost only if the subscriber has not joined the listener's mesh yet).
  auto first = std::async(std::launch::async, [&] { return sub.next_line(); });
  bool published = false;
  for (int attempt = 0; attempt < 20; ++attempt) {
    ChildProcess pub({kTool, "pub", kTopic, "hello mesh", "--bootstrap", addr, "--count", "2"});
    const std::string out = pub.read_all();
    EXPECT_EQ(pub.wait(), 0) << out;
    published = out.starts_with("published 2 message(s) on " + kTopic);
    EXPECT_TRUE(published) << out;
    if (first.wait_for(1s) == std::future_status::ready) break;
  }
  ASSERT_EQ(first.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(first.get().value_or(""), "hello mesh");
  sub.terminate();
  EXPECT_EQ(sub.wait(), 0);
  listener.terminate();
  EXPECT_EQ(listener.wait(), 0);
}

TEST(GossipsubTool, PubWithoutMeshPeerFailsWithOneLine) {
  ChildProcess listener({kTool, "listen", "--port", "0"});  // joined to no topic
  const std::string addr = listener.next_line().value_or("");
  ChildProcess pub({kTool, "pub", kTopic, "x", "--bootstrap", addr, "--timeout-ms", "1500"}, "",
                   /*capture_stderr=*/true);
  const std::string out = pub.read_all();
  EXPECT_EQ(pub.wait(), 1) << out;
  EXPECT_EQ(out, "openliquid-p2p: no mesh peer on " + kTopic + " within 1500 ms\n");

  ChildProcess unreachable({kTool, "sub", kTopic, "--bootstrap", "/ip4/127.0.0.1/tcp/1"}, "",
                           /*capture_stderr=*/true);
  const std::string out2 = unreachable.read_all();
  EXPECT_EQ(unreachable.wait(), 1) << out2;
  EXPECT_NE(out2.find("openliquid-p2p: unreachable"), std::string::npos) << out2;
  listener.terminate();
  EXPECT_EQ(listener.wait(), 0);
}

}  // namespace
}  // namespace ol::p2p
