// Gossip through NetworkManager::broadcast on clusters of 4 validators and of 10 and 30 nodes found
// through bootstrap addresses: every message reaches every other node exactly once.
#include <atomic>
#include <thread>

#include "network/cluster.h"
#include "p2p/proto/rpc.pb.h"
#include "p2p/varint.h"

namespace ol::network {
namespace {

using namespace test;

class NetworkGossipTest : public ::testing::Test {
 protected:
  Node& node(std::size_t i) { return *cluster.nodes[i]; }

  // `n` nodes that are not validators; node i bootstraps from nodes i-1, i-2 and i-3, so the
  // graph is connected and each node has about six peers (gossipsub's D).
  void start_bootstrapped(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      Config c = fast_config();
      for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
        c.bootstrap.push_back(node(i - back).addr.with_peer_id(node(i - back).id()));
      }
      cluster.add(c);
      cluster.start(i);
    }
  }

  void start_validators(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) cluster.add();
    for (std::size_t i = 0; i < n; ++i) cluster.start(i);
    cluster.make_validators(n);
    ASSERT_TRUE(cluster.fully_connected(n));
  }

  // Every node has a subscribed peer on every OpenLiquid topic: the gossip overlay is connected.
  // Meshes need not have formed: a message that crosses a link before the link joins a mesh is
  // advertised (IHAVE) when it joins, so the tests publish as soon as every node is reachable.
  bool overlay_connected() {
    if (subscribed_peer_on_every_node()) return true;
    describe_overlay(std::string(kBlocksTopic));
    return false;
  }
  bool subscribed_peer_on_every_node() {
    return cluster.eventually_io(
        [&] {
          for (auto& n : cluster.nodes) {
            if (!n->net) continue;
            for (auto t : {kBlocksTopic, kTransactionsTopic, kQcsTopic}) {
              if (n->net->gossip()->topic_peers(std::string(t)).empty()) return false;
            }
          }
          return true;
        },
        std::chrono::seconds(60));
  }

  // Node `from` broadcasts `data` on `topic`; waits until every other running node has it, then
  // checks that nobody got it twice or echoed it to the publisher.
  void expect_delivered_once(std::size_t from, std::string_view topic, const std::string& data) {
    const std::string key = std::string(topic) + "|" + data;
    auto everyone = [&] {
      for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
        if (i != from && node(i).net && !node(i).gossip.contains(key)) return false;
      }
      return true;
    };
    if (!cluster.eventually(everyone, std::chrono::seconds(60))) {
      ADD_FAILURE() << key << " did not reach every node";
      describe_overlay(std::string(topic));
    }
  }

  // On failure: each node's view of the gossip overlay (mesh and subscribed peers by node index).
  void describe_overlay(const std::string& topic) {
    cluster.on_io([&] {
      auto index_of = [&](const p2p::PeerId& p) {
        for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
          if (node(i).id() == p) return std::to_string(i);
        }
        return std::string("?");
      };
      for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
        if (!node(i).net) continue;
        std::string line = "node " + std::to_string(i) + " mesh:";
        for (const auto& p : node(i).net->gossip()->mesh_peers(topic)) line += " " + index_of(p);
        line += " subscribed:";
        for (const auto& p : node(i).net->gossip()->topic_peers(topic)) line += " " + index_of(p);
        const auto& st = node(i).net->gossip()->stats();
        const Health h = node(i).net->health();
        line += " | delivered " + std::to_string(st.messages_delivered) + " invalid " +
                std::to_string(st.invalid) + " ignored " + std::to_string(st.ignored) +
                " dropped_rpcs " + std::to_string(st.dropped_rpcs) + " rate_limited " +
                std::to_string(h.rate_limited) + " |";
        line += " connected:";
        for (const auto& p : node(i).net->host()->peers()) line += " " + index_of(p);
        std::printf("%s\n", line.c_str());
      }
    });
  }

  void expect_exactly_once(const std::vector<std::pair<std::size_t, std::string>>& sent,
                           std::string_view topic) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for late duplicates
    std::lock_guard lock(cluster.mu);
    for (const auto& [from, data] : sent) {
      const std::string key = std::string(topic) + "|" + data;
      for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
        if (!node(i).net) continue;
        const auto it = node(i).gossip.find(key);
        const int got = it == node(i).gossip.end() ? 0 : it->second;
        EXPECT_EQ(got, i == from ? 0 : 1) << "node " << i << " " << key;
      }
    }
  }

  // Each of `publishers` broadcasts one message on each topic.
  void broadcast_round(const std::vector<std::size_t>& publishers, const std::string& tag) {
    for (auto t : {kBlocksTopic, kTransactionsTopic, kQcsTopic}) {
      std::vector<std::pair<std::size_t, std::string>> sent;
      for (auto p : publishers) {
        const std::string data = tag + " from " + std::to_string(p);
        node(p).net->broadcast(t, text(data));
        sent.emplace_back(p, data);
      }
      for (const auto& [p, data] : sent) expect_delivered_once(p, t, data);
      expect_exactly_once(sent, t);
    }
  }

  void TearDown() override {
    cluster.on_io([&] {
      for (auto& h : raw_hosts) h->close();
    });
    cluster.shutdown();
  }
  std::vector<std::shared_ptr<p2p::Host>> raw_hosts;

  Cluster cluster;
};

