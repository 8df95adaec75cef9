// `openliquid chaos`: kills, restarts and partitions under a signed load, then the checker.
#include "node/tools/chaos.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/beast/http/verb.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/hex.h"
#include "node/config.h"
#include "node/http_client.h"
#include "node/tools/chaos_proxy.h"
#include "node/tools/local_network.h"
#include "node/tools/runner.h"
#include "node/tools/signed_load.h"
#include "node/tools/status_line.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;
using verb = boost::beast::http::verb;
namespace fs = std::filesystem;

Status write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return make_error(Errc::io, "cannot write " + p.string());
  return {};
}

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(Errc::io, "cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<std::uint16_t> tcp_port_of(const std::string& multiaddr) {
  const auto pos = multiaddr.find("/tcp/");
  if (pos == std::string::npos)
    return make_error(Errc::invalid_argument, "no /tcp/ in " + multiaddr);
  return static_cast<std::uint16_t>(std::stoul(multiaddr.substr(pos + 5)));
}

// The pid of this process's child `openliquid node --home <home>` (LocalNetwork does not hand
// out pids): its /proc entry names us as parent and `home` as the fourth argument.
pid_t child_pid(const fs::path& home) {
  const pid_t self = ::getpid();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = read_text(e.path() / "stat");
    if (!stat) continue;
    const auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat->substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid != self) continue;
    auto cmd = read_text(e.path() / "cmdline");
    if (!cmd) continue;
    std::vector<std::string> args;
    for (std::size_t b = 0; b < cmd->size();) {
      const auto z = cmd->find('\0', b);
      args.push_back(cmd->substr(b, z == std::string::npos ? std::string::npos : z - b));
      if (z == std::string::npos) break;
      b = z + 1;
    }
    if (args.size() >= 4 && args[1] == "node" && args[2] == "--home" && args[3] == home.string()) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

