// `openliquid bench`: signed transfers or consensus-only commands against given nodes or a local
// network it starts itself; prints committed throughput, submit-to-commit latency and (signed)
// the machine's signature-recovery limit measured in the same run.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "crypto/secp256k1.h"
#include "node/tools/command_load.h"
#include "node/tools/local_network.h"
#include "node/tools/runner.h"
#include "node/tools/signed_load.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Issue 7's throughput goal: signed transfers at this share of the limit (the sweep's verdict and
// every run's budget line).
constexpr double kSignedGoalShare = 0.8;

// Microseconds per crypto::recover_address: the median of 5 timed rounds of 400 recoveries of
// distinct signatures.
double measure_recovery_us() {
  auto key = crypto::Secp256k1Key::generate();
  std::vector<std::pair<Hash32, crypto::RecoverableSignature>> sigs;
  for (std::uint32_t i = 0; i < 400; ++i) {
    Hash32 d{};
    for (std::size_t b = 0; b < d.size(); ++b) d[b] = static_cast<std::uint8_t>(i * 31 + b);
    sigs.emplace_back(d, key.sign(d));
  }
  std::vector<double> rounds;
  std::size_t ok = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    for (const auto& [d, s] : sigs) ok += crypto::recover_address(d, s).ok() ? 1 : 0;
    rounds.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() /
                     static_cast<double>(sigs.size()));
  }
  if (ok != 5 * sigs.size()) std::fprintf(stderr, "openliquid bench: recovery self-check failed\n");
  return summarize(rounds).p50;
}

// CPU seconds per group of validator threads between two readings of
// LocalNetwork::cpu_seconds_by_thread: "io" (the thread that keeps the process name: RPC,
// gossip, p2p, and any unnamed thread), "rocksdb" (its background threads), and the named
// ones as they are (ol-core, ol-verify, ol-checkpoint).
std::map<std::string, double> thread_groups(const std::map<std::string, double>& now,
                                            const std::map<std::string, double>& before) {
  std::map<std::string, double> out;
  for (const auto& [name, seconds] : now) {
    const auto b = before.find(name);
    const double used = seconds - (b == before.end() ? 0.0 : b->second);
    const std::string group = name.starts_with("ol-")       ? name
                              : name.starts_with("rocksdb") ? std::string("rocksdb")
                                                            : std::string("io");
    out[group] += std::max(used, 0.0);
  }
  return out;
}

// CPU seconds this process (the load generator alone, not its children) has used.
double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

// What one run measured, for --repeat and --sweep.
struct RunFigures {
  bool interrupted = false;  // Ctrl-C (or a validator died): no further runs
  double committed_tps = 0;  // signed: tx/s; commands: commands/s (within the load window)
  double steady_tps = 0;     // signed: committed per second from the first commit on
  LatencySummary latency;
  bool client_kept_up = true;
  std::uint64_t lost = 0;
  double limit_tps = 0;  // signed: this run's limit
};

// One bench run as the command line describes it, with the network (for --local) in `dir`
// (empty: a temporary one). Prints the run's figures; 0 on success.
int run_once(const BenchOptions& opts, const std::string& dir, RunFigures& fig) {
  std::vector<RpcEndpoint> nodes;
  for (const auto& url : opts.rpc) {
    auto hp = parse_http_url(url);
    if (!hp) {
      std::fprintf(stderr, "openliquid bench: bad --rpc %s: %s\n", url.c_str(),
                   hp.error().message.c_str());
      return 2;
    }
    nodes.push_back({hp->first, hp->second});
  }
  const std::size_t validators =
      opts.local || opts.validators_set ? opts.validators : opts.rpc.size();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());

  // Measured before any validator starts and again once the load has drained, so the figure is
  // this machine's, not its load's; the lower of the two is used (on a shared machine one short
  // measurement can be disturbed, and a disturbed one would flatter the result).
  double recover_before_us = 0, recover_us = 0, limit_tps = 0;
  if (!opts.commands) recover_before_us = measure_recovery_us();
  auto limit_for = [&](double us) { return cores / (static_cast<double>(validators) * us * 1e-6); };

  asio::io_context io(1);
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  bool interrupted = false;
  std::function<void()> on_stop = [&] { interrupted = true; };
  stop_signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) on_stop();
  });

  std::unique_ptr<LocalNetwork> net;
  std::string faucet = opts.faucet;
  if (opts.local) {
    LocalNetworkOptions lo;
    lo.validators = opts.validators;
    lo.dir = dir;
    if (opts.commands) {
      lo.config_edits.push_back({"consensus", "payload", "\"commands\""});
      lo.config_edits.push_back({"consensus", "max_block_txs", std::to_string(opts.batch)});
    }
    if (opts.mempool_capacity) {
      lo.config_edits.push_back({"mempool", "capacity", std::to_string(*opts.mempool_capacity)});
    }
    if (opts.min_block_interval_ms) {
      lo.config_edits.push_back(
          {"consensus", "min_block_interval_ms", std::to_string(*opts.min_block_interval_ms)});
    }
    auto created = LocalNetwork::create(lo);
    if (!created) {
      std::fprintf(stderr, "openliquid bench: %s\n", created.error().message.c_str());
      return 1;
    }
    net = std::move(*created);
    if (auto s = net->start(); !s) {
      std::fprintf(stderr, "openliquid bench: %s\n", s.error().message.c_str());
      return 1;
    }
    std::printf("bench: started %zu local validators in %s\n", net->size(), net->dir().c_str());
    std::fflush(stdout);
    auto healthy = net->wait_until_healthy(std::chrono::seconds(60), [&](const std::string&) {
      io.poll();
      return !interrupted;
    });
    if (!healthy) {
      std::fprintf(stderr, "openliquid bench: %s\n", healthy.error().message.c_str());
      net->stop();
      if (!interrupted) std::fprintf(stderr, "  logs kept in %s\n", net->dir().c_str());
      fig.interrupted = interrupted;
      return interrupted ? 0 : 1;
    }
    nodes = net->rpc();
    faucet = net->faucet_key_file().string();
  }

  bool failed = false;
  std::string died;
  asio::signal_set chld(io, SIGCHLD);
  std::function<void()> watch = [&] {
    chld.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec || !net) return;
      for (const auto& e : net->reap()) {
        failed = true;
        died += describe_exit(*net, e);
      }
      if (!died.empty()) on_stop();
      watch();
    });
  };
  if (net) watch();

  auto print_latency = [](const LatencySummary& l, const char* what) {
    if (l.count == 0) {
      std::printf("latency: none committed\n");
      return;
    }
    std::printf(
        "latency: submit-to-commit p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms "
        "(%zu %s)\n",
        l.p50, l.p90, l.p99, l.max, l.count, what);
  };

  if (opts.commands) {
    CommandLoadOptions co;
    co.nodes = nodes;
    co.duration_s = opts.duration_s;
    co.command_size = opts.command_size;
    co.outstanding = opts.outstanding;
    co.batch = opts.batch;
    CommandLoad load(io, co);
    on_stop = [&] {
      interrupted = true;
      load.stop();
    };
    std::printf(
        "bench: consensus-only commands of %zu B, up to %zu outstanding, batches of %zu, "
        "%zu nodes, %.0f s\n",
        opts.command_size, opts.outstanding, opts.batch, nodes.size(), opts.duration_s);
    std::fflush(stdout);
    CommandLoadReport rep;
    const double cpu0 = own_cpu_seconds();
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          rep = co_await load.run();
          io.stop();
        },
        asio::detached);
    io.run();
    const double rate =
        rep.window_s > 0 ? static_cast<double>(rep.committed_in_window) / rep.window_s : 0;
    std::printf(
        "result: committed %llu commands in %.1f s = %.0f commands/s (%llu submitted, "
        "%llu refused batches, height %llu)\n",
        static_cast<unsigned long long>(rep.committed_in_window), rep.window_s, rate,
        static_cast<unsigned long long>(rep.submitted),
        static_cast<unsigned long long>(rep.refused),
        static_cast<unsigned long long>(rep.highest_height));
    print_latency(rep.latency, "commands");
    fig.committed_tps = rate;
    fig.latency = rep.latency;
    std::printf("client: the load generator used %.2f cores\n",
                (own_cpu_seconds() - cpu0) / std::max(rep.window_s, 1e-3));
    if (!rep.first_error.empty()) std::printf("first error: %s\n", rep.first_error.c_str());
  } else {
    SignedLoadOptions so;
    so.nodes = nodes;
    so.rate = opts.rate;
    so.open_loop = opts.open_loop;
    so.duration_s = opts.duration_s;
    so.accounts = opts.accounts;
    so.faucet_key = faucet;
    so.presign = true;
    so.connections_per_node = opts.connections.value_or(
        opts.open_loop ? 4 : connections_for_rate(opts.rate, nodes.size(), opts.submit_batch, 4));
    so.submit_batch = opts.submit_batch;
    if (opts.open_loop) {
      // Enough for the limit the measurement before the load implies, with a margin.
      so.presign_count =
          static_cast<std::uint64_t>(limit_for(recover_before_us) * opts.duration_s * 1.2) + 1000;
    }
    SignedLoad load(io, so);
    on_stop = [&] {
      interrupted = true;
      load.stop();
    };
    if (opts.open_loop) {
      std::printf("bench: signed transfers, open loop, %zu nodes, %zu accounts, %.0f s\n",
                  nodes.size(), opts.accounts, opts.duration_s);
    } else {
      std::printf(
          "bench: signed transfers at %.0f tx/s, %zu nodes, %zu accounts, %.0f s, %zu "
          "connections per node\n",
          opts.rate, nodes.size(), opts.accounts, opts.duration_s, so.connections_per_node);
    }
    std::fflush(stdout);
    SignedLoadReport rep;
    double nodes_cpu = 0, run_s = 0;
    std::map<std::string, double> threads_cpu0, threads_cpu;
    Status prepared;
    double cpu0 = 0, nodes_cpu0 = 0;
    Clock::time_point run_start;
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          prepared = co_await load.prepare([](const std::string& m) {
            std::printf("  %s\n", m.c_str());
            std::fflush(stdout);
          });
          cpu0 = own_cpu_seconds();
          nodes_cpu0 = net ? net->cpu_seconds() : 0;
          if (net) threads_cpu0 = net->cpu_seconds_by_thread();
          run_start = Clock::now();
          if (prepared) rep = co_await load.run();
          if (net) {
            nodes_cpu = net->cpu_seconds() - nodes_cpu0;
            threads_cpu = thread_groups(net->cpu_seconds_by_thread(), threads_cpu0);
            run_s = std::chrono::duration<double>(Clock::now() - run_start).count();
          }
          io.stop();
        },
        asio::detached);
    io.run();
    if (!prepared) {
      std::fprintf(stderr, "openliquid bench: %s\n", prepared.error().message.c_str());
      failed = true;
    } else {
      const double recover_after_us = measure_recovery_us();
      recover_us = std::min(recover_before_us, recover_after_us);
      limit_tps = limit_for(recover_us);
      const double rate =
          rep.window_s > 0 ? static_cast<double>(rep.committed_in_window) / rep.window_s : 0;
      std::printf(
          "result: committed %llu tx in %.1f s = %.0f tx/s (offered %.0f tx/s; %llu "
          "accepted, %llu rejected, %llu resubmitted, %llu not committed by the end; "
          "height %llu)\n",
          static_cast<unsigned long long>(rep.committed_in_window), rep.window_s, rate,
          rep.window_s > 0 ? static_cast<double>(rep.offered) / rep.window_s : 0.0,
          static_cast<unsigned long long>(rep.accepted),
          static_cast<unsigned long long>(rep.rejected),
          static_cast<unsigned long long>(rep.retried), static_cast<unsigned long long>(rep.lost),
          static_cast<unsigned long long>(rep.highest_height));
      print_latency(rep.latency, "tx");
      fig.committed_tps = rate;
      fig.steady_tps =
          rep.window_s > 0 ? static_cast<double>(rep.committed_after_first) / rep.window_s : 0;
      fig.latency = rep.latency;
      fig.lost = rep.lost;
      fig.limit_tps = limit_tps;
      const double client_cpu_s = own_cpu_seconds() - cpu0;
      std::printf("client: the load generator used %.2f cores (transactions signed beforehand)\n",
                  client_cpu_s / std::max(rep.window_s, 1e-3));
      if (rep.unsent > rep.offered / 100 + 10) {
        fig.client_kept_up = false;
        std::printf(
            "client: fell behind: %llu of the %llu transactions due were never sent (every "
            "connection was waiting for a reply), so %.0f tx/s was not really offered; use more "
            "--connections or --submit-batch\n",
            static_cast<unsigned long long>(rep.unsent),
            static_cast<unsigned long long>(rep.offered),
            rep.window_s > 0 ? static_cast<double>(rep.offered) / rep.window_s : 0.0);
      }
      if (net && rep.accepted > 0 && run_s > 0) {
        // All of the validators' CPU while the load ran (and drained), per transaction they
        // accepted: the cluster-wide cost of one transaction, beside the part that is
        // signature recovery (one per validator).
        const double per_tx_us = nodes_cpu * 1e6 / static_cast<double>(rep.accepted);
        const double recovery_us = static_cast<double>(validators) * recover_us;
        std::printf(
            "validators: %.2f cores in all; %.0f us of CPU per transaction, of which %zu "
            "recoveries = %.0f us (%.0f%%)\n",
            nodes_cpu / run_s, per_tx_us, validators, recovery_us, 100.0 * recovery_us / per_tx_us);
        // The same split by thread: the io thread (RPC, gossip, p2p), the verifier (gossiped
        // and proposed transactions' recoveries), the core (consensus, execution, storage).
        std::string line;
        for (const auto& [group, seconds] : threads_cpu) {
          char part[96];
          std::snprintf(part, sizeof part, "%s %s %.2f cores (%.0f us/tx)", line.empty() ? "" : ",",
                        group.c_str(), seconds / run_s,
                        seconds * 1e6 / static_cast<double>(rep.accepted));
          line += part;
        }
        if (!line.empty()) std::printf("validators by thread:%s\n", line.c_str());
        // The goal's arithmetic for this run: at 80% of the limit the recoveries take 80% of
        // the cores, so everything else on the machine (the validators' other work and this
        // load generator, which shares the cores) must fit in a quarter of the recoveries' time.
        if (recover_us > 0) {
          const double budget_us = recovery_us * (1 - kSignedGoalShare) / kSignedGoalShare;
          const double client_us = client_cpu_s * 1e6 / static_cast<double>(rep.accepted);
          const double rest_us = std::max(per_tx_us - recovery_us, 0.0);
          std::printf(
              "goal budget: at %.0f%% of the limit, all but the recoveries (validators and this "
              "client) must fit in %.0f us per transaction; this run took %.0f us (validators "
              "%.0f, client %.0f), %.1fx the budget\n",
              100 * kSignedGoalShare, budget_us, rest_us + client_us, rest_us, client_us,
              (rest_us + client_us) / budget_us);
        }
      }
      std::printf(
          "limit: %u cores / (%zu validators x %.1f us per signature recovery) = %.0f "
          "tx/s; result = %.1f%% of it\n",
          cores, validators, recover_us, limit_tps, limit_tps > 0 ? 100.0 * rate / limit_tps : 0.0);
      std::printf("recovery cost: %.1f us before the load, %.1f us after it (the lower is used)\n",
                  recover_before_us, recover_after_us);
      if (!rep.first_error.empty()) std::printf("first error: %s\n", rep.first_error.c_str());
    }
  }
  if (!died.empty()) std::fprintf(stderr, "openliquid bench: %s", died.c_str());
  fig.interrupted = interrupted;
  if (net) {
    // Memory, from the kernel's record of each validator's peak resident set (read before they
    // exit): the mempool, the status book and RocksDB's caches are bounded, so this should not
    // grow with the length of a run.
    std::string mib;
    for (std::uint64_t b : net->peak_resident_bytes()) {
      mib += (mib.empty() ? "" : ", ") + std::to_string((b + (1u << 19)) >> 20);
    }
    std::printf("validators' memory: peak resident %s MiB\n", mib.c_str());
    net->stop();
    if (net->is_temporary() && !failed) {
      std::error_code ec;
      std::filesystem::remove_all(net->dir(), ec);
    } else {
      std::printf("data and logs in %s\n", net->dir().c_str());
    }
  }
  return failed ? 1 : 0;
}

namespace {

// The network directory of run `index` when a command runs several: a subdirectory each under
// --dir (or temporary ones).
std::string run_dir(const BenchOptions& opts, std::size_t index, bool several) {
  if (opts.dir.empty() || !several) return opts.dir;
  return (std::filesystem::path(opts.dir) / ("run-" + std::to_string(index + 1))).string();
}

// "51.9, 40.0, 62.2" from the runs' values.
std::string list(const std::vector<double>& values, int decimals) {
  std::string out;
  for (double v : values) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.*f", out.empty() ? "" : ", ", decimals, v);
    out += buf;
  }
  return out;
}

// One figure of each run, in run order.
std::vector<double> column(const std::vector<RunFigures>& runs,
                           const std::function<double(const RunFigures&)>& figure) {
  std::vector<double> out;
  out.reserve(runs.size());
  for (const auto& r : runs) out.push_back(figure(r));
  return out;
}
double p50_of(const RunFigures& r) {
  return r.latency.p50;
}
double p99_of(const RunFigures& r) {
  return r.latency.p99;
}

void print_runs_summary(const char* prefix, const std::vector<RunFigures>& runs, const char* unit) {
  const auto committed = column(runs, [](const RunFigures& r) { return r.committed_tps; });
  const auto p50 = column(runs, p50_of), p99 = column(runs, p99_of);
  std::printf("%scommitted %s %s (median %.0f); p50 %s ms (median %.1f); p99 %s ms (median %.1f)\n",
              prefix, list(committed, 0).c_str(), unit, median(committed), list(p50, 1).c_str(),
              median(p50), list(p99, 1).c_str(), median(p99));
}

// --sweep: the highest sustained signed rate, then the latency at 80% of it (issue 7's goals).
int run_sweep(const BenchOptions& opts) {
  const std::size_t repeat = opts.repeat.value_or(3);
  std::printf(
      "sweep: signed transfers from %.0f tx/s in steps of %.0f (at most %.0f), %.0f s per run on "
      "a fresh network; then %zu run%s at 80%% of the highest sustained rate\n",
      opts.rate, opts.sweep_step, opts.sweep_max, opts.duration_s, repeat, repeat == 1 ? "" : "s");
  std::fflush(stdout);
  RateSweep sweep(opts.rate, opts.sweep_step, opts.sweep_max);
  std::vector<double> limits;
  std::size_t index = 0;
  int rc = 0;
  // One run at `rate` on a fresh network; nullopt when the sweep ends there (rc says how).
  auto run_at = [&](double rate, const std::string& note) -> std::optional<RunFigures> {
    BenchOptions o = opts;
    o.rate = rate;
    std::printf("sweep: run %zu: %.0f tx/s%s\n", index + 1, rate, note.c_str());
    std::fflush(stdout);
    RunFigures fig;
    rc = run_once(o, run_dir(opts, index++, true), fig);
    if (rc != 0) return std::nullopt;
    if (fig.interrupted) {
      std::printf("sweep: interrupted\n");
      return std::nullopt;
    }
    limits.push_back(fig.limit_tps);
    return fig;
  };
  while (auto rate = sweep.next()) {
    auto fig = run_at(*rate, "");
    if (!fig) return rc;
    const std::string why = sweep.record(
        SweepRun{*rate, fig->steady_tps, fig->latency.p50, fig->client_kept_up, fig->lost});
    std::printf("sweep: %.0f tx/s offered, %.0f committed (from the first commit on): %s\n", *rate,
                fig->steady_tps, why.empty() ? "sustained" : ("not sustained, " + why).c_str());
    std::fflush(stdout);
  }
  const double highest = sweep.highest_sustained();
  if (highest == 0) {
    std::fprintf(stderr,
                 "openliquid bench: --sweep: the starting rate, %.0f tx/s, was not sustained; "
                 "start lower (--rate)\n",
                 opts.rate);
    return 1;
  }
  const double at = std::max(10.0, std::round(0.8 * highest / 10) * 10);
  std::vector<RunFigures> at_runs;
  for (std::size_t i = 0; i < repeat; ++i) {
    char note[64];
    std::snprintf(note, sizeof note, " (80%% of %.0f), %zu of %zu", highest, i + 1, repeat);
    auto fig = run_at(at, note);
    if (!fig) return rc;
    at_runs.push_back(*fig);
  }

  const double limit = median(limits);
  char upper[96] = "";
  if (sweep.reached_max()) {
    std::snprintf(upper, sizeof upper, " (the --sweep-max: more may be sustained)");
  } else if (sweep.lowest_unsustained() > 0) {
    std::snprintf(upper, sizeof upper, " (%.0f was not)", sweep.lowest_unsustained());
  }
  const double share = limit > 0 ? 100.0 * highest / limit : 0;
  std::printf(
      "sweep: highest sustained rate %.0f tx/s%s = %.0f%% of the limit (%.0f tx/s, the median of "
      "the runs' measurements); goal >= %.0f%%: %s\n",
      highest, upper, share, limit, 100 * kSignedGoalShare,
      share >= 100 * kSignedGoalShare ? "met" : "not met");
  const auto p50 = column(at_runs, p50_of), p99 = column(at_runs, p99_of);
  const double m50 = median(p50), m99 = median(p99);
  std::printf(
      "sweep: at 80%% of it, %.0f tx/s, %zu run%s: p50 %s ms (median %.1f; goal <= 50: %s), p99 %s "
      "ms (median %.1f; goal <= 250: %s)\n",
      at, at_runs.size(), at_runs.size() == 1 ? "" : "s", list(p50, 1).c_str(), m50,
      m50 <= 50 ? "met" : "not met", list(p99, 1).c_str(), m99, m99 <= 250 ? "met" : "not met");
  return 0;
}

}  // namespace

int run_bench(const BenchOptions& opts) {
  if (auto s = validate(opts); !s) {
    std::fprintf(stderr, "openliquid bench: %s\n", s.error().message.c_str());
    return 2;
  }
  if (opts.sweep) return run_sweep(opts);
  const std::size_t repeat = opts.repeat.value_or(1);
  std::vector<RunFigures> runs;
  for (std::size_t i = 0; i < repeat; ++i) {
    if (repeat > 1) {
      std::printf("bench: run %zu of %zu\n", i + 1, repeat);
      std::fflush(stdout);
    }
    RunFigures fig;
    const int rc = run_once(opts, run_dir(opts, i, repeat > 1), fig);
    if (rc != 0 || fig.interrupted) return rc;
    runs.push_back(fig);
  }
  if (repeat > 1) {
    char prefix[96];
    if (opts.commands) {
      std::snprintf(prefix, sizeof prefix, "bench: %zu runs: ", repeat);
    } else if (opts.open_loop) {
      std::snprintf(prefix, sizeof prefix, "bench: %zu runs, open loop: ", repeat);
    } else {
      std::snprintf(prefix, sizeof prefix, "bench: %zu runs at %.0f tx/s: ", repeat, opts.rate);
    }
    print_runs_summary(prefix, runs, opts.commands ? "commands/s" : "tx/s");
  }
  return 0;
}

}  // namespace ol::node::tools