TEST_F(NetworkGossipTest, FourValidatorsEveryMessageOnceEverywhere) {
  start_validators(4);
  ASSERT_TRUE(overlay_connected());
  broadcast_round({0, 1, 2, 3}, "hello");
  const Health h = node(0).net->health();
  EXPECT_EQ(h.messages_received, 9u);  // 3 topics x 3 other publishers
  EXPECT_GE(h.avg_propagation_ms, 0.0);
  EXPECT_GE(h.p99_propagation_ms, 0.0);
}

// Validators publish commit notices without subscribing to them (Config::publish_only): node 0's
// notice reaches the subscribed nodes once each, and what they publish there never reaches it.
TEST_F(NetworkGossipTest, APublishOnlyTopicReachesSubscribersAndDeliversNothingToThePublisher) {
  Config publisher = fast_config();
  publisher.publish_only.emplace_back(kQcsTopic);
  cluster.add(publisher);
  for (std::size_t i = 1; i < 4; ++i) cluster.add();
  for (std::size_t i = 0; i < 4; ++i) cluster.start(i);
  cluster.make_validators(4);
  ASSERT_TRUE(cluster.fully_connected(4));
  const std::string qcs(kQcsTopic);
  // Nodes 1-3 see each other subscribed to the notices, and node 0 nowhere.
  ASSERT_TRUE(cluster.eventually_io([&] {
    for (std::size_t i = 1; i < 4; ++i) {
      if (node(i).net->gossip()->topic_peers(qcs).size() != 2) return false;
    }
    return node(0).net->gossip()->topic_peers(qcs).size() == 3 &&
           !node(0).net->gossip()->topic_peers(std::string(kTransactionsTopic)).empty();
  }));
  node(0).net->broadcast(kQcsTopic, text("notice from 0"));
  node(1).net->broadcast(kQcsTopic, text("notice from 1"));
  node(0).net->broadcast(kTransactionsTopic, text("tx from 0"));
  ASSERT_TRUE(cluster.eventually([&] {
    for (std::size_t i = 1; i < 4; ++i) {
      if (!node(i).gossip.contains(qcs + "|notice from 0")) return false;
    }
    return node(2).gossip.contains(qcs + "|notice from 1") &&
           node(3).gossip.contains(qcs + "|notice from 1") &&
           node(1).gossip.contains(std::string(kTransactionsTopic) + "|tx from 0");
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for late copies
  std::lock_guard lock(cluster.mu);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(node(i).gossip[qcs + "|notice from 0"], 1) << i;
  EXPECT_FALSE(node(0).gossip.contains(qcs + "|notice from 1"));
  for (std::size_t i = 0; i < 4; ++i) {
    for (const auto& [key, count] : node(i).gossip) EXPECT_EQ(count, 1) << i << " " << key;
  }
}

TEST_F(NetworkGossipTest, TheSamePayloadPublishedTwiceIsOneMessage) {
  start_validators(4);
  ASSERT_TRUE(overlay_connected());
  node(0).net->broadcast(kTransactionsTopic, text("tx"));
  node(0).net->broadcast(kTransactionsTopic, text("tx"));
  node(1).net->broadcast(kTransactionsTopic, text("tx"));
  ASSERT_TRUE(cluster.eventually([&] {
    return node(2).gossip.contains(std::string(kTransactionsTopic) + "|tx") &&
           node(3).gossip.contains(std::string(kTransactionsTopic) + "|tx");
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::lock_guard lock(cluster.mu);
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(node(i).gossip[std::string(kTransactionsTopic) + "|tx"], 1) << i;
  }
}

TEST_F(NetworkGossipTest, ARestartedValidatorGetsAndSendsGossipAgain) {
  start_validators(4);
  ASSERT_TRUE(overlay_connected());
  broadcast_round({1}, "before");
  cluster.stop(3);
  {
    std::lock_guard lock(cluster.mu);
    node(3).gossip.clear();
  }
  node(3).config.listen = node(3).addr;
  node(3).config.validators = cluster.validator_peers(4);
  cluster.start(3);
  ASSERT_TRUE(cluster.fully_connected(4));
  ASSERT_TRUE(overlay_connected());
  broadcast_round({0, 3}, "after");
}

// A non-validator floods node 0's gossip stream with ~25k junk RPCs per second (each a message
// with a bad signature): every RPC is charged to its rate limits before it is decoded, so it is
// throttled, then banned and disconnected, while the validators' gossip is delivered exactly once.
TEST_F(NetworkGossipTest, AGossipFlooderIsThrottledThenBannedWhileGossipIsDeliveredOnce) {
  Config c = fast_config();
  c.peer_max_msgs_per_sec = 2000;
  c.violations_before_ban = 2;
  c.ban_duration = 60s;
  for (std::size_t i = 0; i < 4; ++i) cluster.add(c);
  for (std::size_t i = 0; i < 4; ++i) cluster.start(i);
  cluster.make_validators(4);
  ASSERT_TRUE(cluster.fully_connected(4));
  ASSERT_TRUE(overlay_connected());

  const p2p::Identity flooder = p2p::Identity::generate();
  auto host = cluster.on_io([&] { return p2p::Host::create(cluster.io, flooder); });
  raw_hosts.push_back(host);
  const p2p::PeerId target = node(0).id();
  auto stream = cluster.run([&]() -> p2p::Task<p2p::Host::StreamPtr> {
    auto peer = co_await host->dial(node(0).addr.with_peer_id(target));
    if (!peer) co_return nullptr;
    std::vector<std::string> protos{std::string(p2p::gossipsub::kProtocolV11)};
    auto st = co_await host->new_stream(*peer, protos);
    co_return st ? *st : nullptr;
  }());
  ASSERT_TRUE(stream);
  auto framed = [](const p2p::proto::RPC& rpc) {
    const std::string body = rpc.SerializeAsString();
    Bytes out;
    p2p::put_uvarint(out, body.size());
    append(out, as_bytes(body));
    return out;
  };
  p2p::proto::RPC hello;
  hello.add_subscriptions()->set_subscribe(true);
  hello.mutable_subscriptions(0)->set_topicid(std::string(kBlocksTopic));
  p2p::proto::RPC junk;
  auto* m = junk.add_publish();
  m->set_from(std::string(flooder.peer_id.bytes().begin(), flooder.peer_id.bytes().end()));
  m->set_seqno(std::string(8, '\x01'));
  m->set_topic(std::string(kBlocksTopic));
  m->set_data(std::string(64, '\xab'));
  m->set_signature(std::string(64, '\0'));
  Bytes burst = framed(hello);
  const Bytes one = framed(junk);
  for (int k = 0; k < 500; ++k) append(burst, one);

  std::atomic<bool> flooding{true};
  std::atomic<std::uint64_t> sent{0};
  auto flood = [&]() -> p2p::Task<void> {
    asio::steady_timer t(cluster.io);
    while (flooding) {
      if (!(co_await stream->write(burst)).ok()) break;
      sent += 500;
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    flooding = false;
  };
  auto done = asio::co_spawn(cluster.io, flood(), asio::use_future);
  ASSERT_TRUE(cluster.eventually([&] { return node(0).net->health().rate_limited > 0; }));
  broadcast_round({1, 2}, "during the flood");  // delivered everywhere, exactly once
  ASSERT_TRUE(cluster.eventually([&] { return node(0).net->health().bans >= 1; }));
  ASSERT_TRUE(cluster.eventually_io([&] { return !host->is_connected(target); }));
  done.get();
  EXPECT_GT(sent.load(), 2000u);
  EXPECT_EQ(node(0).net->health().bans, 1u);
  EXPECT_GT(cluster.on_io([&] { return node(0).net->gossip()->stats().throttled_rpcs; }), 0u);
  // Banned: a new connection is closed right after the handshake.
  (void)cluster.run(host->dial(node(0).addr.with_peer_id(target)));
  ASSERT_TRUE(cluster.eventually_io([&] { return !host->is_connected(target); }));
  broadcast_round({0, 3}, "after the ban");
}

TEST_F(NetworkGossipTest, TenBootstrappedNodes) {
  start_bootstrapped(10);
  ASSERT_TRUE(overlay_connected());
  broadcast_round({0, 4, 9}, "ten");
}

TEST_F(NetworkGossipTest, ThirtyBootstrappedNodes) {
  start_bootstrapped(30);
  ASSERT_TRUE(overlay_connected());
  broadcast_round({0, 15, 29}, "thirty");
  EXPECT_GT(node(29).net->health().connected_peers, 0u);
}

}  // namespace
}  // namespace ol::network
