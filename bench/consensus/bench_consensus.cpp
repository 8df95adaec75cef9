// Rounds per second of the consensus core alone: n replicas with real Ed25519 signatures,
// messages delivered instantly in FIFO order (zero network delay), no faults. This bounds what a
// node can reach: every figure the network and execution add comes on top.
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>

#include "consensus/replica.h"

namespace {

using namespace ol;
using namespace ol::consensus;

struct Empty final : PayloadSource {
  types::Payload next_payload(Round, Height, const Hash32&) override {
    return std::vector<types::Command>{};
  }
};

struct Cluster {
  std::vector<crypto::Ed25519KeyPair> keys;
  std::optional<crypto::ValidatorSet> set;
  std::unique_ptr<RoundRobinLeaders> leaders;
  std::vector<std::unique_ptr<MemorySafetyStorage>> storage;
  Empty payload;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::deque<std::tuple<ValidatorIndex, ValidatorIndex, Message>> inflight;  // to, from, msg
  std::uint64_t commits = 0;

  explicit Cluster(std::size_t n) {
    std::vector<crypto::Ed25519PublicKey> pubs;
    for (std::size_t i = 0; i < n; ++i) {
      FixedBytes<32> seed{};
      seed[0] = static_cast<std::uint8_t>(i);
      seed[1] = 0x77;
      keys.push_back(*crypto::Ed25519KeyPair::from_seed(seed));
      pubs.push_back(keys.back().public_key());
    }
    set.emplace(*crypto::ValidatorSet::create(pubs));
    leaders = std::make_unique<RoundRobinLeaders>(n);
    ReplicaConfig cfg;
    cfg.pacemaker = {1'000'000, 1'000'000};  // no timeouts in a fault-free run
    for (std::size_t i = 0; i < n; ++i) {
      storage.push_back(std::make_unique<MemorySafetyStorage>());
      replicas.push_back(std::make_unique<Replica>(*set, static_cast<ValidatorIndex>(i), keys[i],
                                                   cfg, RecoveryState{}, *storage.back(), *leaders,
                                                   payload, nullptr));
    }
    for (std::size_t i = 0; i < n; ++i)
      apply(static_cast<ValidatorIndex>(i), replicas[i]->start(0));
  }

  void apply(ValidatorIndex from, Effects effects) {
    for (auto& e : effects) {
      if (auto* s = std::get_if<SendTo>(&e)) {
        inflight.emplace_back(s->to, from, std::move(s->message));
      } else if (auto* b = std::get_if<Broadcast>(&e)) {
        for (std::size_t to = 0; to < replicas.size(); ++to) {
          if (to != from) inflight.emplace_back(static_cast<ValidatorIndex>(to), from, b->message);
        }
      } else if (std::holds_alternative<Commit>(e) && from == 0) {
        ++commits;
      }
    }
  }

  // Delivers messages until replica 0 has entered one more round.
  void one_round() {
    const Round target = replicas[0]->current_round() + 1;
    while (replicas[0]->current_round() < target && !inflight.empty()) {
      auto [to, from, msg] = std::move(inflight.front());
      inflight.pop_front();
      apply(to, replicas[to]->on_message(0, from, msg));
    }
  }
};

void BM_RoundsPerSecond(benchmark::State& state) {
  Cluster cluster(static_cast<std::size_t>(state.range(0)));
  std::uint64_t rounds = 0;
  for (auto _ : state) {
    cluster.one_round();
    ++rounds;
  }
  state.counters["rounds/s"] =
      benchmark::Counter(static_cast<double>(rounds), benchmark::Counter::kIsRate);
  // Every replica runs in this one thread: per replica, a core sustains n times the figure.
  state.counters["rounds/s per replica"] =
      benchmark::Counter(static_cast<double>(rounds * static_cast<std::uint64_t>(state.range(0))),
                         benchmark::Counter::kIsRate);
  state.counters["commits"] = static_cast<double>(cluster.commits);
}
BENCHMARK(BM_RoundsPerSecond)->Arg(4)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace
