#include "node/rpc_server.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "crypto/hash.h"
#include "node/chain_store.h"

namespace ol::node {

// An answer to one request.
struct RpcReply {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string body;
  std::string content_type = "application/json";
  const char* allow = nullptr;  // for 405
  /// > 0: the answer may change with the next commit (not committed yet, nothing new yet) and
  /// the request asked to long-poll this many ms (serve() waits for a commit and asks again,
  /// until the deadline).
  std::uint64_t wait_for_commit_ms = 0;
  /// Set: the answer is this function's result, computed off the io thread (RpcContext::offload).
  std::function<RpcReply()> offload = {};
};

namespace {

namespace asio = p2p::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using p2p::tcp;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr std::uint64_t kMaxLongPollMs = 5000;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// Connections over RpcContext::max_connections being answered 503 at once; beyond, they are
// closed unanswered.
constexpr std::size_t kMaxRefusing = 32;

using Reply = RpcReply;

Reply json_reply(const json& j, http::status status = http::status::ok) {
  return Reply{status, j.dump(), "application/json", nullptr};
}
Reply error_reply(http::status status, const std::string& message) {
  return json_reply(json{{"error", message}}, status);
}
Reply method_not_allowed(const char* allow) {
  Reply r = error_reply(http::status::method_not_allowed, "method not allowed");
  r.allow = allow;
  return r;
}

std::string hex0x(ByteView v) {
  return to_hex(v, true);
}

/// The query parameter `name` as a u64; nullopt if absent; error if malformed.
Result<std::optional<std::uint64_t>> query_u64(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    if (eq == std::string_view::npos) break;
    std::string_view value = pair.substr(eq + 1);
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
      return make_error(Errc::invalid_argument,
                        "query parameter '" + std::string(name) + "' must be an unsigned integer");
    }
    return std::optional<std::uint64_t>(v);
  }
  return std::optional<std::uint64_t>{};
}

/// The optional `max_wait_ms` of a long-poll (0 when absent), at most kMaxLongPollMs.
Result<std::uint64_t> long_poll_ms(std::string_view query) {
  auto wait = query_u64(query, "max_wait_ms");
  if (!wait) return wait.error();
  if (wait->value_or(0) > kMaxLongPollMs) {
    return make_error(Errc::invalid_argument, "max_wait_ms must be <= 5000");
  }
  return wait->value_or(0);
}

// One transaction's admission: its hash (also for a copy already pooled or recently committed:
// resubmission is idempotent), or why not.
struct Admission {
  http::status status = http::status::ok;
  std::optional<Hash32> hash;  // absent when the bytes are not a transaction
  std::string error;           // empty when admitted
  bool pooled = false;         // newly pooled here (so to be published), not a copy
  // Pooled, but a lower nonce of its sender is missing: the nonce it waits for.
  std::optional<std::uint64_t> waiting_for_nonce = std::nullopt;
};

// Admits transactions as POST /tx and /txs do. Holds only the node's thread-safe parts, so it may
// run on any thread (an offloaded batch runs on the verifier).
class Admitter {
 public:
  explicit Admitter(const RpcContext& ctx)
      : mempool_(ctx.mempool),
        tx_status_(ctx.tx_status),
        metrics_(ctx.metrics),
        transport_(ctx.transport),
        payload_ready_(ctx.payload_ready) {}

  /// Admits one transaction, as POST /tx does, and publishes it if it is new here.
  Admission admit(Bytes raw) {
    Admission a = check(raw);
    if (a.pooled) transport_->publish_transaction(std::move(raw));
    if (a.error.empty() && payload_ready_ != nullptr) payload_ready_->notify();
    return a;
  }

  /// Admits each in order and answers for each, as POST /txs does; the new ones are published
  /// together.
  Reply admit_all(std::vector<Bytes> raws) {
    json results = json::array();
    std::vector<Bytes> pooled;
    std::size_t accepted = 0;  // a copy of a known transaction counts, as in POST /tx
    for (auto& raw : raws) {
      Admission a = check(raw);
      json r = json::object();
      if (a.hash) r["hash"] = hex0x(*a.hash);
      if (a.waiting_for_nonce) r["waiting_for_nonce"] = *a.waiting_for_nonce;
      if (a.error.empty()) {
        ++accepted;
      } else {
        r["error"] = a.error;
      }
      results.push_back(std::move(r));
      if (a.pooled) pooled.push_back(std::move(raw));
    }
    if (!pooled.empty()) transport_->publish_transactions(std::move(pooled));
    if (accepted > 0 && payload_ready_ != nullptr) payload_ready_->notify();
    return json_reply(json{{"accepted", accepted}, {"results", std::move(results)}});
  }

