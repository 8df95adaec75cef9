#include "node/tools/signed_load.h"

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <cmath>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/hex.h"
#include "crypto/hash.h"
#include "crypto/secp256k1.h"
#include "node/tools/status_line.h"
#include "types/transaction.h"

namespace ol::node::tools {

std::size_t connections_for_rate(double rate, std::size_t nodes, std::size_t submit_batch,
                                 std::size_t floor) {
  constexpr double kRequestsPerConnection = 150;
  const double requests = rate / static_cast<double>(std::max<std::size_t>(submit_batch, 1)) /
                          static_cast<double>(std::max<std::size_t>(nodes, 1));
  const auto needed = static_cast<std::size_t>(std::ceil(requests / kRequestsPerConnection));
  return std::clamp<std::size_t>(needed, floor, 64);
}
namespace {

using Clock = std::chrono::steady_clock;
using verb = boost::beast::http::verb;
using nlohmann::json;

struct SignedTx {
  std::string hex;  // 0x...
  Hash32 hash{};
  bool resend = false;  // accepted before, not seen committed: sent again (resend_after_s)
  std::string body() const { return "{\"tx\":\"" + hex + "\"}"; }
};

struct Account {
  crypto::Secp256k1Key key;
  crypto::Address to;  // transfers go round the ring of accounts
  std::uint64_t nonce = 0;
};

SignedTx sign_transfer(std::uint64_t chain_id, std::uint64_t nonce, const crypto::Address& to,
                       types::Amount amount, const crypto::Secp256k1Key& key) {
  auto tx = types::Transaction::sign(chain_id, nonce, types::Transfer{to, amount}, key);
  codec::Writer w(256);
  tx.encode(w);
  SignedTx out;
  out.hex = to_hex(w.data(), true);
  out.hash = tx.hash();
  return out;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The one-line reason in an error body ({"error": "..."}), or the body itself.
std::string error_reason(const HttpResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
}

}  // namespace

struct SignedLoad::Impl {
  asio::io_context& io;
  SignedLoadOptions opts;
  std::uint64_t chain_id = 0;

  // Per node: its accounts (each account submits only to its node, so its nonces arrive in
  // order), presigned transactions, ones to submit again, and the pacer's credit.
  struct NodeLoad {
    std::vector<Account> accounts;
    std::size_t next_account = 0;
    std::deque<SignedTx> presigned;
    std::deque<SignedTx> retry;
    std::uint64_t credit = 0;
    std::unique_ptr<Notifier> wake;
  };
  std::vector<NodeLoad> nodes;

  // Submitted and not yet seen committed (nor refused for good).
  struct Inflight {
    Clock::time_point first;  // first submission: latency is counted from here
    Clock::time_point sent;   // latest submission
    std::size_t node = 0;
    bool accepted = false;  // by a node (not only waiting to be sent again after a refusal)
    SignedTx tx;            // kept only with resend_after_s
  };
  std::unordered_map<Hash32, Inflight, crypto::Hash32Hasher> inflight;
  LoadWindow window;
  LatencyHistogram latencies;  // of every transaction, in bounded memory (devnet never stops)
  Clock::time_point start{};   // of the load (run())
  std::optional<Clock::time_point> first_commit;  // of the load's transactions
  SignedLoadReport report;
  std::uint64_t committed_total = 0;

  bool submitting = false;
  // After the load's window, during the drain: only transactions refused earlier ("busy",
  // "full") are sent again, so that an account's later nonces, already admitted, are not left
  // waiting behind one that was never resent.
  bool resend_only = false;
  bool following = false;
  bool stopped = false;
  Clock::time_point window_end = Clock::time_point::max();
  std::vector<AsyncHttpConnection*> open_connections;
  std::size_t live = 0;  // coroutines still running
  std::unique_ptr<Notifier> done;

  Impl(asio::io_context& io_, SignedLoadOptions o) : io(io_), opts(std::move(o)) {
    done = std::make_unique<Notifier>(io.get_executor());
  }

