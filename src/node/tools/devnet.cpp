// `openliquid devnet`: a local network of validator processes with a signed demo load and one
// live status line; Ctrl-C stops everything in order.
#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>

#include <boost/beast/http/verb.hpp>

#include "node/tools/local_network.h"
#include "node/tools/runner.h"
#include "node/tools/signed_load.h"
#include "node/tools/status_line.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

struct DevnetRun {
  const DevnetOptions& opts;
  LocalNetwork& net;
  asio::io_context& io;
  LiveLine& live;
  std::optional<SignedLoad> load;
  std::vector<std::optional<NodeStatus>> last_status;
  std::uint64_t max_height = 0;
  bool stopping = false;
  bool failed = false;
  std::string stop_reason;
  Clock::time_point started = Clock::now();

  void stop(std::string why) {
    if (stopping) return;
    stopping = true;
    stop_reason = std::move(why);
    if (load) load->stop();
  }

  // Children that exited: an unexpected exit is reported (with the log tail) and marks the run
  // failed; without a quorum of validators left, the devnet stops.
  void check_children() {
    for (const auto& e : net.reap()) {
      if (stopping) continue;
      failed = true;
      live.message("openliquid devnet: " + describe_exit(net, e));
      std::size_t alive = 0;
      for (std::size_t i = 0; i < net.size(); ++i) alive += net.running(i) ? 1 : 0;
      const std::size_t f = (net.size() - 1) / 3;
      if (alive < net.size() - f) stop("fewer than a quorum of validators left");
    }
  }

  Task<void> watch_children(asio::signal_set& chld) {
    for (;;) {
      boost::system::error_code ec;
      co_await chld.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      check_children();
    }
  }

  Task<void> status_loop() {
    std::vector<std::unique_ptr<AsyncHttpConnection>> conns;
    for (const auto& ep : net.rpc()) {
      conns.push_back(std::make_unique<AsyncHttpConnection>(io.get_executor(), ep.host, ep.port));
    }
    last_status.assign(conns.size(), std::nullopt);
    auto last = Clock::now();
    while (!stopping) {
      co_await sleep_for(std::chrono::seconds(1));
      if (stopping) break;
      for (std::size_t i = 0; i < conns.size(); ++i) {
        last_status[i].reset();
        if (!net.running(i)) continue;
        auto r = co_await conns[i]->request(boost::beast::http::verb::get, "/status", {},
                                            std::chrono::milliseconds(800));
        if (r && r->status == 200) {
          if (auto s = parse_node_status(r->body)) {
            last_status[i] = *s;
            max_height = std::max(max_height, s->height);
          }
        }
      }
      if (stopping) break;
      const auto now = Clock::now();
      StatusSnapshot snap;
      snap.elapsed_s = std::chrono::duration<double>(now - started).count();
      snap.nodes = last_status;
      if (load) {
        LoadWindow w = load->take_window();
        snap.committed_tps =
            static_cast<double>(w.committed) / std::chrono::duration<double>(now - last).count();
        snap.committed_total = load->committed_total();
        if (!w.latencies_ms.empty()) {
          LatencySummary l = summarize(w.latencies_ms);
          snap.p50_ms = l.p50;
          snap.p99_ms = l.p99;
        }
      }
      last = now;
      live.update(format_status(snap));
    }
  }

  Task<void> main_task() {
    SignedLoadReport report;
    if (load) {
      auto ready = co_await load->prepare([&](const std::string& m) { live.message(m); });
      if (!ready) {
        if (!stopping) {
          live.message("openliquid devnet: the demo load could not start: " +
                       ready.error().message);
          failed = true;
        }
        stop("error");
      } else if (!stopping) {
        live.message("driving " + fmt("%.0f", opts.rate) +
                     " signed transfers/s spread over the validators; Ctrl-C stops");
        asio::co_spawn(io, status_loop(), asio::detached);
        report = co_await load->run();
      }
    } else {
      live.message("no load (--rate 0); Ctrl-C stops");
      asio::co_spawn(io, status_loop(), asio::detached);
      while (!stopping) co_await sleep_for(std::chrono::milliseconds(200));
    }
    stop(stopping ? stop_reason : "duration reached");
    live.finish();
    const double secs = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf("devnet ran %.1f s (%s): height %llu, %llu transactions committed (%.1f tx/s)",
                secs, stop_reason.c_str(), static_cast<unsigned long long>(max_height),
                static_cast<unsigned long long>(report.committed),
                report.window_s > 0
                    ? static_cast<double>(report.committed_in_window) / report.window_s
                    : 0.0);
    if (report.latency.count > 0) {
      std::printf(", e2e latency p50 %.0f ms, p99 %.0f ms", report.latency.p50, report.latency.p99);
    }
    std::printf("\n");
    if (report.unsent > report.offered / 100 + 10) {
      std::printf(
          "  %llu of the %llu transfers due were never sent (every connection was waiting for a "
          "reply): the validators could not take --rate %.0f\n",
          static_cast<unsigned long long>(report.unsent),
          static_cast<unsigned long long>(report.offered), opts.rate);
    }
    if (report.rejected > 0) {
      std::printf("  %llu transactions rejected (first: %s)\n",
                  static_cast<unsigned long long>(report.rejected), report.first_error.c_str());
    }
    io.stop();
  }
};

}  // namespace

