// NetworkManagers on 127.0.0.1, each on its own io_context thread (as separate processes would be):
//  - direct-channel messages/s from one validator to another;
//  - 30-node gossip: propagation latency (publish to receipt, per receiver and until the last
//    receiver) at light load, one message in flight, for 256 B and 64 KiB payloads;
//  - 30-node gossip delivery rate: a burst of messages from one publisher until all have them;
//  - 30-node gossip latency, the same cluster quiet and then while a flooder sends ~25k junk
//    gossip RPCs per second to each of three nodes (coming back with a fresh identity each time it
//    is banned).
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "network/network_manager.h"
#include "p2p/proto/rpc.pb.h"
#include "p2p/varint.h"

namespace ol::network {
namespace {

namespace asio = p2p::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct BenchNode {
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::generate();
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  std::shared_ptr<NetworkManager> net;
  p2p::Multiaddr addr;

  template <typename F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  }
};

// Nodes with receipt counters shared with the benchmark thread.
class BenchCluster {
 public:
  explicit BenchCluster(std::size_t count) : nodes_(count) {
    spdlog::set_level(spdlog::level::err);
    for (auto& n : nodes_) n = std::make_unique<BenchNode>();
  }
  ~BenchCluster() {
    for (auto& n : nodes_) {
      if (n->net) n->on_io([&] { n->net->stop(); });
    }
    for (auto& n : nodes_) {
      asio::steady_timer t(n->io, 200ms);
      t.async_wait([&n](const boost::system::error_code&) { n->io.stop(); });
      n->guard.reset();
      n->thread.join();
      n->net.reset();
    }
  }

  // Starts node i with `config`; `validators` (if any) are set before start.
  void start(std::size_t i, Config config) {
    BenchNode& n = *nodes_[i];
    n.guard.emplace(asio::make_work_guard(n.io));
    n.thread = std::thread([&n] { n.io.run(); });
    n.on_io([&] {
      n.net = NetworkManager::create(n.io, p2p::Identity(n.key), config);
      n.net->on_event([this, i](const Event& e) { record(i, e); });
      auto bound = n.net->start();
      if (!bound) std::abort();
      n.addr = bound->without_peer_id();
    });
  }

  // n nodes, node i bootstrapping from nodes i-1..i-3 (about six peers each, like the tests).
  void start_bootstrapped() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      Config c;
      c.listen = *p2p::Multiaddr::parse("/ip4/127.0.0.1/tcp/0");
      c.gossip.max_message_size = 1u << 20;
      for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
        c.bootstrap.push_back(node(i - back).addr.with_peer_id(peer(i - back)));
      }
      start(i, c);
    }
    // Every node needs a mesh peer before measurements start.
    for (;;) {
      bool ready = true;
      for (auto& n : nodes_) {
        ready = ready && n->on_io([&] {
          return !n->net->gossip()->mesh_peers(std::string(kBlocksTopic)).empty();
        });
      }
      if (ready) break;
      std::this_thread::sleep_for(100ms);
    }
  }

  BenchNode& node(std::size_t i) { return *nodes_[i]; }
  p2p::PeerId peer(std::size_t i) {
    return p2p::PeerId::from_public_key(nodes_[i]->key.public_key());
  }
  std::size_t size() const { return nodes_.size(); }

  /// Waits until `pred()` holds (under the receipt mutex); false after 60 s (lost messages).
  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, pred);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t direct_received = 0;
  std::uint64_t gossip_received = 0;
  std::vector<SteadyClock::time_point> receipt;  // per node, last gossip receipt

 private:
  void record(std::size_t i, const Event& e) {
    const bool direct = std::holds_alternative<DirectReceived>(e);
    const bool gossip = std::holds_alternative<GossipReceived>(e);
    if (!direct && !gossip) return;
    const auto now = SteadyClock::now();
    std::lock_guard lock(mu_);
    if (direct) ++direct_received;
    if (gossip) {
      ++gossip_received;
      if (receipt.size() < nodes_.size()) receipt.resize(nodes_.size());
      receipt[i] = now;
    }
    cv_.notify_all();
  }

  std::vector<std::unique_ptr<BenchNode>> nodes_;
};

