// Test helper: NetworkManagers on 127.0.0.1 sharing one io_context thread. The test thread drives
// them through on_io() and waits for observed events with eventually() (a condition variable, no
// spinning). Every assertion is about delivered events or health(), never about timings.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "network/network_manager.h"

namespace ol::network::test {

namespace asio = p2p::asio;
using namespace std::chrono_literals;

inline Bytes text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
inline std::string str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

/// Short timers so tests run quickly; the logic is the same as with the defaults.
inline Config fast_config() {
  Config c;
  c.listen = *p2p::Multiaddr::parse("/ip4/127.0.0.1/tcp/0");
  c.connection_timeout = 3s;
  c.redial_base = 100ms;
  c.redial_cap = 1000ms;
  c.partition_check = 100ms;
  c.gossip.heartbeat = 200ms;
  c.gossip.prune_backoff = 2s;  // a restarted node may re-graft soon
  return c;
}

struct Node {
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::generate();
  Config config;
  std::shared_ptr<NetworkManager> net;
  p2p::Multiaddr addr;  // bound listen address, without /p2p
  p2p::PeerId id() const { return p2p::PeerId::from_public_key(key.public_key()); }

  // Observed on the io thread; read under Cluster::mu.
  std::vector<DirectReceived> direct;
  std::map<std::string, int> gossip;  // topic + "|" + data -> deliveries
  std::unordered_set<p2p::PeerId> connected;
  int partitions_detected = 0, partitions_healed = 0;
};

class Cluster {
 public:
  Cluster() : work_(asio::make_work_guard(io)), thread_([this] { io.run(); }) {}
  ~Cluster() { shutdown(); }

  /// Runs `f` on the io thread and returns its result.
  template <typename F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  }

  /// Runs a coroutine on the io thread to completion.
  template <typename T>
  T run(p2p::Task<T> task) {
    std::promise<T> done;
    auto result = done.get_future();
    asio::co_spawn(io, complete(std::move(task), &done), asio::detached);
    return result.get();
  }

  /// Waits until `pred()` (evaluated under mu) holds, re-checking on every event and at least
  /// every 50 ms (for conditions on health()). False at the deadline.
  template <typename Pred>
  bool eventually(Pred pred, std::chrono::milliseconds deadline = 30s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::unique_lock lock(mu);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      cv.wait_for(lock, 50ms);
    }
    return true;
  }

  /// Like eventually() for a condition that must be evaluated on the io thread (Host state):
  /// re-checked every 50 ms.
  template <typename Pred>
  bool eventually_io(Pred pred, std::chrono::milliseconds deadline = 30s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!on_io(pred)) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  Node& add(Config config = fast_config()) {
    nodes.push_back(std::make_unique<Node>());
    nodes.back()->config = std::move(config);
    return *nodes.back();
  }

  /// Creates and starts node i's manager (with node i's key and config).
  void start(std::size_t i) {
    Node& n = *nodes[i];
    on_io([&] {
      n.net = NetworkManager::create(io, p2p::Identity(n.key), n.config);
      n.net->on_event([this, &n](const Event& e) { record(n, e); });
      auto bound = n.net->start();
      ASSERT_TRUE(bound.ok()) << bound.error().to_string();
      n.addr = bound->without_peer_id();
    });
  }

  /// Stops node i and forgets its manager; its key and address stay for a restart.
  void stop(std::size_t i) {
    Node& n = *nodes[i];
    on_io([&] {
      n.net->stop();
      n.net.reset();
    });
    std::lock_guard lock(mu);
    n.connected.clear();
  }

  /// Makes nodes [0, count) a validator set known to each of them (add_validator on each).
  void make_validators(std::size_t count) {
    on_io([&] {
      for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
          nodes[i]->net->add_validator(static_cast<ValidatorIndex>(j),
                                       {nodes[j]->key.public_key(), nodes[j]->addr});
        }
      }
    });
  }

  /// The validator set as a Config field (for restarts).
  std::vector<ValidatorPeer> validator_peers(std::size_t count) const {
    std::vector<ValidatorPeer> v;
    for (std::size_t j = 0; j < count; ++j)
      v.push_back({nodes[j]->key.public_key(), nodes[j]->addr});
    return v;
  }

  /// Every node in [0, count) connected to every other one (as its events report).
  bool fully_connected(std::size_t count) {
    return eventually([&] {
      for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
          if (i != j && !nodes[i]->connected.contains(nodes[j]->id())) return false;
        }
      }
      return true;
    });
  }

  void shutdown() {
    if (!thread_.joinable()) return;
    on_io([&] {
      for (auto& n : nodes) {
        if (n->net) n->net->stop();
      }
    });
    // Let closing connections flush, then stop the loop.
    asio::steady_timer t(io, 300ms);
    t.async_wait([this](const boost::system::error_code&) { io.stop(); });
    work_.reset();
    thread_.join();
    for (auto& n : nodes) n->net.reset();
  }

  asio::io_context io;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Node>> nodes;

 private:
  template <typename T>
  static p2p::Task<void> complete(p2p::Task<T> task, std::promise<T>* done) {
    done->set_value(co_await std::move(task));
  }

  void record(Node& n, const Event& e) {
    std::lock_guard lock(mu);
    if (auto* c = std::get_if<PeerConnected>(&e)) n.connected.insert(c->peer);
    if (auto* d = std::get_if<PeerDisconnected>(&e)) n.connected.erase(d->peer);
    if (auto* g = std::get_if<GossipReceived>(&e)) ++n.gossip[g->topic + "|" + str(g->data)];
    if (auto* m = std::get_if<DirectReceived>(&e)) n.direct.push_back(*m);
    if (std::holds_alternative<PartitionDetected>(e)) ++n.partitions_detected;
    if (std::holds_alternative<PartitionHealed>(e)) ++n.partitions_healed;
    cv.notify_all();
  }

  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace ol::network::test