int run_devnet(const DevnetOptions& opts) {
  if (auto s = validate(opts); !s) {
    std::fprintf(stderr, "openliquid devnet: %s\n", s.error().message.c_str());
    return 2;
  }
  asio::io_context io(1);
  // Ctrl-C and SIGTERM are handled from here on (the children run in their own process group,
  // so a terminal's Ctrl-C reaches only this process, which stops them in order).
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  asio::signal_set chld(io, SIGCHLD);
  bool interrupted = false;
  std::function<void(int)> on_signal = [&](int) { interrupted = true; };
  std::function<void()> arm = [&] {
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      on_signal(sig);
      arm();
    });
  };
  arm();

  LocalNetworkOptions lo;
  lo.validators = opts.validators;
  lo.dir = opts.dir;
  auto created = LocalNetwork::create(lo);
  if (!created) {
    std::fprintf(stderr, "openliquid devnet: %s\n", created.error().message.c_str());
    return 1;
  }
  LocalNetwork& net = **created;
  const auto& g = net.genesis();
  std::printf("devnet: %zu validators, chain id %llu, in %s\n", net.size(),
              static_cast<unsigned long long>(g.app.chain_id), net.dir().c_str());
  if (auto s = net.start(); !s) {
    std::fprintf(stderr, "openliquid devnet: %s\n", s.error().message.c_str());
    net.stop();
    return 1;
  }
  for (std::size_t i = 0; i < net.size(); ++i) {
    std::printf("  node%zu  rpc %s  log %s\n", i, net.rpc()[i].url().c_str(),
                (net.dir() / ("node" + std::to_string(i)) / "node.log").c_str());
  }
  std::fflush(stdout);

  LiveLine live;
  auto healthy = net.wait_until_healthy(std::chrono::seconds(opts.startup_timeout_s),
                                        [&](const std::string& m) {
                                          io.poll();
                                          if (live.tty()) live.update(m);
                                          return !interrupted;
                                        });
  if (!healthy) {
    live.finish();
    if (interrupted) {
      std::printf("interrupted while starting; stopping the validators\n");
      net.stop();
      return 0;
    }
    std::fprintf(stderr, "openliquid devnet: %s\n", healthy.error().message.c_str());
    net.stop();
    std::fprintf(stderr, "openliquid devnet: data and logs kept in %s\n", net.dir().c_str());
    return 1;
  }
  live.finish();
  std::printf("all %zu validators are up and committing\n", net.size());
  std::fflush(stdout);

  DevnetRun run{opts, net, io, live, std::nullopt, {}, 0, false, false, {}, Clock::now()};
  if (opts.rate > 0) {
    SignedLoadOptions so;
    so.nodes = net.rpc();
    so.rate = opts.rate;
    so.duration_s = opts.duration_s;
    so.accounts = opts.accounts;
    so.faucet_key = net.faucet_key_file();
    so.connections_per_node = connections_for_rate(opts.rate, so.nodes.size(), 1, 2);
    so.drain_s = 0;
    // A transaction lost with a stopped node's pool would hold back its sender's later nonces
    // for good: what is not committed in time is sent again.
    so.resend_after_s = kLoadResendAfterS;
    run.load.emplace(io, so);
  }
  if (interrupted) run.stop("interrupted");
  on_signal = [&](int sig) { run.stop(sig == SIGINT ? "Ctrl-C" : "SIGTERM"); };
  asio::co_spawn(io, run.watch_children(chld), asio::detached);
  run.check_children();
  std::optional<asio::steady_timer> deadline;
  if (opts.duration_s > 0 && opts.rate == 0) {
    deadline.emplace(io, std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(opts.duration_s)));
    deadline->async_wait([&](const boost::system::error_code& ec) {
      if (!ec) run.stop("duration reached");
    });
  }
  asio::co_spawn(io, run.main_task(), asio::detached);
  io.run();

  run.check_children();
  const std::size_t killed = net.stop(std::chrono::seconds(10));
  if (killed == 0) {
    std::printf("stopped all %zu validators cleanly\n", net.size());
  } else {
    std::printf("stopped the validators; %zu did not exit within 10 s of SIGTERM and were killed\n",
                killed);
  }
  const bool ok = !run.failed && killed == 0;
  if (net.is_temporary() && ok) {
    std::error_code ec;
    std::filesystem::remove_all(net.dir(), ec);
  } else {
    std::printf("data and logs in %s\n", net.dir().c_str());
  }
  return ok ? 0 : 1;
}

}  // namespace ol::node::tools