 private:
  Admission check(const Bytes& raw) {
    auto pooled = mempool_->add_encoded(raw);
    if (!pooled) {
      const Error& e = pooled.error();
      const bool decoded = e.code != Errc::decode &&
                           !(e.code == Errc::limit && e.message.starts_with("transaction too"));
      const Hash32 hash = crypto::keccak256(raw);
      if (mempool::is_duplicate(e)) return Admission{http::status::ok, hash, {}};
      metrics_->tx_rejected_total.fetch_add(1);
      if (decoded) tx_status_->reject(hash, e.message);
      if (e.code == Errc::limit && e.message.starts_with("mempool full")) {
        return Admission{http::status::service_unavailable, hash, e.message};
      }
      return Admission{http::status::bad_request, decoded ? std::optional(hash) : std::nullopt,
                       e.message};
    }
    const Hash32 hash = (*pooled)->hash;
    return Admission{http::status::ok, hash, {}, true, mempool_->missing_nonce(hash)};
  }

  mempool::Mempool* mempool_;
  TxStatusBook* tx_status_;
  Metrics* metrics_;
  Transport* transport_;
  WakeSignal* payload_ready_;
};

class Router {
 public:
  Router(const RpcContext& ctx, std::shared_ptr<std::atomic<std::size_t>> offloaded,
         network::TokenBucket* inline_budget)
      : ctx_(ctx), offloaded_(std::move(offloaded)), inline_budget_(inline_budget) {}

  Reply route(http::verb method, std::string_view path, std::string_view query,
              const std::string& body) {
    if (path == "/tx") {
      if (method != http::verb::post) return method_not_allowed("POST");
      return submit_tx(body);
    }
    if (path == "/txs") {
      if (method != http::verb::post) return method_not_allowed("POST");
      return submit_txs(body);
    }
    if (path.starts_with("/tx/")) {
      if (method != http::verb::get) return method_not_allowed("GET");
      return get_tx(path.substr(4), query);
    }
    if (path == "/status") {
      if (method != http::verb::get) return method_not_allowed("GET");
      return status();
    }
    if (path.starts_with("/block/")) {
      if (method != http::verb::get) return method_not_allowed("GET");
      return block(path.substr(7), query);
    }
    if (path.starts_with("/account/")) {
      if (method != http::verb::get) return method_not_allowed("GET");
      return account(path.substr(9));
    }
    if (path == "/metrics") {
      if (method != http::verb::get) return method_not_allowed("GET");
      return metrics();
    }
    if (path == "/bench/commits") {
      if (method != http::verb::get) return method_not_allowed("GET");
      return bench_commits(query);
    }
    if (path == "/bench/commands") {
      if (method != http::verb::post) return method_not_allowed("POST");
      return bench_commands(query, body);
    }
    return error_reply(http::status::not_found, "no such path");
  }

 private:
  // The 0x-hex transaction in `v` (a JSON value named `what` in errors).
  static Result<Bytes> tx_bytes(const json& v, const std::string& what) {
    if (!v.is_string()) return make_error(Errc::invalid_argument, what + " must be a string");
    const std::string& text = v.get_ref<const std::string&>();
    if (!text.starts_with("0x")) {
      return make_error(Errc::invalid_argument, what + " must be 0x-prefixed hex");
    }
    auto raw = from_hex(text);
    if (!raw) return make_error(Errc::invalid_argument, what + ": " + raw.error().message);
    return std::move(*raw);
  }

  // Refusals that concern a whole submission before any transaction is looked at.
  std::optional<Reply> refuse_submission() {
    if (ctx_.commands_mode) {
      return error_reply(http::status::conflict,
                         "this node orders benchmark commands, not transactions");
    }
    if (ctx_.verify_backlog && ctx_.busy_backlog > 0) {
      if (const std::size_t backlog = ctx_.verify_backlog(); backlog >= ctx_.busy_backlog) {
        ctx_.metrics->tx_busy_total.fetch_add(1);
        return error_reply(http::status::service_unavailable,
                           "busy: " + std::to_string(backlog) +
                               " gossiped transactions await signature checks here; retry later");
      }
    }
    return std::nullopt;
  }