void BM_DirectChannel(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  // Batches fit well inside the default per-peer send queue (64 MiB); beyond it frames are dropped.
  const std::size_t kBatch = std::min<std::size_t>(10'000, (32u << 20) / (size + 4));
  BenchCluster c(2);
  Config cfg;
  cfg.listen = *p2p::Multiaddr::parse("/ip4/127.0.0.1/tcp/0");
  // The channel's own ceiling, not the default inbound limits (20k msgs/s, 64 MiB/s per peer).
  cfg.peer_max_msgs_per_sec = 1e9;
  cfg.peer_max_bytes_per_sec = 1e12;
  c.start(0, cfg);
  c.start(1, cfg);
  for (std::size_t i = 0; i < 2; ++i) {
    c.node(i).on_io([&] {
      for (std::size_t j = 0; j < 2; ++j) {
        c.node(i).net->add_validator(static_cast<ValidatorIndex>(j),
                                     {c.node(j).key.public_key(), c.node(j).addr});
      }
    });
  }
  const Bytes frame(size, 0x5a);
  std::uint64_t target = 0;
  for (auto _ : state) {
    target += kBatch;
    for (std::size_t k = 0; k < kBatch; ++k) c.node(0).net->send_to_peer(1, frame);
    if (!c.wait([&] { return c.direct_received >= target; })) {
      const Health s = c.node(0).net->health(), r = c.node(1).net->health();
      std::fprintf(stderr,
                   "sent %llu send_dropped %llu | received %llu (counted %llu) dropped %llu "
                   "rate_limited %llu\n",
                   (unsigned long long)s.messages_sent, (unsigned long long)s.send_dropped,
                   (unsigned long long)r.messages_received, (unsigned long long)c.direct_received,
                   (unsigned long long)r.direct_dropped, (unsigned long long)r.rate_limited);
      state.SkipWithError("direct messages lost");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(target));
  state.SetBytesProcessed(static_cast<std::int64_t>(target * size));
}
BENCHMARK(BM_DirectChannel)
    ->Arg(256)
    ->Arg(4096)
    ->Arg(64 << 10)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// One message at a time, from a rotating publisher: latency (ms) to each receiver and to the last
// one. False if a message was lost.
bool measure_propagation(BenchCluster& c, std::size_t size, std::size_t messages,
                         std::uint64_t& seq, std::vector<double>& each_ms,
                         std::vector<double>& all_ms) {
  for (std::size_t k = 0; k < messages; ++k) {
    const std::size_t from = seq % c.size();
    Bytes data(size, 0);
    for (std::size_t b = 0; b < 8; ++b) data[b] = static_cast<std::uint8_t>(seq >> (8 * b));
    ++seq;
    std::uint64_t target = 0;
    {
      std::lock_guard lock(c.mu_);
      target = c.gossip_received + c.size() - 1;
    }
    const auto t0 = SteadyClock::now();
    c.node(from).net->broadcast(kBlocksTopic, std::move(data));
    if (!c.wait([&] { return c.gossip_received >= target; })) return false;
    std::lock_guard lock(c.mu_);
    double last = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i == from) continue;
      const double ms = std::chrono::duration<double, std::milli>(c.receipt[i] - t0).count();
      each_ms.push_back(ms);
      last = std::max(last, ms);
    }
    all_ms.push_back(last);
  }
  return true;
}

