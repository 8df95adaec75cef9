// Gossip through NetworkManager::broadcast on clusters of 4 validators and of 10 and 30 nodes found
// through bootstrap addresses: every message reaches every other node exactly once.
#include <thread>

#include "network/cluster.h"

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

  void TearDown() override { cluster.shutdown(); }

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