  AsyncHttpConnection connect(std::size_t node) {
    return AsyncHttpConnection(io.get_executor(), opts.nodes[node].host, opts.nodes[node].port);
  }

  // The next transaction for `node`: one to submit again, a presigned one, or (just in time)
  // a fresh one. Empty when presigned transactions ran out.
  std::optional<SignedTx> next_tx(std::size_t node) {
    auto& n = nodes[node];
    if (!n.retry.empty()) {
      SignedTx tx = std::move(n.retry.front());
      n.retry.pop_front();
      return tx;
    }
    if (resend_only) return std::nullopt;
    if (opts.presign) {
      if (n.presigned.empty()) return std::nullopt;
      SignedTx tx = std::move(n.presigned.front());
      n.presigned.pop_front();
      return tx;
    }
    auto& a = n.accounts[n.next_account++ % n.accounts.size()];
    return sign_transfer(chain_id, a.nonce++, a.to, 1, a.key);
  }

  void on_committed(const Hash32& h, Clock::time_point now) {
    auto it = inflight.find(h);
    if (it == inflight.end()) return;
    const double ms = ms_between(it->second.first, now);
    inflight.erase(it);
    latencies.add(ms);
    window.latencies_ms.push_back(ms);
    ++window.committed;
    ++committed_total;
    if (!first_commit) first_commit = now;
    if (now <= window_end) ++report.committed_in_window;
    // Within the load's length of the first commit (which follows the start): every commit
    // before the load ends, and those of the drain up to that shifted end.
    if (now <= window_end || now - *first_commit <= window_end - start) {
      ++report.committed_after_first;
    }
  }

  // One submitted transaction a node admitted (now or by an earlier attempt).
  void settle_accepted(const SignedTx& tx) {
    if (tx.resend) return;  // counted when first accepted
    ++report.accepted;
    if (auto it = inflight.find(tx.hash); it != inflight.end()) it->second.accepted = true;
  }

  // What became of one submitted transaction that was not admitted (`status` the request's, or
  // 503 for a request lost on the way; `reason` the node's words): true = it goes back to be
  // submitted again (pushed back by the node: busy, full, too far ahead), false = dropped.
  bool settle_refused(NodeLoad& n, SignedTx& tx, unsigned status, const std::string& reason) {
    if (reason.find("already") != std::string::npos) {  // admitted by an earlier attempt
      settle_accepted(tx);
      return false;
    }
    if (status == 503 || reason.find("full") != std::string::npos ||
        reason.find("too far") != std::string::npos) {
      ++report.retried;
      n.retry.push_front(std::move(tx));
      if (!opts.open_loop) ++n.credit;
      return true;
    }
    // A resent transaction refused otherwise ("nonce too low") was committed meanwhile: the
    // follower will see it.
    if (tx.resend) return false;
    ++report.rejected;
    if (report.first_error.empty()) report.first_error = reason;
    inflight.erase(tx.hash);
    return false;
  }