  Reply submit_tx(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return error_reply(http::status::bad_request, "body must be a JSON object {\"tx\": \"0x…\"}");
    }
    auto it = j.find("tx");
    if (it == j.end() || !it->is_string()) {
      return error_reply(http::status::bad_request, "missing string field 'tx'");
    }
    auto raw = tx_bytes(*it, "'tx'");
    if (!raw) return error_reply(http::status::bad_request, raw.error().message);
    if (auto refused = refuse_submission()) return std::move(*refused);
    return admit_here_or_offload(1, [raw = std::move(*raw)](Admitter& admitter) mutable {
      Admission a = admitter.admit(std::move(raw));
      if (!a.error.empty()) return error_reply(a.status, a.error);
      json out{{"hash", hex0x(*a.hash)}};
      if (a.waiting_for_nonce) out["waiting_for_nonce"] = *a.waiting_for_nonce;
      return json_reply(out);
    });
  }

  // Many transactions in one request (a market maker's quotes): each is admitted or refused on
  // its own, in order, as POST /tx would; a malformed body admits none.
  Reply submit_txs(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return error_reply(http::status::bad_request,
                         "body must be a JSON object {\"txs\": [\"0x…\", …]}");
    }
    auto it = j.find("txs");
    if (it == j.end() || !it->is_array() || it->empty()) {
      return error_reply(http::status::bad_request, "missing non-empty array field 'txs'");
    }
    if (it->size() > RpcServer::kMaxSubmitBatch) {
      return error_reply(http::status::bad_request,
                         "'txs' holds " + std::to_string(it->size()) + " transactions; at most " +
                             std::to_string(RpcServer::kMaxSubmitBatch) + " per request");
    }
    std::vector<Bytes> raws;
    raws.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto raw = tx_bytes((*it)[i], "'txs[" + std::to_string(i) + "]'");
      if (!raw) return error_reply(http::status::bad_request, raw.error().message);
      raws.push_back(std::move(*raw));
    }
    if (auto refused = refuse_submission()) return std::move(*refused);
    const std::size_t n = raws.size();
    return admit_here_or_offload(n, [raws = std::move(raws)](Admitter& admitter) mutable {
      return admitter.admit_all(std::move(raws));
    });
  }

  // Runs `admit` (n signature recoveries) here, on the io thread, if the submission is small and
  // the inline budget allows it; otherwise on the offload thread, bounded, so that clients cannot
  // queue recoveries without end.
  Reply admit_here_or_offload(std::size_t n, std::function<Reply(Admitter&)> admit) {
    const auto now = network::TokenBucket::Clock::now();
    const bool here =
        !ctx_.offload || (n <= RpcServer::kInlineSubmitTxs && ctx_.inline_recoveries_per_sec > 0 &&
                          inline_budget_->available(static_cast<double>(n), now));
    if (here) {
      if (ctx_.offload) inline_budget_->take(static_cast<double>(n));
      Admitter admitter(ctx_);
      return admit(admitter);
    }
    if (offloaded_->fetch_add(n) + n > RpcServer::kMaxOffloadedTxs) {
      const std::size_t waiting = offloaded_->fetch_sub(n) - n;
      ctx_.metrics->tx_busy_total.fetch_add(n);
      return error_reply(http::status::service_unavailable,
                         "busy: " + std::to_string(waiting) +
                             " submitted transactions await signature checks here; retry later");
    }
    Reply r;
    // The count is released when the last copy of the job goes: after it ran, or unrun (the
    // offload refused it, or the node stopped with it queued).
    struct Release {
      Release(std::shared_ptr<std::atomic<std::size_t>> c, std::size_t k)
          : counter(std::move(c)), n(k) {}
      ~Release() { counter->fetch_sub(n); }
      std::shared_ptr<std::atomic<std::size_t>> counter;
      std::size_t n;
    };
    ctx_.metrics->rpc_offloaded_txs_total.fetch_add(n);
    r.offload = [admitter = Admitter(ctx_), admit = std::move(admit),
                 release = std::make_shared<Release>(offloaded_, n)]() mutable {
      Reply done = admit(admitter);
      release.reset();
      return done;
    };
    return r;
  }

  Reply get_tx(std::string_view text, std::string_view query) {
    auto wait = long_poll_ms(query);
    if (!wait) return error_reply(http::status::bad_request, wait.error().message);
    if (!text.starts_with("0x")) {
      return error_reply(http::status::bad_request, "transaction hash must be 0x-prefixed hex");
    }
    auto hash = from_hex_fixed<32>(text);
    if (!hash) return error_reply(http::status::bad_request, "hash: " + hash.error().message);
    json j{{"hash", hex0x(*hash)}};
    auto fill = [&](const TxStatus& s) {
      j["status"] = to_string(s.state);
      if (s.state == TxState::committed || s.state == TxState::failed) j["height"] = s.height;
      if (!s.reason.empty()) j["reason"] = s.reason;
      return json_reply(j);
    };
    // Where the transaction is says what it is: a receipt in the store (committed or failed),
    // the pool (pending), or only this node's record of refusing it.
    auto record = load_tx_record(*ctx_.store, *hash);
    if (!record) return error_reply(http::status::internal_server_error, record.error().message);
    if (*record) {
      const TxRecord& r = **record;
      if (r.outcome == execution::TxOutcome::success) {
        return fill(TxStatus{TxState::committed, r.height, {}});
      }
      return fill(TxStatus{TxState::failed, r.height,
                           std::string(execution::to_string(r.outcome)) + ": " + r.detail});
    }
    // Pending or unknown (perhaps still on its way here) may change with the next commit.
    Reply r = error_reply(http::status::not_found, "unknown transaction");
    if (ctx_.mempool->find(*hash)) {
      // Pending, and perhaps not executable yet: say which nonce of its sender it waits for.
      if (auto missing = ctx_.mempool->missing_nonce(*hash)) j["waiting_for_nonce"] = *missing;
      r = fill(TxStatus{TxState::pending, 0, {}});
    } else if (auto reason = ctx_.tx_status->rejection(*hash)) {
      return fill(TxStatus{TxState::rejected, 0, std::move(*reason)});
    }
    r.wait_for_commit_ms = *wait;
    return r;
  }

  Reply status() {
    const CoreStatus s = ctx_.core_status();
    const NetworkStats net = ctx_.transport->stats();
    json j{{"chain_id", ctx_.chain_id},
           {"height", s.height},
           {"round", s.round},
           {"leader", s.leader},
           {"last_commit_ms", s.last_commit_ms},
           {"peers", net.peers},
           {"validator_peers", net.validator_peers},
           {"partitioned", net.partitioned},
           {"syncing", s.syncing},
           {"mempool_size", pool_size()},
           {"state_root", hex0x(s.state_root)}};
    if (ctx_.node_index) j["node_index"] = *ctx_.node_index;
    j["validator"] = ctx_.node_index.has_value();
    if (ctx_.sync_phase) j["sync_phase"] = ctx_.sync_phase();
    return json_reply(j);
  }

  std::size_t pool_size() const {
    return ctx_.commands_mode ? ctx_.commands->size() : ctx_.mempool->size();
  }

  Reply block(std::string_view key, std::string_view query) {
    auto wait = long_poll_ms(query);
    if (!wait) return error_reply(http::status::bad_request, wait.error().message);
    Result<std::optional<types::Block>> found = std::optional<types::Block>{};
    if (key.starts_with("0x")) {
      auto id = from_hex_fixed<32>(key);
      if (!id) return error_reply(http::status::bad_request, "block hash: " + id.error().message);
      found = load_block(*ctx_.store, *id);
      if (found.ok() && *found) {
        auto committed = is_committed(*ctx_.store, *id, (*found)->height);
        if (!committed) {
          return error_reply(http::status::internal_server_error, committed.error().message);
        }
        if (!*committed) found = std::optional<types::Block>{};  // not (yet) part of the chain
      }
    } else {
      std::uint64_t height = 0;
      auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), height);
      if (key.empty() || ec != std::errc() || end != key.data() + key.size()) {
        return error_reply(http::status::bad_request,
                           "block key must be a height or a 0x-prefixed hash");
      }
      found = load_committed_block(*ctx_.store, height);
      if (found.ok() && !*found && height > ctx_.core_status().height) {
        Reply r = error_reply(http::status::not_found,
                              "height " + std::to_string(height) + " is not committed yet");
        r.wait_for_commit_ms = *wait;
        return r;
      }
    }
    if (!found) return error_reply(http::status::internal_server_error, found.error().message);
    if (!*found) return error_reply(http::status::not_found, "unknown or pruned block");
    const types::Block& b = **found;
    const Hash32 id = b.compute_id();
    json txs = json::array();
    std::size_t count = 0;
    if (const auto* list = std::get_if<std::vector<types::Transaction>>(&b.payload)) {
      for (const auto& tx : *list) txs.push_back(hex0x(tx.hash()));
      count = list->size();
    }
    json anchored = json::array();
    for (const auto& r : b.exec_roots) anchored.push_back(hex0x(r));
    json j{{"id", hex0x(id)},
           {"height", b.height},
           {"round", b.round},
           {"parent_id", hex0x(b.parent_id)},
           {"proposer", b.proposer},
           {"timestamp_ms", b.timestamp_ms},
           {"exec_height", b.exec_height},
           {"exec_roots", std::move(anchored)},
           {"tx_count", count},
           {"txs", std::move(txs)}};
    if (const auto* cmds = std::get_if<std::vector<types::Command>>(&b.payload)) {
      j["command_count"] = cmds->size();
    }
    auto qc = load_qc(*ctx_.store, id);
    if (!qc) return error_reply(http::status::internal_server_error, qc.error().message);
    if (*qc) {
      j["qc"] = json{{"round", (*qc)->round}, {"signers", (*qc)->signature.signers()}};
    }
    return json_reply(j);
  }

  Reply account(std::string_view text) {
    auto address = crypto::Address::parse(text);
    if (!address) return error_reply(http::status::bad_request, address.error().message);
    const execution::Account a = ctx_.ledger->account(*address);
    return json_reply(json{{"address", address->to_checksum_hex()},
                           {"balance", types::amount_to_string(a.balance)},
                           {"nonce", a.nonce}});
  }

  Reply metrics() {
    const NetworkStats net = ctx_.transport->stats();
    MetricGauges g;
    g.mempool_size = pool_size();
    g.mempool_future = ctx_.commands_mode ? 0 : ctx_.mempool->future_size();
    if (ctx_.store != nullptr) g.memtable_bytes = ctx_.store->memtable_bytes();
    g.peers = net.peers;
    g.validator_peers = net.validator_peers;
    g.partitioned = net.partitioned;
    g.net_messages_in = net.messages_in;
    g.net_messages_out = net.messages_out;
    g.net_bytes_in = net.bytes_in;
    g.net_bytes_out = net.bytes_out;
    return Reply{http::status::ok, ctx_.metrics->render(g), "text/plain; version=0.0.4", nullptr};
  }

  // Commits after height `after`, encoded by BenchCommitLog; an empty body (nothing yet)
  // long-polls with max_wait_ms.
  Reply bench_commits(std::string_view query) {
    if (!ctx_.commands_mode) {
      return error_reply(http::status::conflict,
                         "benchmark mode is off (set consensus.payload = \"commands\")");
    }
    auto after = query_u64(query, "after");
    auto wait = long_poll_ms(query);
    if (!after || !wait) {
      return error_reply(http::status::bad_request,
                         (!after ? after.error() : wait.error()).message);
    }
    const Bytes body = ctx_.bench_log->encode_after(after->value_or(0));
    Reply r{http::status::ok, std::string(body.begin(), body.end()), "application/octet-stream",
            nullptr};
    if (body.empty()) r.wait_for_commit_ms = *wait;
    return r;
  }

  Reply bench_commands(std::string_view query, const std::string& body) {
    if (!ctx_.commands_mode) {
      return error_reply(http::status::conflict,
                         "benchmark mode is off (set consensus.payload = \"commands\")");
    }
    auto size = query_u64(query, "size");
    if (!size) return error_reply(http::status::bad_request, size.error().message);
    if (!*size || **size < CommandPool::kMinCommandSize || **size > CommandPool::kMaxCommandSize) {
      return error_reply(http::status::bad_request, "size must be given, 8 <= size <= 4096");
    }
    if (body.empty() || body.size() % **size != 0) {
      return error_reply(http::status::bad_request,
                         "body must be a whole, non-zero number of commands of `size` bytes");
    }
    if (!ctx_.commands->add(as_bytes(body), **size)) {
      return error_reply(http::status::service_unavailable, "command pool full");
    }
    return json_reply(json{{"accepted", body.size() / **size}});
  }

  const RpcContext& ctx_;
  std::shared_ptr<std::atomic<std::size_t>> offloaded_;
  network::TokenBucket* inline_budget_;  // the server's; this runs on the io thread
};

}  // namespace

