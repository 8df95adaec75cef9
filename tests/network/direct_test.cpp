// Direct validator channels, redial, partitions and hostile peers, over real sockets on 127.0.0.1.
#include <atomic>

#include "network/cluster.h"
#include "network/frame.h"
#include "p2p/asio.h"

namespace ol::network {
namespace {

using namespace test;
using p2p::Task;

constexpr std::size_t kValidators = 4;

class NetworkDirectTest : public ::testing::Test {
 protected:
  // Four validators that know each other, fully connected.
  void start_validators(Config config = fast_config()) {
    for (std::size_t i = 0; i < kValidators; ++i) cluster.add(config);
    for (std::size_t i = 0; i < kValidators; ++i) cluster.start(i);
    cluster.make_validators(kValidators);
    ASSERT_TRUE(cluster.fully_connected(kValidators));
  }

  Node& node(std::size_t i) { return *cluster.nodes[i]; }
  Health health(std::size_t i) { return node(i).net->health(); }

  // Frames node `to` received from validator `from` (in order).
  std::vector<std::string> received(std::size_t to, ValidatorIndex from) {
    std::vector<std::string> out;
    for (const auto& m : node(to).direct) {
      if (m.from == from) out.push_back(str(m.frame));
    }
    return out;
  }

  // Node `from` sends "tag:k" for k in [0, n) to `to`; true once all arrived, in order.
  bool deliver(std::size_t from, std::size_t to, const std::string& tag, int n = 20) {
    for (int k = 0; k < n; ++k) {
      node(from).net->send_to_peer(static_cast<ValidatorIndex>(to),
                                   text(tag + ":" + std::to_string(k)));
    }
    std::vector<std::string> want;
    for (int k = 0; k < n; ++k) want.push_back(tag + ":" + std::to_string(k));
    return cluster.eventually([&] {
      auto got = received(to, static_cast<ValidatorIndex>(from));
      std::erase_if(got, [&](const std::string& s) { return !s.starts_with(tag + ":"); });
      return got == want;
    });
  }

  // A non-validator Host that dials node `target` and opens the consensus protocol to it.
  struct RawPeer {
    std::shared_ptr<p2p::Host> host;
    p2p::PeerId target;
    p2p::Host::StreamPtr stream;
  };
  RawPeer raw_peer(std::size_t target) {
    RawPeer r;
    r.host =
        cluster.on_io([&] { return p2p::Host::create(cluster.io, p2p::Identity::generate()); });
    r.target = node(target).id();
    const auto addr = node(target).addr.with_peer_id(r.target);
    r.stream = cluster.run([&]() -> Task<p2p::Host::StreamPtr> {
      auto peer = co_await r.host->dial(addr);
      EXPECT_TRUE(peer.ok());
      if (!peer) co_return nullptr;
      std::vector<std::string> protos;
      protos.emplace_back(kConsensusProtocol);
      auto s = co_await r.host->new_stream(*peer, protos);
      EXPECT_TRUE(s.ok());
      co_return s ? *s : nullptr;
    }());
    raw_peers.push_back(r.host);
    return r;
  }
  bool write(RawPeer& r, Bytes bytes) {
    return cluster.run([&]() -> Task<bool> { co_return (co_await r.stream->write(bytes)).ok(); }());
  }
  // Waits until node `target` has closed the raw peer's connection.
  bool raw_disconnected(RawPeer& r) {
    return cluster.eventually_io([&] { return !r.host->is_connected(r.target); });
  }

  void TearDown() override {
    cluster.on_io([&] {
      for (auto& h : raw_peers) h->close();
    });
    cluster.shutdown();
  }