  Task<void> submitter(std::size_t node) {
    ++live;
    AsyncHttpConnection conn = connect(node);
    open_connections.push_back(&conn);
    auto& n = nodes[node];
    std::vector<SignedTx> txs;
    while (submitting) {
      std::size_t take = opts.submit_batch;
      if (!opts.open_loop) {
        while (submitting && n.credit == 0) co_await n.wake->wait();
        if (!submitting) break;
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n.credit, take));
        n.credit -= take;
      }
      txs.clear();
      while (txs.size() < take) {
        auto tx = next_tx(node);
        if (!tx) break;
        const auto now = Clock::now();
        auto [at, fresh] = inflight.try_emplace(tx->hash, Inflight{now, now, node, false, {}});
        at->second.sent = now;
        if (fresh && opts.resend_after_s > 0) at->second.tx = *tx;
        txs.push_back(std::move(*tx));
      }
      if (txs.empty()) break;
      if (!opts.open_loop) n.credit += take - txs.size();
      const bool single = opts.submit_batch == 1;
      std::string body;
      if (single) {
        body = txs[0].body();
      } else {
        body = "{\"txs\":[";
        for (std::size_t i = 0; i < txs.size(); ++i) {
          body += (i ? ",\"" : "\"") + txs[i].hex + "\"";
        }
        body += "]}";
      }
      auto r =
          co_await conn.request(verb::post, single ? "/tx" : "/txs", body, std::chrono::seconds(5));
      if (!r) {  // lost on the way: every transaction goes back, as if pushed back
        if (report.first_error.empty()) report.first_error = r.error().message;
        for (auto it = txs.rbegin(); it != txs.rend(); ++it) settle_refused(n, *it, 503, {});
        co_await sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      bool back_off = false;
      if (r->status == 200 && single) {
        settle_accepted(txs[0]);
      } else if (r->status == 200) {
        // One result per transaction, in order; settled last to first so that the ones pushed
        // back keep their order (an account's nonces must arrive in sequence).
        const json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
        const json* results = j.is_object() && j.contains("results") ? &j["results"] : nullptr;
        if (results == nullptr || !results->is_array() || results->size() != txs.size()) {
          for (auto it = txs.rbegin(); it != txs.rend(); ++it) {
            back_off |=
                settle_refused(n, *it, 500, "malformed /txs answer: " + r->body.substr(0, 200));
          }
        } else {
          for (std::size_t i = txs.size(); i-- > 0;) {
            const json& e = (*results)[i];
            if (!e.is_object() || !e.contains("error")) {
              settle_accepted(txs[i]);
            } else {
              const std::string reason =
                  e["error"].is_string() ? e["error"].get<std::string>() : "";
              back_off |= settle_refused(n, txs[i], r->status, reason);
            }
          }
        }
      } else {
        const std::string reason = error_reason(*r);
        for (auto it = txs.rbegin(); it != txs.rend(); ++it) {
          back_off |= settle_refused(n, *it, r->status, reason);
        }
      }
      if (back_off) co_await sleep_for(std::chrono::milliseconds(20));
    }
    std::erase(open_connections, &conn);
    --live;
    done->notify();
  }

  Task<void> pacer(Clock::time_point start, Clock::time_point end) {
    ++live;
    RatePacer pacer(opts.rate, start, std::chrono::milliseconds(2));
    asio::steady_timer timer(io);
    std::size_t rr = 0;
    while (submitting && !resend_only) {
      const auto now = Clock::now();
      const std::uint64_t due = pacer.release(std::min(now, end));
      for (std::uint64_t i = 0; i < due; ++i) ++nodes[rr++ % nodes.size()].credit;
      report.offered += due;
      if (due) {
        for (auto& n : nodes) n.wake->notify();
      }
      if (now >= end) break;
      timer.expires_at(pacer.next_due(now));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    --live;
    done->notify();
  }

  // resend_after_s: what a node accepted and has not committed long after it was last sent goes
  // back to that node, oldest first (an account's nonces must arrive in order). What is only
  // waiting in a retry queue (refused, or its node down) is not duplicated there.
  Task<void> resender() {
    ++live;
    const auto after = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(opts.resend_after_s));
    asio::steady_timer timer(io);
    while (submitting) {
      timer.expires_after(std::chrono::milliseconds(500));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      const auto now = Clock::now();
      std::vector<Inflight*> stale;
      for (auto& [hash, f] : inflight) {
        if (f.accepted && now - f.sent >= after && !f.tx.hex.empty()) stale.push_back(&f);
      }
      std::sort(stale.begin(), stale.end(),
                [](const Inflight* a, const Inflight* b) { return a->first < b->first; });
      for (Inflight* f : stale) {
        f->sent = now;
        SignedTx tx = f->tx;
        tx.resend = true;
        auto& n = nodes[f->node];
        n.retry.push_back(std::move(tx));
        if (!opts.open_loop) ++n.credit;
        ++report.resent;
      }
      if (!stale.empty()) {
        for (auto& n : nodes) n.wake->notify();
      }
    }
    --live;
    done->notify();
  }