// Marks every open descriptor above stderr close-on-exec before LocalNetwork forks a validator:
// Asio opens its sockets without it, and a validator that inherited a proxied connection would
// keep it open after the proxy closes it (a partition would then stall that connection instead
// of cutting it) and would hold the HTTP clients' connections too. A socket the proxy thread
// opens between this and the fork can still slip through; it is only held, never used.
void mark_fds_cloexec() {
  std::error_code ec;
  std::vector<int> fds;
  for (const auto& e : fs::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") == std::string::npos) fds.push_back(std::stoi(name));
  }
  for (int fd : fds) {
    if (fd <= 2) continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// Does this binary's node accept the top-level `signing_journal` key?
bool node_has_signing_journal() {
  return parse_config("signing_journal = true\n", "probe").ok();
}

// `toml` with the top-level key signing_journal = true (replacing the line init wrote, if any).
std::string with_signing_journal(const std::string& toml) {
  std::istringstream in(toml);
  std::string out;
  bool done = false, top = true;
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t");
    if (b != std::string::npos && line[b] == '[') top = false;
    if (top && !done && b != std::string::npos && line.compare(b, 15, "signing_journal") == 0) {
      line = "signing_journal = true";
      done = true;
    }
    out += line + "\n";
  }
  return done ? out : "signing_journal = true\n" + out;
}

std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string side_text(const std::vector<bool>& side) {
  std::string a, b;
  for (std::size_t i = 0; i < side.size(); ++i) {
    std::string& s = side[i] ? a : b;
    s += (s.empty() ? "node" : ",node") + std::to_string(i);
  }
  return "{" + a + "} | {" + b + "}";
}

struct ChaosRun {
  const ChaosOptions& o;
  LocalNetwork& net;
  LinkProxies& proxies;
  asio::io_context& io;
  std::mt19937_64 rng;
  Clock::time_point t0 = Clock::now();
  std::optional<SignedLoad> load;
  bool load_done = true;
  SignedLoadReport load_report;

  // Counters for the summary.
  std::uint64_t kills = 0, restarts = 0, partitions = 0, heals = 0, stalls = 0;
  double longest_recovery_s = 0;
  std::vector<Violation> violations;

  std::vector<bool> expected_exit;  // killed by us, not reaped yet
  std::vector<bool> down;           // not running (killed or crashed), restart pending
  bool partitioned = false;
  bool chaos_over = false;
  bool interrupted = false;
  std::size_t pending_restarts = 0;

  // The witness: what clients were told over RPC.
  ObservedCommits observed;
  std::uint64_t witness_next = 1;
  std::uint64_t witness_limit = UINT64_MAX;  // the settle target: read no higher
  std::vector<std::uint64_t> reported;       // per node: the highest height it said it committed
  bool witness_stop = false;
  bool witness_done = false;
  std::uint64_t max_height = 0;

  ChaosRun(const ChaosOptions& opts, LocalNetwork& n, LinkProxies& p, asio::io_context& i,
           std::uint64_t seed)
      : o(opts), net(n), proxies(p), io(i), rng(seed) {
    expected_exit.assign(net.size(), false);
    down.assign(net.size(), false);
    reported.assign(net.size(), 0);
  }

  double t() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }

  void event(const std::string& what) {
    std::printf("[%7.1fs] %s\n", t(), what.c_str());
    std::fflush(stdout);
  }

  void violation(std::string kind, std::string detail) {
    event("VIOLATION " + kind + ": " + detail);
    violations.push_back({std::move(kind), std::move(detail)});
  }

  std::size_t f() const { return (net.size() - 1) / 3; }
  std::size_t down_count() const {
    return static_cast<std::size_t>(std::count(down.begin(), down.end(), true));
  }

  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  }

  // Children that exited: ours (SIGKILL) are expected; any other exit is a crash.
  void reap() {
    for (const auto& e : net.reap()) {
      if (expected_exit[e.index]) {
        expected_exit[e.index] = false;
        continue;
      }
      if (chaos_over && witness_done) continue;  // the final stop
      violation("crash", describe_exit(net, e));
      if (!down[e.index]) {
        down[e.index] = true;
        spawn_restart(e.index, 1.0);
      }
    }
  }

  // Counted as pending from the call (not from when the coroutine first runs), so the chaos
  // loop's wait for restarts sees it at once.
  void spawn_restart(std::size_t i, double delay_s) {
    ++pending_restarts;
    asio::co_spawn(io, restart_after(i, delay_s), asio::detached);
  }

  // Call with pending_restarts already counting this restart.
  Task<void> restart_after(std::size_t i, double delay_s) {
    co_await sleep_for(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay_s)));
    reap();
    // A killed child is reaped within milliseconds; start() starts every child not running.
    for (int k = 0; k < 250 && expected_exit[i]; ++k) {
      co_await sleep_for(std::chrono::milliseconds(20));
      reap();
    }
    std::vector<bool> was(net.size());
    for (std::size_t k = 0; k < net.size(); ++k) was[k] = net.running(k);
    mark_fds_cloexec();
    if (auto s = net.start(); !s) {
      violation("restart", "node" + std::to_string(i) + ": " + s.error().message);
    }
    for (std::size_t k = 0; k < net.size(); ++k) {
      if (was[k] || !net.running(k)) continue;
      ++restarts;
      down[k] = false;
      event("restart node" + std::to_string(k));
    }
    --pending_restarts;
  }

  void kill_one(double delay) {
    std::vector<std::size_t> up;
    for (std::size_t i = 0; i < net.size(); ++i) {
      if (!down[i] && net.running(i)) up.push_back(i);
    }
    if (up.empty()) return;
    const std::size_t i = up[std::uniform_int_distribution<std::size_t>(0, up.size() - 1)(rng)];
    const pid_t pid = child_pid(net.dir() / ("node" + std::to_string(i)));
    if (pid <= 0) return;
    expected_exit[i] = true;
    down[i] = true;
    ::kill(pid, SIGKILL);
    ++kills;
    event("kill node" + std::to_string(i) + " (pid " + std::to_string(pid) +
          ", SIGKILL); restart in " + fmt1(delay) + " s");
    spawn_restart(i, delay);
  }

  Task<void> partition_once(double secs) {
    const std::size_t n = net.size();
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t k = std::uniform_int_distribution<std::size_t>(1, n / 2)(rng);
    std::vector<bool> side(n, false);
    for (std::size_t i = 0; i < k; ++i) side[order[i]] = true;
    // A cut that leaves no side a quorum heals soon; one that does may last longer.
    const bool quorum_side = n - k >= n - f();
    if (secs <= 0) secs = quorum_side ? uniform(2.0, 10.0) : uniform(1.0, 4.0);
    partitioned = true;
    ++partitions;
    proxies.partition(side);
    event("partition " + side_text(side) + " for " + fmt1(secs) + " s");
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(secs));
    while (Clock::now() < until && !chaos_over) co_await sleep_for(std::chrono::milliseconds(100));
    proxies.heal();
    partitioned = false;
    ++heals;
    event("heal");
  }

  // The highest height any running node reports (0 if none answers).
  Task<std::uint64_t> top_height() {
    auto st = co_await poll_status();
    std::uint64_t top = 0;
    for (const auto& x : st) {
      if (x) top = std::max(top, x->height);
    }
    co_return top;
  }

  // One fault at a time, each followed by a wait until the chain has committed again, so the
  // run keeps making progress: a SIGKILL (restart after 0.5-8 s), a partition (a side with a
  // quorum for 2-10 s, none for 1-4 s) or, now and then, both at once for a few seconds (no
  // quorum anywhere until it ends).
  Task<void> chaos_loop(Clock::time_point end) {
    while (!interrupted && Clock::now() < end) {
      co_await sleep_for(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(uniform(0.5, 3.0))));
      if (interrupted || Clock::now() >= end) break;
      reap();
      const bool can_kill = o.kills && down_count() < f();
      const bool can_cut = o.partitions && !partitioned && net.size() > 1;
      if (!can_kill && !can_cut) continue;
      const double pick = uniform(0, 1);
      if (can_kill && can_cut && pick < 0.15) {
        kill_one(uniform(1.0, 3.0));
        co_await partition_once(uniform(1.0, 3.0));
      } else if (can_kill && (!can_cut || pick < 0.6)) {
        kill_one(uniform(0.5, 8.0));
      } else {
        co_await partition_once(0);
      }
      while (pending_restarts > 0 && !interrupted) {
        co_await sleep_for(std::chrono::milliseconds(100));
      }
      // Recovered once every validator is back and the chain has moved on.
      const auto since = Clock::now();
      const std::uint64_t from = co_await top_height();
      std::uint64_t now_h = from;
      while (!interrupted && now_h < from + 3 && Clock::now() - since < std::chrono::seconds(120)) {
        co_await sleep_for(std::chrono::milliseconds(250));
        now_h = co_await top_height();
      }
      const double took = std::chrono::duration<double>(Clock::now() - since).count();
      longest_recovery_s = std::max(longest_recovery_s, took);
      if (now_h < from + 3 && !interrupted) {
        event("no commit for " + fmt1(took) + " s after the fault ended (height " +
              std::to_string(now_h) + "); going on");
        ++stalls;
      }
    }
  }

  // Follows the committed chain block by block over RPC, asking the running nodes in turn, and
  // records what they report (the block id at each height, the first height of each tx).
  Task<void> witness_loop() {
    std::vector<std::unique_ptr<AsyncHttpConnection>> conns;
    for (const auto& ep : net.rpc()) {
      conns.push_back(std::make_unique<AsyncHttpConnection>(io.get_executor(), ep.host, ep.port));
    }
    std::size_t rr = 0, misses = 0;
    while (!witness_stop) {
      if (witness_next > witness_limit) {
        co_await sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      const std::size_t k = rr++ % conns.size();
      if (down[k] || !net.running(k)) {
        if (++misses >= conns.size()) {
          misses = 0;
          co_await sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
      auto r = co_await conns[k]->request(verb::get, "/block/" + std::to_string(witness_next), {},
                                          std::chrono::seconds(2));
      if (!r || r->status != 200) {
        if (++misses >= conns.size()) {
          misses = 0;
          co_await sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
      misses = 0;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      std::optional<Hash32> id;
      if (j.is_object() && j.contains("id") && j["id"].is_string()) {
        if (auto h = from_hex_fixed<32>(j["id"].get<std::string>())) id = *h;
      }
      if (!id) {
        violation("rpc", "node" + std::to_string(k) + " GET /block/" +
                             std::to_string(witness_next) + ": no id in " + r->body.substr(0, 200));
        co_await sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      observed.blocks[witness_next] = *id;
      reported[k] = std::max(reported[k], witness_next);
      if (j.contains("txs") && j["txs"].is_array()) {
        for (const auto& h : j["txs"]) {
          if (!h.is_string()) continue;
          if (auto hash = from_hex_fixed<32>(h.get<std::string>())) {
            observed.txs.emplace(*hash, witness_next);
          }
        }
      }
      max_height = std::max(max_height, witness_next);
      ++witness_next;
    }
    witness_done = true;
  }

  // Heights of the running nodes (nullopt: did not answer).
  Task<std::vector<std::optional<NodeStatus>>> poll_status() {
    std::vector<std::optional<NodeStatus>> out(net.size());
    for (std::size_t i = 0; i < net.size(); ++i) {
      if (down[i] || !net.running(i)) continue;
      AsyncHttpConnection c(io.get_executor(), net.rpc()[i].host, net.rpc()[i].port);
      auto r = co_await c.request(verb::get, "/status", {}, std::chrono::milliseconds(800));
      if (r && r->status == 200) {
        if (auto s = parse_node_status(r->body)) {
          out[i] = *s;
          reported[i] = std::max(reported[i], s->height);
        }
      }
    }
    co_return out;
  }

  Task<void> status_loop() {
    std::uint64_t last_txs = 0;
    auto last = Clock::now();
    while (!chaos_over) {
      co_await sleep_for(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(o.status_every_s)));
      if (chaos_over) break;
      reap();
      auto st = co_await poll_status();
      std::uint64_t hmin = UINT64_MAX, hmax = 0;
      std::string missing;
      for (std::size_t i = 0; i < st.size(); ++i) {
        if (!st[i]) {
          missing += " node" + std::to_string(i);
          continue;
        }
        hmin = std::min(hmin, st[i]->height);
        hmax = std::max(hmax, st[i]->height);
      }
      const auto now = Clock::now();
      const std::uint64_t txs = observed.txs.size();
      const double tps =
          static_cast<double>(txs - last_txs) / std::chrono::duration<double>(now - last).count();
      last_txs = txs;
      last = now;
      std::printf(
          "[%7.1fs] status: height %llu..%llu | up %zu/%zu%s | partition %s | %llu txs committed "
          "(%.0f tx/s) | kills %llu partitions %llu\n",
          t(), static_cast<unsigned long long>(hmin == UINT64_MAX ? 0 : hmin),
          static_cast<unsigned long long>(hmax), net.size() - down_count(), net.size(),
          missing.empty() ? "" : (", not answering:" + missing).c_str(), partitioned ? "yes" : "no",
          static_cast<unsigned long long>(txs), tps, static_cast<unsigned long long>(kills),
          static_cast<unsigned long long>(partitions));
      std::fflush(stdout);
    }
  }

  Task<void> run_load() {
    load_done = false;
    load_report = co_await load->run();
    load_done = true;
  }

  // The whole run on the io thread; returns after the settle phase (the nodes still running).
  Task<void> main_task(bool& settled) {
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.duration_s));
    asio::co_spawn(io, witness_loop(), asio::detached);
    if (o.rate > 0) {
      SignedLoadOptions so;
      so.nodes = net.rpc();
      so.rate = o.rate;
      so.duration_s = 0;  // until stop()
      so.accounts = o.accounts;
      so.faucet_key = net.faucet_key_file();
      so.connections_per_node = 2;
      so.drain_s = 0;
      // What a killed node's pool lost is sent again, so that its sender goes on.
      so.resend_after_s = kLoadResendAfterS;
      load.emplace(io, so);
      auto ready = co_await load->prepare([&](const std::string& m) { event(m); });
      if (!ready) {
        violation("load", "the signed load could not start: " + ready.error().message);
        load.reset();
      } else {
        asio::co_spawn(io, run_load(), asio::detached);
      }
    }
    event("chaos for " + fmt1(o.duration_s) + " s: f = " + std::to_string(f()) +
          (o.kills ? ", SIGKILL + restart" : "") + (o.partitions ? ", partitions" : ""));
    asio::co_spawn(io, status_loop(), asio::detached);
    co_await chaos_loop(end);

    // Settle: no more chaos; heal, restart everyone, stop the load, wait until all caught up.
    event(interrupted ? "interrupted: ending the chaos"
                      : "chaos over: healing, restarting every validator, stopping the load");
    chaos_over = true;
    while (partitioned) co_await sleep_for(std::chrono::milliseconds(50));
    while (pending_restarts > 0) co_await sleep_for(std::chrono::milliseconds(50));
    reap();
    bool any_down = false;
    for (std::size_t i = 0; i < net.size(); ++i) any_down = any_down || !net.running(i);
    if (any_down) {
      ++pending_restarts;
      co_await restart_after(0, 0);
    }
    if (load) {
      load->stop();
      while (!load_done) co_await sleep_for(std::chrono::milliseconds(50));
    }
    const auto settle_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(o.settle_timeout_s));
    std::optional<std::uint64_t> target;
    std::vector<std::optional<NodeStatus>> st;
    while (Clock::now() < settle_end) {
      reap();
      st = co_await poll_status();
      std::uint64_t hmin = UINT64_MAX, hmax = 0;
      bool all = true;
      for (const auto& s : st) {
        if (!s) {
          all = false;
          continue;
        }
        hmin = std::min(hmin, s->height);
        hmax = std::max(hmax, s->height);
      }
      if (all && !target) {
        target = std::max(hmax, max_height) + 3;
        witness_limit = *target;
      }
      if (all && target && hmin >= *target && witness_next > *target) {
        settled = true;
        event("settled: every validator at height >= " + std::to_string(*target) + " (" +
              std::to_string(hmin) + ".." + std::to_string(hmax) + ")");
        break;
      }
      co_await sleep_for(std::chrono::milliseconds(500));
    }
    if (!settled) {
      std::string heights;
      for (std::size_t i = 0; i < st.size(); ++i) {
        heights +=
            " node" + std::to_string(i) + "=" + (st[i] ? std::to_string(st[i]->height) : "down");
      }
      violation("liveness",
                "the validators did not all catch up within " + fmt1(o.settle_timeout_s) +
                    " s of the chaos ending (target height " +
                    (target ? std::to_string(*target) : std::string("unknown")) + "):" + heights);
    }
    witness_stop = true;
    while (!witness_done) co_await sleep_for(std::chrono::milliseconds(20));
    io.stop();
  }
};

}  // namespace