  Cluster cluster;
  std::vector<std::shared_ptr<p2p::Host>> raw_peers;
};

TEST_F(NetworkDirectTest, MessagesReachOnlyTheAddressedValidatorWithTheRightSender) {
  start_validators();
  for (std::size_t from = 0; from < kValidators; ++from) {
    for (std::size_t to = 0; to < kValidators; ++to) {
      if (from != to) {
        node(from).net->send_to_peer(static_cast<ValidatorIndex>(to),
                                     text(std::to_string(from) + "->" + std::to_string(to)));
      }
    }
  }
  node(2).net->send_to_peer(2, text("to self"));  // a no-op
  ASSERT_TRUE(cluster.eventually([&] {
    for (std::size_t i = 0; i < kValidators; ++i) {
      if (node(i).direct.size() < kValidators - 1) return false;
    }
    return true;
  }));
  std::lock_guard lock(cluster.mu);
  for (std::size_t to = 0; to < kValidators; ++to) {
    ASSERT_EQ(node(to).direct.size(), kValidators - 1) << "node " << to;
    for (const auto& m : node(to).direct) {
      EXPECT_EQ(str(m.frame), std::to_string(m.from) + "->" + std::to_string(to));
    }
  }
}

TEST_F(NetworkDirectTest, SendToValidatorsReachesEveryOtherValidatorInOrder) {
  start_validators();
  for (int k = 0; k < 200; ++k) node(1).net->send_to_validators(text("v" + std::to_string(k)));
  std::vector<std::string> want;
  for (int k = 0; k < 200; ++k) want.push_back("v" + std::to_string(k));
  ASSERT_TRUE(cluster.eventually(
      [&] { return received(0, 1) == want && received(2, 1) == want && received(3, 1) == want; }));
  EXPECT_TRUE(received(1, 1).empty());
  EXPECT_GE(health(1).messages_sent, 600u);
  EXPECT_EQ(health(1).validator_peers, 3u);
  EXPECT_EQ(node(1).net->self_index(), 1u);
}

TEST_F(NetworkDirectTest, LargeFramesUpToTheBoundArrive) {
  start_validators();
  Bytes big(3u << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  node(0).net->send_to_peer(3, big);
  ASSERT_TRUE(cluster.eventually([&] { return !node(3).direct.empty(); }));
  std::lock_guard lock(cluster.mu);
  EXPECT_EQ(node(3).direct[0].frame, big);
}

TEST_F(NetworkDirectTest, FramesFromANonValidatorAreDroppedAndCounted) {
  start_validators();
  auto raw = raw_peer(0);
  ASSERT_TRUE(raw.stream);
  Bytes frames;
  for (int k = 0; k < 5; ++k) append(frames, encode_frame(text("not a validator")));
  ASSERT_TRUE(write(raw, frames));
  ASSERT_TRUE(cluster.eventually([&] { return health(0).direct_dropped >= 5; }));
  EXPECT_TRUE(deliver(1, 0, "honest"));
  std::lock_guard lock(cluster.mu);
  for (const auto& m : node(0).direct) EXPECT_NE(str(m.frame), "not a validator");
}

TEST_F(NetworkDirectTest, FramesFailingTheFrameCheckAreDroppedAndCounted) {
  Config c = fast_config();
  c.frame_check = [](ByteView f) { return f.empty() || f[0] != 0xff; };
  start_validators(c);
  node(1).net->send_to_peer(0, Bytes{0xff, 1, 2});
  ASSERT_TRUE(cluster.eventually([&] { return health(0).direct_dropped >= 1; }));
  EXPECT_TRUE(deliver(1, 0, "fine"));
  std::lock_guard lock(cluster.mu);
  EXPECT_EQ(node(0).direct.size(), 20u);
}

TEST_F(NetworkDirectTest, AnOversizedFrameClosesTheConnectionAndOthersAreFine) {
  Config c = fast_config();
  c.max_frame_size = 1u << 20;
  start_validators(c);
  auto raw = raw_peer(0);
  ASSERT_TRUE(raw.stream);
  ASSERT_TRUE(write(raw, Bytes{0x00, 0x10, 0x00, 0x01}));  // 1 MiB + 1, body never sent
  ASSERT_TRUE(raw_disconnected(raw));
  EXPECT_GE(health(0).direct_dropped, 1u);
  // A validator sending more than the bound is refused locally and counted.
  node(2).net->send_to_peer(0, Bytes((1u << 20) + 1));
  ASSERT_TRUE(cluster.eventually([&] { return health(2).send_dropped >= 1; }));
  EXPECT_TRUE(deliver(1, 0, "after"));
  EXPECT_TRUE(deliver(0, 2, "after"));
}

TEST_F(NetworkDirectTest, AFloodingPeerIsThrottledThenBannedWhileHonestNodesDeliver) {
  Config c = fast_config();
  c.peer_max_msgs_per_sec = 2000;
  c.violations_before_ban = 2;
  c.ban_duration = 60s;
  start_validators(c);
  auto raw = raw_peer(0);
  ASSERT_TRUE(raw.stream);
  // ~25k junk frames per second: bursts of 500 every 20 ms, until node 0 closes the connection.
  std::atomic<bool> flooding{true};
  std::atomic<std::uint64_t> sent{0};
  Bytes burst;
  for (int k = 0; k < 500; ++k) append(burst, encode_frame(Bytes(64, 0xAB)));
  auto flood = [&]() -> Task<void> {
    asio::steady_timer t(cluster.io);
    auto stream = raw.stream;
    while (flooding) {
      if (!(co_await stream->write(burst)).ok()) break;
      sent += 500;
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    flooding = false;
  };
  auto done = asio::co_spawn(cluster.io, flood(), asio::use_future);
  ASSERT_TRUE(cluster.eventually([&] { return health(0).rate_limited > 0; }));
  // Honest traffic keeps flowing while the flood is being throttled.
  EXPECT_TRUE(deliver(1, 0, "during"));
  EXPECT_TRUE(deliver(0, 3, "during"));
  ASSERT_TRUE(cluster.eventually([&] { return health(0).bans >= 1; }));
  ASSERT_TRUE(raw_disconnected(raw));
  done.get();
  EXPECT_GT(sent.load(), 2000u);
  EXPECT_EQ(health(0).bans, 1u);
  // Banned: a new connection is closed right after the handshake.
  const auto addr = node(0).addr.with_peer_id(raw.target);
  (void)cluster.run(raw.host->dial(addr));
  ASSERT_TRUE(raw_disconnected(raw));
  EXPECT_TRUE(deliver(2, 0, "after"));
  EXPECT_EQ(health(0).validator_peers, 3u);
}

TEST_F(NetworkDirectTest, ARestartedValidatorIsRedialledAndMessagesFlowAgain) {
  start_validators();
  EXPECT_TRUE(deliver(3, 0, "before"));
  cluster.stop(3);
  ASSERT_TRUE(cluster.eventually([&] {
    for (std::size_t i = 0; i < 3; ++i) {
      if (node(i).connected.contains(node(3).id())) return false;
    }
    return true;
  }));
  // Same key, same port; the others have been redialling with backoff meanwhile.
  node(3).config.listen = node(3).addr;
  node(3).config.validators = cluster.validator_peers(kValidators);
  cluster.start(3);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster.fully_connected(kValidators));
  const auto took = std::chrono::steady_clock::now() - t0;
  // Informational (timings are never asserted): the bound is redial_cap + a dial.
  std::printf(
      "reconnected after %lld ms (redial cap %lld ms)\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      static_cast<long long>(fast_config().redial_cap.count()));
  EXPECT_TRUE(deliver(3, 0, "again"));
  EXPECT_TRUE(deliver(1, 3, "again"));
  EXPECT_TRUE(deliver(3, 2, "again"));
}

TEST_F(NetworkDirectTest, PartitionIsDetectedBelowQuorumAndHealsOnRestart) {
  start_validators();
  EXPECT_FALSE(cluster.on_io([&] { return node(0).net->check_partition(); }));
  int detected = 0, healed = 0;
  {
    std::lock_guard lock(cluster.mu);
    detected = node(0).partitions_detected;
    healed = node(0).partitions_healed;
  }
  cluster.stop(2);
  cluster.stop(3);  // node 0 now sees itself and node 1: 2 < n - f = 3
  ASSERT_TRUE(cluster.eventually([&] { return node(0).partitions_detected == detected + 1; }));
  EXPECT_TRUE(health(0).partitioned);
  EXPECT_TRUE(cluster.eventually([&] { return health(1).partitioned; }));
  EXPECT_EQ(health(0).validator_peers, 1u);
  for (std::size_t i : {2, 3}) {
    node(i).config.listen = node(i).addr;
    node(i).config.validators = cluster.validator_peers(kValidators);
    cluster.start(i);
  }
  ASSERT_TRUE(cluster.eventually([&] { return node(0).partitions_healed == healed + 1; }));
  EXPECT_FALSE(health(0).partitioned);
  ASSERT_TRUE(cluster.fully_connected(kValidators));
  EXPECT_TRUE(deliver(2, 0, "healed"));
  std::lock_guard lock(cluster.mu);
  EXPECT_EQ(node(0).partitions_detected, detected + 1);
}

TEST_F(NetworkDirectTest, RemovedValidatorsFramesAreDropped) {
  start_validators();
  cluster.on_io([&] { node(0).net->remove_validator(1); });
  node(1).net->send_to_peer(0, text("gone"));
  ASSERT_TRUE(cluster.eventually([&] { return health(0).direct_dropped >= 1; }));
  EXPECT_TRUE(received(0, 1).empty());
  EXPECT_TRUE(deliver(2, 0, "still"));
}

}  // namespace
}  // namespace ol::network