  // Follows the chain on one node (another if it stops answering): every committed block's
  // transaction list marks ours committed. Each next height is long-polled, so a commit is seen
  // within a request's round trip rather than a polling interval.
  Task<void> follower(std::uint64_t from_height) {
    ++live;
    std::size_t node = 0;
    std::optional<AsyncHttpConnection> conn;
    conn.emplace(connect(node));
    open_connections.push_back(&*conn);
    std::uint64_t next = from_height + 1;
    while (following) {
      auto b =
          co_await conn->request(verb::get, "/block/" + std::to_string(next) + "?max_wait_ms=500",
                                 {}, std::chrono::seconds(3));
      if (!following) break;
      if (b && b->status == 200) {
        const auto now = Clock::now();
        auto j = json::parse(b->body, nullptr, false);
        if (j.is_object() && j.contains("txs") && j["txs"].is_array()) {
          for (const auto& h : j["txs"]) {
            if (!h.is_string()) continue;
            if (auto hash = from_hex_fixed<32>(h.get<std::string>())) on_committed(*hash, now);
          }
        }
        report.highest_height = std::max(report.highest_height, next);
        ++next;
        continue;
      }
      if (b && b->status == 404) {
        // Not committed within the long-poll (or, on a pruning node, gone: do not spin).
        if (b->body.find("not committed yet") == std::string::npos) {
          co_await sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      // No answer or an error: follow another node.
      std::erase(open_connections, &*conn);
      node = (node + 1) % opts.nodes.size();
      conn.emplace(connect(node));
      open_connections.push_back(&*conn);
      co_await sleep_for(std::chrono::milliseconds(100));
    }
    std::erase(open_connections, &*conn);
    --live;
    done->notify();
  }

  Task<Result<HttpResponse>> get_json(AsyncHttpConnection& conn, const std::string& target) {
    auto r = co_await conn.request(verb::get, target, {}, std::chrono::seconds(5));
    if (!r) co_return r;
    if (r->status != 200) {
      co_return make_error(Errc::state, "GET " + target + ": " + error_reason(*r));
    }
    co_return r;
  }

  void presign(std::uint64_t total) {
    // Each account's chain of nonces is independent, so accounts are signed in parallel.
    struct Job {
      std::size_t node;
      std::size_t account;
      std::uint64_t count;
      std::vector<SignedTx> out;
    };
    std::vector<Job> jobs;
    const std::size_t n = nodes.size();
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t node_total = total / n + (i < total % n ? 1 : 0);
      const std::size_t k = nodes[i].accounts.size();
      for (std::size_t a = 0; a < k; ++a) {
        jobs.push_back({i, a, node_total / k + (a < node_total % k ? 1 : 0), {}});
      }
    }
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::size_t j = t; j < jobs.size(); j += threads) {
          auto& job = jobs[j];
          auto& acct = nodes[job.node].accounts[job.account];
          job.out.reserve(job.count);
          for (std::uint64_t c = 0; c < job.count; ++c) {
            job.out.push_back(sign_transfer(chain_id, acct.nonce + c, acct.to, 1, acct.key));
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    // Interleave each node's accounts so consecutive submissions come from different senders.
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<Job*> mine;
      for (auto& job : jobs) {
        if (job.node == i) mine.push_back(&job);
      }
      for (std::uint64_t round = 0;; ++round) {
        bool any = false;
        for (Job* job : mine) {
          if (round >= job->out.size()) continue;
          nodes[i].presigned.push_back(std::move(job->out[round]));
          any = true;
        }
        if (!any) break;
      }
      for (Job* job : mine) nodes[i].accounts[job->account].nonce += job->count;
    }
  }
};

SignedLoad::SignedLoad(asio::io_context& io, SignedLoadOptions opts)
    : impl_(std::make_unique<Impl>(io, std::move(opts))) {}

SignedLoad::~SignedLoad() = default;

Task<Status> SignedLoad::prepare(std::function<void(const std::string&)> progress) {
  auto& m = *impl_;
  const auto& o = m.opts;
  if (o.nodes.empty()) co_return make_error(Errc::invalid_argument, "no nodes to load");
  if (o.accounts < o.nodes.size()) {
    co_return make_error(Errc::invalid_argument, "need at least one account per node");
  }
  auto faucet = crypto::load_secp256k1_key_file(o.faucet_key);
  if (!faucet) co_return faucet.error();

  AsyncHttpConnection conn = m.connect(0);
  auto st = co_await m.get_json(conn, "/status");
  if (!st) co_return st.error();
  auto status = parse_node_status(st->body);
  if (!status) co_return status.error();
  m.chain_id = status->chain_id;
  auto acct = co_await m.get_json(conn, "/account/" + faucet->address().to_checksum_hex());
  if (!acct) co_return acct.error();
  auto aj = json::parse(acct->body, nullptr, false);
  if (!aj.is_object() || !aj.contains("nonce") || !aj["nonce"].is_number_unsigned()) {
    co_return make_error(Errc::decode, "GET /account: no nonce in " + acct->body);
  }
  std::uint64_t faucet_nonce = aj["nonce"].get<std::uint64_t>();

  // Accounts: k fresh keys, account i served by node i % n; each pays the next one round a ring.
  std::vector<crypto::Secp256k1Key> keys;
  for (std::size_t i = 0; i < o.accounts; ++i) keys.push_back(crypto::Secp256k1Key::generate());
  m.nodes.resize(o.nodes.size());
  for (auto& n : m.nodes) n.wake = std::make_unique<Notifier>(m.io.get_executor());
  for (std::size_t i = 0; i < o.accounts; ++i) {
    m.nodes[i % o.nodes.size()].accounts.push_back(
        {keys[i], keys[(i + 1) % o.accounts].address(), 0});
  }

  progress("funding " + std::to_string(o.accounts) + " accounts from the faucet " +
           faucet->address().to_checksum_hex());
  const types::Amount grant = types::Amount{1'000'000'000'000'000'000ull} * 100;  // 100 tokens
  for (std::size_t i = 0; i < o.accounts; ++i) {
    auto tx = sign_transfer(m.chain_id, faucet_nonce + i, keys[i].address(), grant, *faucet);
    for (int attempt = 0;; ++attempt) {
      if (m.stopped) co_return make_error(Errc::state, "stopped");
      auto r = co_await conn.request(verb::post, "/tx", tx.body(), std::chrono::seconds(5));
      if (r && r->status == 200) break;
      if (r && r->status != 503) {
        co_return make_error(Errc::state, "funding transfer refused: " + error_reason(*r));
      }
      if (attempt == 100) {
        co_return make_error(Errc::timeout, "funding transfer not accepted: " +
                                                (r ? error_reason(*r) : r.error().message));
      }
      co_await sleep_for(std::chrono::milliseconds(100));
    }
  }
  // Funded when every account shows a balance (a receipt could be misread; balances cannot).
  std::size_t funded = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (funded < keys.size()) {
    if (m.stopped) co_return make_error(Errc::state, "stopped");
    auto r =
        co_await conn.request(verb::get, "/account/" + keys[funded].address().to_checksum_hex(), {},
                              std::chrono::seconds(5));
    if (r && r->status == 200) {
      auto j = json::parse(r->body, nullptr, false);
      if (j.is_object() && j.value("balance", "0") != "0") {
        ++funded;
        continue;
      }
    }
    if (Clock::now() > deadline) {
      co_return make_error(Errc::timeout, "funding not committed within 60 s (" +
                                              std::to_string(funded) + " of " +
                                              std::to_string(keys.size()) + " accounts funded)");
    }
    co_await sleep_for(std::chrono::milliseconds(100));
  }

  if (o.presign) {
    const std::uint64_t total =
        o.presign_count ? o.presign_count
                        : static_cast<std::uint64_t>(std::ceil(o.rate * o.duration_s * 1.02)) + 16;
    progress("signing " + std::to_string(total) + " transactions in advance");
    m.presign(total);
  }
  co_return Status{};
}

Task<SignedLoadReport> SignedLoad::run() {
  auto& m = *impl_;
  auto ex = m.io.get_executor();
  std::uint64_t from_height = 0;
  {
    AsyncHttpConnection conn = m.connect(0);
    auto st = co_await m.get_json(conn, "/status");
    if (st) {
      if (auto s = parse_node_status(st->body)) from_height = s->height;
    }
  }
  const auto start = Clock::now();
  m.start = start;
  const auto end = m.opts.duration_s > 0
                       ? start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(m.opts.duration_s))
                       : Clock::time_point::max();
  m.submitting = !m.stopped;
  m.following = !m.stopped;
  asio::co_spawn(ex, m.follower(from_height), asio::detached);
  if (!m.opts.open_loop) asio::co_spawn(ex, m.pacer(start, end), asio::detached);
  if (m.opts.resend_after_s > 0) asio::co_spawn(ex, m.resender(), asio::detached);
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    for (std::size_t c = 0; c < m.opts.connections_per_node; ++c) {
      asio::co_spawn(ex, m.submitter(i), asio::detached);
    }
  }
  // The load runs until the end, stop(), or (presigned) every transaction was submitted.
  while (m.submitting && Clock::now() < end) {
    const auto left = end - Clock::now();
    co_await sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(100)));
    if (m.opts.presign) {
      bool exhausted = true;
      for (const auto& n : m.nodes) exhausted = exhausted && n.presigned.empty() && n.retry.empty();
      if (exhausted) break;
    }
  }
  m.window_end = Clock::now();
  m.resend_only = true;
  // A node's credit is what the pacer released and nobody took yet, plus one per refused
  // transaction waiting in its retry queue; those are sent again during the drain.
  for (auto& n : m.nodes) {
    if (!m.opts.open_loop) {
      m.report.unsent += n.credit - std::min<std::uint64_t>(n.credit, n.retry.size());
      n.credit = n.retry.size();
    }
    n.wake->notify();
  }
  const auto drain_end = m.window_end + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(m.opts.drain_s));
  while (!m.stopped && !m.inflight.empty() && Clock::now() < drain_end) {
    co_await sleep_for(std::chrono::milliseconds(50));
  }
  m.submitting = false;
  for (auto& n : m.nodes) n.wake->notify();
  m.following = false;
  for (auto* c : m.open_connections) c->close();
  while (m.live > 0) co_await m.done->wait();

  auto& r = m.report;
  r.window_s = std::chrono::duration<double>(m.window_end - start).count();
  if (m.opts.open_loop) r.offered = r.accepted;
  r.committed = m.committed_total;
  // Refused and still not admitted when the drain ended: never accepted, so not lost.
  for (auto& n : m.nodes) {
    for (const auto& tx : n.retry) {
      if (tx.resend) continue;  // accepted before: lost, if it did not commit
      m.inflight.erase(tx.hash);
      if (!m.opts.open_loop) ++r.unsent;
    }
    n.retry.clear();
  }
  r.lost = m.inflight.size();
  r.latency = m.latencies.summary();
  co_return r;
}

void SignedLoad::stop() {
  auto& m = *impl_;
  m.stopped = true;
  m.submitting = false;
  m.following = false;
  for (auto& n : m.nodes) n.wake->notify();
  for (auto* c : m.open_connections) c->close();
}

LoadWindow SignedLoad::take_window() {
  LoadWindow w = std::move(impl_->window);
  impl_->window = {};
  return w;
}

std::uint64_t SignedLoad::committed_total() const {
  return impl_->committed_total;
}

}  // namespace ol::node::tools