Status validate(const ChaosOptions& o) {
  if (o.validators < 1 || o.validators > 64) {
    return make_error(Errc::invalid_argument, "--validators must be 1..64");
  }
  if (o.duration_s <= 0) return make_error(Errc::invalid_argument, "--duration must be > 0");
  if (o.rate < 0) return make_error(Errc::invalid_argument, "--rate must be >= 0");
  if (o.rate > 0 && o.accounts < o.validators) {
    return make_error(Errc::invalid_argument, "--accounts must be at least --validators");
  }
  if (o.settle_timeout_s <= 0)
    return make_error(Errc::invalid_argument, "--settle-timeout must be > 0");
  if (o.status_every_s <= 0)
    return make_error(Errc::invalid_argument, "--status-every must be > 0");
  return {};
}

namespace {

int check_only(const ChaosOptions& opts) {
  const fs::path dir = opts.check_dir;
  auto genesis = load_genesis(dir / "genesis.json");
  if (!genesis) {
    std::fprintf(stderr, "openliquid chaos: %s\n", genesis.error().message.c_str());
    return 2;
  }
  const std::size_t n = genesis->validators.size();
  auto check = check_network(dir, n, *genesis, ObservedCommits{});
  if (!check) {
    std::fprintf(stderr, "openliquid chaos: %s\n", check.error().message.c_str());
    return 1;
  }
  std::uint64_t height = 0;
  for (auto h : check->heights) height = std::max(height, h);
  for (const auto& v : check->violations) {
    std::printf("violation: %s: %s\n", v.kind.c_str(), v.detail.c_str());
  }
  std::printf(
      "checked %zu validators: height %llu, re-executed %llu blocks (%llu txs), %zu "
      "journals with %llu votes; violations=%zu\n",
      n, static_cast<unsigned long long>(height),
      static_cast<unsigned long long>(check->replayed_height),
      static_cast<unsigned long long>(check->replayed_txs), check->journals,
      static_cast<unsigned long long>(check->journal_votes), check->violations.size());
  if (check->double_proposals != 0) {
    std::printf("double_proposals=%llu\n",
                static_cast<unsigned long long>(check->double_proposals));
  }
  return check->violations.empty() ? 0 : 1;
}

}  // namespace