RpcServer::RpcServer(asio::io_context& io, RpcContext context)
    : io_(io),
      ctx_(std::move(context)),
      acceptor_(io),
      inline_budget_(static_cast<double>(ctx_.inline_recoveries_per_sec),
                     network::TokenBucket::Clock::now()) {}

RpcServer::~RpcServer() = default;

Result<std::shared_ptr<RpcServer>> RpcServer::start(asio::io_context& io, const std::string& listen,
                                                    RpcContext context) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(Errc::invalid_argument, "rpc.listen must be host:port, got " + listen);
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::uint32_t port = 0;
  const std::string port_text = listen.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return make_error(Errc::invalid_argument, "rpc.listen has a bad port: " + listen);
  }
  boost::system::error_code err;
  auto address = asio::ip::make_address(host, err);
  if (err) return make_error(Errc::invalid_argument, "rpc.listen needs an IP address: " + listen);

  std::shared_ptr<RpcServer> server(new RpcServer(io, std::move(context)));
  tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
  server->acceptor_.open(endpoint.protocol(), err);
  if (!err) server->acceptor_.set_option(asio::socket_base::reuse_address(true), err);
  if (!err) server->acceptor_.bind(endpoint, err);
  if (!err) server->acceptor_.listen(asio::socket_base::max_listen_connections, err);
  if (err) return make_error(Errc::io, "rpc: cannot listen on " + listen + ": " + err.message());
  server->port_ = server->acceptor_.local_endpoint().port();
  asio::co_spawn(io, server->accept_loop(), asio::detached);
  return server;
}

