// gossipsub hot paths: seen-cache lookups and inserts at the default bound (1M ids of the
// default from+seqno shape), and publish -> deliver latency between two nodes over 127.0.0.1,
// each on its own io_context thread (as two processes would be).
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <future>
#include <thread>

#include "p2p/gossipsub.h"

namespace ol::p2p::gossipsub {
namespace {

using namespace std::chrono_literals;

// A from+seqno id: 38-byte identity PeerId followed by an 8-byte big-endian counter.
std::string make_id(std::uint64_t n) {
  std::string id(46, '\x24');
  for (int i = 0; i < 8; ++i) id[38 + i] = static_cast<char>(n >> (8 * (7 - i)));
  return id;
}

struct FilledCache {
  SeenCache cache{60s, 1'000'000};
  explicit FilledCache(std::size_t n) {
    const auto now = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i) cache.insert(make_id(i), now);
  }
};

void BM_SeenCacheLookupHit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  static std::optional<FilledCache> filled;
  if (!filled || filled->cache.size() != n) filled.emplace(n);
  std::vector<std::string> probes;
  for (std::uint64_t i = 0; i < 4096; ++i) probes.push_back(make_id((i * 7919) % n));
  std::size_t i = 0, hits = 0;
  for (auto _ : state) hits += filled->cache.contains(probes[i++ & 4095]);
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeenCacheLookupHit)->Arg(10'000)->Arg(1'000'000);

void BM_SeenCacheLookupMiss(benchmark::State& state) {
  static FilledCache filled(1'000'000);
  std::vector<std::string> probes;
  for (std::uint64_t i = 0; i < 4096; ++i) probes.push_back(make_id(2'000'000 + i));
  std::size_t i = 0, hits = 0;
  for (auto _ : state) hits += filled.cache.contains(probes[i++ & 4095]);
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeenCacheLookupMiss);

// Insert into a full cache: every insert also evicts the oldest id.
void BM_SeenCacheInsertAtBound(benchmark::State& state) {
  SeenCache cache(60s, 100'000);
  const auto now = Clock::now();
  std::uint64_t n = 0;
  for (; n < 100'000; ++n) cache.insert(make_id(n), now);
  std::string id = make_id(0);
  for (auto _ : state) {
    const std::uint64_t v = n++;
    for (int i = 0; i < 8; ++i) id[38 + i] = static_cast<char>(v >> (8 * (7 - i)));
    cache.insert(id, now);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeenCacheInsertAtBound);

// Two nodes, each on its own thread; the benchmark thread publishes on A and waits for B's
// handler.
struct Pair {
  struct Side {
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::shared_ptr<Host> host;
    std::shared_ptr<Gossipsub> gs;
    std::thread thread;
  };
  Side a, b;
  std::promise<void>* waiting = nullptr;
  std::mutex mu;

  template <typename F>
  static auto on(Side& s, F f) {
    std::promise<decltype(f())> p;
    asio::post(s.io, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  explicit Pair(std::size_t size) {
    spdlog::set_level(spdlog::level::warn);
    for (Side* s : {&a, &b}) {
      const Identity id = Identity::generate();
      s->host = Host::create(s->io, id);
      (void)s->host->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"));
      Config cfg;
      cfg.max_message_size = std::max<std::size_t>(size, cfg.max_message_size);
      s->gs = Gossipsub::create(s->host, id, cfg);
      s->gs->start();
      s->guard.emplace(s->io.get_executor());
      s->thread = std::thread([s] { s->io.run(); });
    }
    on(a, [&] {
      a.gs->subscribe("bench", [](const Message&) {});
      return 0;
    });
    on(b, [&] {
      b.gs->subscribe("bench", [this](const Message&) {
        std::lock_guard lock(mu);
        if (waiting) waiting->set_value();
        waiting = nullptr;
      });
      return 0;
    });
    const auto addr = b.host->listen_addrs()[0].with_peer_id(b.host->peer_id());
    std::promise<void> dialled;
    asio::co_spawn(
        a.io,
        [&]() -> Task<void> {
          (void)co_await a.host->dial(addr);
          dialled.set_value();
        },
        asio::detached);
    dialled.get_future().get();
    while (on(a, [&] { return a.gs->mesh_peers("bench").empty(); }))
      std::this_thread::sleep_for(20ms);
  }
  ~Pair() {
    for (Side* s : {&a, &b}) {
      on(*s, [s] {
        s->gs->stop();
        s->host->close();
        s->guard.reset();
        return 0;
      });
      s->thread.join();
    }
  }
};

void BM_PublishDeliverLatency(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Pair pair(size);
  const Bytes data(size, 0x5a);
  std::vector<double> us;
  for (auto _ : state) {
    std::promise<void> delivered;
    {
      std::lock_guard lock(pair.mu);
      pair.waiting = &delivered;
    }
    const auto start = std::chrono::steady_clock::now();
    Pair::on(pair.a, [&] { return pair.a.gs->publish("bench", data).ok(); });
    delivered.get_future().get();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PublishDeliverLatency)->Arg(256)->Arg(64 * 1024)->UseRealTime();

}  // namespace
}  // namespace ol::p2p::gossipsub