void BM_GossipPropagation30(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  BenchCluster c(30);
  c.start_bootstrapped();
  std::vector<double> each_ms, all_ms;
  std::uint64_t seq = 0;
  const double cpu0 = process_cpu_ms();
  for (auto _ : state) {
    if (!measure_propagation(c, size, 1, seq, each_ms, all_ms)) {
      state.SkipWithError("gossip messages lost");
      break;
    }
  }
  // CPU the whole cluster spent per message (all 30 nodes' threads): on two cores the last
  // receiver cannot be served in less than about half of it.
  state.counters["cluster_cpu_ms_per_msg"] =
      (process_cpu_ms() - cpu0) / static_cast<double>(std::max<std::uint64_t>(seq, 1));
  state.counters["p50_ms"] = percentile(each_ms, 0.50);
  state.counters["p99_ms"] = percentile(each_ms, 0.99);
  state.counters["all_p50_ms"] = percentile(all_ms, 0.50);
  state.counters["all_p99_ms"] = percentile(all_ms, 0.99);
  // Copies each node received beyond the first, and forwards saved by IDONTWANT, per message.
  double dups = 0, skipped = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    c.node(i).on_io([&] {
      const auto& st = c.node(i).net->gossip()->stats();
      dups += static_cast<double>(st.duplicates);
      skipped += static_cast<double>(st.idontwant_skipped);
    });
  }
  const double msgs = static_cast<double>(std::max<std::uint64_t>(seq, 1)) * (c.size() - 1);
  state.counters["dup_per_rcv"] = dups / msgs;
  state.counters["idontwant_saved_per_rcv"] = skipped / msgs;
}
BENCHMARK(BM_GossipPropagation30)
    ->Arg(256)
    ->Arg(64 << 10)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A hostile peer on its own io thread: to each target node it connects, opens a gossipsub stream,
// subscribes and writes bursts of 500 junk RPCs (a 64-byte message with a zero signature) every
// 20 ms (~25k RPCs/s); when the target bans and disconnects it, it comes back with a new identity.
class Flooder {
 public:
  explicit Flooder(std::vector<p2p::Multiaddr> targets) : targets_(std::move(targets)) {
    p2p::proto::RPC hello;
    auto* sub = hello.add_subscriptions();
    sub->set_subscribe(true);
    sub->set_topicid(std::string(kBlocksTopic));
    p2p::proto::RPC junk;
    auto* m = junk.add_publish();
    const auto author = p2p::Identity::generate().peer_id.bytes();
    m->set_from(std::string(author.begin(), author.end()));
    m->set_seqno(std::string(8, '\x01'));
    m->set_topic(std::string(kBlocksTopic));
    m->set_data(std::string(64, '\xab'));
    m->set_signature(std::string(64, '\0'));
    hello_ = framed(hello);
    const Bytes one = framed(junk);
    for (int k = 0; k < kBurst; ++k) append(burst_, one);
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
    for (const auto& t : targets_) asio::co_spawn(io_, flood(t), asio::detached);
  }
  ~Flooder() {
    stop_ = true;
    asio::steady_timer t(io_, 300ms);
    t.async_wait([this](const boost::system::error_code&) {
      for (auto& h : hosts_) h->close();
    });
    asio::steady_timer t2(io_, 600ms);
    t2.async_wait([this](const boost::system::error_code&) { io_.stop(); });
    guard_.reset();
    thread_.join();
  }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t identities() const { return identities_; }

 private:
  static constexpr int kBurst = 500;
  static Bytes framed(const p2p::proto::RPC& rpc) {
    const std::string body = rpc.SerializeAsString();
    Bytes out;
    p2p::put_uvarint(out, body.size());
    append(out, as_bytes(body));
    return out;
  }

  p2p::Task<void> flood(p2p::Multiaddr target) {
    asio::steady_timer t(io_);
    while (!stop_) {
      auto host = p2p::Host::create(io_, p2p::Identity::generate());
      hosts_.push_back(host);
      ++identities_;
      auto peer = co_await host->dial(target);
      p2p::Host::StreamPtr s;
      if (peer) {
        std::vector<std::string> protos{std::string(p2p::gossipsub::kProtocolV11)};
        auto st = co_await host->new_stream(*peer, protos);
        if (st) s = *st;
      }
      if (s && (co_await s->write(hello_)).ok()) {
        while (!stop_ && (co_await s->write(burst_)).ok()) {
          sent_ += kBurst;
          t.expires_after(20ms);
          co_await t.async_wait(asio::use_awaitable);
        }
      }
      host->close();
      t.expires_after(50ms);
      co_await t.async_wait(asio::use_awaitable);
    }
  }