void RpcServer::stop() {
  asio::post(io_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    for (auto* t : self->waiters_) t->cancel();
    for (auto* s : self->sockets_) {
      s->shutdown(tcp::socket::shutdown_both, ec);
      s->close(ec);
    }
  });
}

void RpcServer::notify_commit() {
  asio::post(io_, [self = shared_from_this()] {
    for (auto* t : self->waiters_) t->cancel();
  });
}

p2p::Task<void> RpcServer::wait_for_commit(p2p::Clock::time_point deadline) {
  asio::steady_timer timer(io_);
  timer.expires_at(deadline);
  waiters_.insert(&timer);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  waiters_.erase(&timer);
}

p2p::Task<void> RpcServer::accept_loop() {
  auto self = shared_from_this();
  bool failing = false;  // log the first accept error of a run of them only
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) break;
      // E.g. out of file descriptors. The connection stays queued, so accepting again at once
      // would fail at once, forever, on the io thread that also carries consensus: keep serving
      // the connections we have and try again a little later.
      ctx_.metrics->rpc_accept_errors_total.fetch_add(1);
      if (!failing) spdlog::warn("rpc: accept failed: {}; retrying every 100 ms", ec.message());
      failing = true;
      asio::steady_timer pause(io_, kAcceptRetry);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (failing) spdlog::info("rpc: accepting connections again");
    failing = false;
    if (serving_ >= ctx_.max_connections) {
      ctx_.metrics->rpc_refused_total.fetch_add(1);
      if (refusing_ < kMaxRefusing) {
        ++refusing_;
        asio::co_spawn(io_, refuse(std::move(socket)), asio::detached);
      }  // else a flood: the socket closes here, unanswered
      continue;
    }
    ++serving_;
    ctx_.metrics->rpc_connections.store(serving_);
    // A reply larger than one segment (a block's transaction list) ends in a partial segment,
    // which Nagle's algorithm would hold until the client acknowledges the rest: up to a delayed
    // ACK (40 ms) added to a long-poll's answer. Every reply is one write, so nothing is gained
    // by waiting.
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