int run_chaos(const ChaosOptions& opts) {
  if (auto s = validate(opts); !s) {
    std::fprintf(stderr, "openliquid chaos: %s\n", s.error().message.c_str());
    return 2;
  }
  if (!opts.check_dir.empty()) return check_only(opts);
  const std::uint64_t seed = opts.seed != 0 ? opts.seed : std::random_device{}() | 1ull << 32;
  if (!opts.dir.empty()) {
    std::error_code ec;
    if (fs::exists(opts.dir, ec) && !fs::is_empty(opts.dir, ec)) {
      std::fprintf(stderr,
                   "openliquid chaos: --dir %s is not empty (chaos needs a fresh network)\n",
                   opts.dir.c_str());
      return 2;
    }
  }
  const bool journal = node_has_signing_journal();
  LocalNetworkOptions lo;
  lo.validators = opts.validators;
  lo.dir = opts.dir;
  // Redial quickly after a heal or a restart.
  lo.config_edits = {{"network", "redial_cap_ms", "2000"}};
  auto created = LocalNetwork::create(lo);
  if (!created) {
    std::fprintf(stderr, "openliquid chaos: %s\n", created.error().message.c_str());
    return 1;
  }
  LocalNetwork& net = **created;
  const Genesis& genesis = net.genesis();
  const std::size_t n = net.size();

  // Proxies for every validator link; each node's genesis names its peers at their proxies.
  std::vector<std::uint16_t> targets, avoid;
  for (std::size_t i = 0; i < n; ++i) {
    auto p = tcp_port_of(genesis.validators[i].p2p_address);
    if (!p) {
      std::fprintf(stderr, "openliquid chaos: %s\n", p.error().message.c_str());
      return 1;
    }
    targets.push_back(*p);
    avoid.push_back(*p);
    avoid.push_back(net.rpc()[i].port);
  }
  auto proxies = LinkProxies::start(targets, avoid);
  if (!proxies) {
    std::fprintf(stderr, "openliquid chaos: %s\n", proxies.error().message.c_str());
    return 1;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const fs::path home = net.dir() / ("node" + std::to_string(i));
    Genesis g = genesis;
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i) {
        g.validators[j].p2p_address =
            "/ip4/127.0.0.1/tcp/" + std::to_string((*proxies)->port(i, j));
      }
    }
    Status s = write_text(home / "genesis.json", g.to_json());
    if (s && journal) {
      auto toml = read_text(home / "config.toml");
      if (!toml)
        s = toml.error();
      else
        s = write_text(home / "config.toml", with_signing_journal(*toml));
    }
    if (!s) {
      std::fprintf(stderr, "openliquid chaos: %s\n", s.error().message.c_str());
      return 1;
    }
  }

  std::printf("chaos: %zu validators (f = %zu), seed %llu, %.0f transfers/s, %.0f s, in %s\n", n,
              (n - 1) / 3, static_cast<unsigned long long>(seed), opts.rate, opts.duration_s,
              net.dir().c_str());
  std::printf("  validator links through proxies on 127.0.0.1:%u..%u; signing journal %s\n",
              (*proxies)->port(0, n > 1 ? 1 : 0), (*proxies)->port(n - 1, n > 1 ? n - 2 : 0),
              journal ? "on" : "not supported by this node (double-sign check skipped)");
  std::fflush(stdout);

  auto keep_dir = [&](bool ok) {
    if (net.is_temporary() && ok && !opts.keep) {
      std::error_code ec;
      fs::remove_all(net.dir(), ec);
    } else {
      std::printf("data and logs in %s\n", net.dir().c_str());
    }
  };

  asio::io_context io(1);
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  ChaosRun run(opts, net, **proxies, io, seed);
  std::function<void()> arm = [&] {
    stop_signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (run.interrupted) {
        std::printf("interrupted twice: stopping without the check\n");
        io.stop();
        return;
      }
      run.interrupted = true;
      arm();
    });
  };
  arm();

  mark_fds_cloexec();
  if (auto s = net.start(); !s) {
    std::fprintf(stderr, "openliquid chaos: %s\n", s.error().message.c_str());
    net.stop();
    keep_dir(false);
    return 1;
  }
  auto healthy = net.wait_until_healthy(std::chrono::seconds(60), [&](const std::string&) {
    io.poll();
    return !run.interrupted;
  });
  if (!healthy) {
    std::fprintf(stderr, "openliquid chaos: %s\n", healthy.error().message.c_str());
    net.stop();
    keep_dir(false);
    return 1;
  }
  run.t0 = Clock::now();
  run.event("all " + std::to_string(n) + " validators are up and committing");

  bool settled = false;
  asio::co_spawn(io, run.main_task(settled), asio::detached);
  io.run();
  run.chaos_over = true;
  run.witness_done = true;

  const std::size_t killed = net.stop(std::chrono::seconds(20));
  if (killed > 0) {
    run.event(std::to_string(killed) +
              " validator(s) did not exit within 20 s of SIGTERM and were killed");
  } else {
    run.event("stopped every validator (SIGTERM)");
  }
  proxies->reset();

  run.event("checking the stores: chains, observed commits, re-execution, state roots, journals");
  auto check = check_network(net.dir(), n, genesis, run.observed);
  std::uint64_t double_proposals = 0;  // rounds a leader signed two proposals (violations)
  if (!check) {
    run.violation("check", check.error().message);
  } else {
    double_proposals = check->double_proposals;
    for (auto& v : check->violations) run.violations.push_back(std::move(v));
    // What a node said over RPC it had committed must be in its store (crash safety).
    for (std::size_t i = 0; i < n && i < check->heights.size(); ++i) {
      if (check->heights[i] < run.reported[i]) {
        run.violations.push_back(
            {"lost-block", "node" + std::to_string(i) + " reported height " +
                               std::to_string(run.reported[i]) +
                               " committed over RPC but its store ends at height " +
                               std::to_string(check->heights[i])});
      }
    }
    std::string heights;
    for (std::size_t i = 0; i < check->heights.size(); ++i) {
      heights += (i ? " " : "") + std::string("node") + std::to_string(i) + "=" +
                 std::to_string(check->heights[i]);
    }
    run.event("checked: heights " + heights + "; re-executed " +
              std::to_string(check->replayed_height) + " blocks (" +
              std::to_string(check->replayed_txs) + " txs; exec roots anchored up to " +
              std::to_string(check->anchored_height) + "); " +
              std::to_string(check->observed_txs_checked) + " observed txs; " +
              std::to_string(check->journals) + " journals with " +
              std::to_string(check->journal_votes) + " votes");
  }

  std::printf(
      "faults: %llu SIGKILLs, %llu partitions; longest wait for the next commit after a fault "
      "%.1f s; %llu faults after which nothing was committed within 120 s\n",
      static_cast<unsigned long long>(run.kills), static_cast<unsigned long long>(run.partitions),
      run.longest_recovery_s, static_cast<unsigned long long>(run.stalls));
  if (run.load_report.accepted > 0) {
    std::printf(
        "load: %llu transactions accepted, %llu sent again after %.0f s without a commit (lost "
        "with a killed node's pool, or held up by a partition)\n",
        static_cast<unsigned long long>(run.load_report.accepted),
        static_cast<unsigned long long>(run.load_report.resent), kLoadResendAfterS);
  }
  for (const auto& v : run.violations) {
    std::printf("violation: %s: %s\n", v.kind.c_str(), v.detail.c_str());
  }
  std::uint64_t height = 0;
  if (check) {
    for (auto h : check->heights) height = std::max(height, h);
  }
  std::printf(
      "kills=%llu restarts=%llu partitions=%llu commits=%llu (height) txs_committed=%zu "
      "violations=%zu double_proposals=%llu seed=%llu\n",
      static_cast<unsigned long long>(run.kills), static_cast<unsigned long long>(run.restarts),
      static_cast<unsigned long long>(run.partitions), static_cast<unsigned long long>(height),
      run.observed.txs.size(), run.violations.size(),
      static_cast<unsigned long long>(double_proposals), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  const bool ok = run.violations.empty();
  keep_dir(ok);
  return ok ? 0 : 1;
}

}  // namespace ol::node::tools