  std::vector<p2p::Multiaddr> targets_;
  Bytes hello_, burst_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::vector<std::shared_ptr<p2p::Host>> hosts_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0}, identities_{0};
};

// The same 30-node cluster, 10 s quiet and then 10 s flooded (nodes 0, 10 and 20 attacked), with
// the default limits (20k msgs/s per peer, ban after 3 s over): honest latency in both phases.
void BM_GossipLatencyUnderFlood30(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  constexpr auto kPhase = 10s;  // each phase: messages back to back for this long
  BenchCluster c(30);
  c.start_bootstrapped();
  std::uint64_t seq = 0;
  for (auto _ : state) {
    std::vector<double> quiet_each, quiet_all, flood_each, flood_all;
    auto phase = [&](std::vector<double>& each, std::vector<double>& all) {
      const auto end = SteadyClock::now() + kPhase;
      while (SteadyClock::now() < end) {
        if (!measure_propagation(c, size, 10, seq, each, all)) return false;
      }
      return true;
    };
    if (!phase(quiet_each, quiet_all)) {
      state.SkipWithError("gossip messages lost (quiet)");
      break;
    }
    const std::vector<std::size_t> attacked{0, 10, 20};
    auto limited = [&] {
      std::uint64_t n = 0;
      for (auto i : attacked) n += c.node(i).net->health().rate_limited;
      return n;
    };
    auto bans = [&] {
      std::uint64_t n = 0;
      for (auto i : attacked) n += c.node(i).net->health().bans;
      return n;
    };
    std::vector<p2p::Multiaddr> targets;
    for (auto i : attacked) targets.push_back(c.node(i).addr.with_peer_id(c.peer(i)));
    const std::uint64_t limited0 = limited();
    {
      Flooder f(targets);
      while (limited() == limited0) std::this_thread::sleep_for(10ms);  // the flood has arrived
      const auto t0 = SteadyClock::now();
      const std::uint64_t sent0 = f.sent();
      const bool ok = phase(flood_each, flood_all);
      const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
      state.counters["flood_rpcs_per_s"] = static_cast<double>(f.sent() - sent0) / secs;
      state.counters["flood_identities"] = static_cast<double>(f.identities());
      if (!ok) {
        state.SkipWithError("gossip messages lost (flood)");
        break;
      }
    }
    state.counters["bans"] = static_cast<double>(bans());
    state.counters["rate_limited"] = static_cast<double>(limited() - limited0);
    state.counters["quiet_msgs"] = static_cast<double>(quiet_all.size());
    state.counters["flood_msgs"] = static_cast<double>(flood_all.size());
    state.counters["quiet_p50_ms"] = percentile(quiet_each, 0.50);
    state.counters["quiet_p99_ms"] = percentile(quiet_each, 0.99);
    state.counters["quiet_all_p99_ms"] = percentile(quiet_all, 0.99);
    state.counters["flood_p50_ms"] = percentile(flood_each, 0.50);
    state.counters["flood_p99_ms"] = percentile(flood_each, 0.99);
    state.counters["flood_all_p99_ms"] = percentile(flood_all, 0.99);
  }
}
BENCHMARK(BM_GossipLatencyUnderFlood30)
    ->Arg(256)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A burst of messages from one publisher; items = messages delivered to all 29 others.
void BM_GossipRate30(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kBurst = 200;
  BenchCluster c(30);
  c.start_bootstrapped();
  std::uint64_t seq = 0, target = 0, messages = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < kBurst; ++k) {
      Bytes data(size, 0);
      for (std::size_t b = 0; b < 8; ++b) data[b] = static_cast<std::uint8_t>(seq >> (8 * b));
      ++seq;
      c.node(0).net->broadcast(kTransactionsTopic, std::move(data));
    }
    target += kBurst * (c.size() - 1);
    messages += kBurst;
    if (!c.wait([&] { return c.gossip_received >= target; })) {
      state.SkipWithError("gossip messages lost");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
}
BENCHMARK(BM_GossipRate30)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ol::network