namespace {

// Lingering close: a client still sending (e.g. the rest of a body refused with 413) would get a
// reset, and could lose our reply, if we closed with its bytes unread. Shut down our side and
// drain its bytes, bounded in time and bytes, until it closes too.
p2p::Task<void> linger(beast::tcp_stream& stream, const bool& stopped) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (stopped) co_return;
  std::string sink(16 * 1024, '\0');
  std::size_t drained = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (drained < RpcServer::kMaxBodyBytes * 4) {
    drained += co_await stream.async_read_some(asio::buffer(sink),
                                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped) break;
  }
}

}  // namespace

p2p::Task<void> RpcServer::refuse(tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  auto* raw_socket = &stream.socket();
  sockets_.insert(raw_socket);
  http::response<http::string_body> res{http::status::service_unavailable, 11};
  res.set(http::field::server, "openliquid");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = json{{"error", "too many connections: " + std::to_string(serving_) +
                                  " open to this node's RPC; retry later"}}
                   .dump();
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(2));
  boost::system::error_code ec;
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await linger(stream, stopped_);
  sockets_.erase(raw_socket);
  --refusing_;
}

// The answer `work` computes on the offload thread. The job holds only `work` and the shared
// result: when it is done it posts the result here and wakes this coroutine, whose timer is
// registered with the long-polls' so that stop() wakes it too (the job may then never run).
p2p::Task<RpcReply> RpcServer::offloaded(std::function<RpcReply()> work) {
  struct Result {
    std::optional<Reply> reply;
    asio::steady_timer* wake = nullptr;  // while the coroutine waits; io thread only
  };
  auto result = std::make_shared<Result>();
  asio::steady_timer timer(io_, asio::steady_timer::time_point::max());
  auto job = [work = std::move(work), result, &io = io_]() mutable {
    auto reply = work();
    asio::post(io, [result, reply = std::move(reply)]() mutable {
      result->reply = std::move(reply);
      if (result->wake != nullptr) result->wake->cancel();
    });
  };
  if (stopped_ || !ctx_.offload(std::move(job))) {
    co_return error_reply(http::status::service_unavailable,
                          "busy: this node cannot check more transactions now; retry later");
  }
  result->wake = &timer;
  waiters_.insert(&timer);
  while (!result->reply && !stopped_) {
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  waiters_.erase(&timer);
  result->wake = nullptr;
  if (!result->reply) co_return error_reply(http::status::service_unavailable, "node stopping");
  co_return std::move(*result->reply);
}

// GCC 12 misreads Boost 1.74's recycling allocator for coroutine frames (operator new/delete of
// awaitable_frame_base) as a mismatch; the pair is correct.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
p2p::Task<void> RpcServer::serve(tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  auto* raw_socket = &stream.socket();
  sockets_.insert(raw_socket);
  beast::flat_buffer buffer;
  Router router(ctx_, offloaded_txs_, &inline_budget_);
  for (;;) {
    boost::system::error_code ec;
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    parser.header_limit(kMaxHeaderBytes);
    stream.expires_after(kIdleTimeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    Reply reply;
    bool keep_alive = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::eof ||
        ec == asio::error::operation_aborted) {
      break;
    }
    if (ec == http::error::body_limit) {
      reply = error_reply(http::status::payload_too_large, "body above 1 MiB");
    } else if (ec == http::error::header_limit) {
      reply = error_reply(http::status::request_header_fields_too_large, "headers above 16 KiB");
    } else if (ec) {
      reply = error_reply(http::status::bad_request, "malformed HTTP request: " + ec.message());
    } else {
      auto& req = parser.get();
      keep_alive = req.keep_alive();
      std::string_view target(req.target().data(), req.target().size());
      const auto qmark = target.find('?');
      std::string_view path = target.substr(0, qmark);
      std::string_view query =
          qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
      reply = router.route(req.method(), path, query, req.body());
      if (reply.offload) reply = co_await offloaded(std::move(reply.offload));
      // A long-poll for what is not committed yet (GET /block/<height>, /tx/0x<hash> or
      // /bench/commits with max_wait_ms=W): ask again after each commit until it is there or
      // the deadline passes.
      if (reply.wait_for_commit_ms > 0) {
        const auto deadline =
            p2p::Clock::now() + std::chrono::milliseconds(reply.wait_for_commit_ms);
        while (reply.wait_for_commit_ms > 0 && !stopped_ && p2p::Clock::now() < deadline) {
          co_await wait_for_commit(deadline);
          reply = router.route(req.method(), path, query, req.body());
        }
      }
    }
    if (stopped_) break;
    http::response<http::string_body> res{reply.status, 11};
    res.set(http::field::server, "openliquid");
    res.set(http::field::content_type, reply.content_type);
    if (reply.allow != nullptr) res.set(http::field::allow, reply.allow);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  co_await linger(stream, stopped_);
  sockets_.erase(raw_socket);
  --serving_;
  ctx_.metrics->rpc_connections.store(serving_);
}

#pragma GCC diagnostic pop

}  // namespace ol::node
