// The node's HTTP/JSON RPC (docs/RPC.md) on Boost.Beast, served from the io thread.
//
// Every request is bounded (1 MiB body, 16 KiB of headers); a malformed or refused request gets a
// 4xx JSON error and changes nothing. Connections are kept alive until the client closes them or
// stays idle for 60 s. A POST /tx's admission (one signature recovery) runs on the io thread; a
// POST /txs of more than kInlineSubmitTxs transactions is admitted off it (RpcContext::offload),
// so that a batch's recoveries (up to 1,000 of them, ~40 ms) do not hold up the io thread's other
// work, the node's network traffic among it. Never on the core thread. GET /bench/commits, and GET
// /block/<height> and /tx/0x<hash> with max_wait_ms=W, long-poll without holding a thread: they
// wait on a timer that notify_commit() cancels.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "execution/ledger.h"
#include "mempool/mempool.h"
#include "network/rate_limit.h"
#include "node/command_pool.h"
#include "node/core.h"
#include "node/metrics.h"
#include "node/transport.h"
#include "node/tx_status.h"
#include "p2p/asio.h"
#include "storage/store.h"

namespace ol::node {

struct RpcReply;  // rpc_server.cpp

/// What the RPC reads and writes; everything must outlive the server. All of it is thread-safe.
struct RpcContext {
  std::uint64_t chain_id = 0;
  std::optional<types::ValidatorIndex> node_index;
  bool commands_mode = false;
  const storage::Store* store = nullptr;
  const execution::Ledger* ledger = nullptr;
  mempool::Mempool* mempool = nullptr;
  CommandPool* commands = nullptr;
  const BenchCommitLog* bench_log = nullptr;
  TxStatusBook* tx_status = nullptr;
  Metrics* metrics = nullptr;
  Transport* transport = nullptr;
  WakeSignal* payload_ready = nullptr;
  std::function<CoreStatus()> core_status;
  /// The node's sync phase (starting, state_sync, block_sync, consensus, following); may be empty.
  std::function<std::string()> sync_phase;
  /// Gossiped transactions waiting for this node's verifier; at `busy_backlog` or more, POST /tx
  /// answers 503 "busy" before any signature recovery (the network is not keeping up with
  /// verification).
  std::function<std::size_t()> verify_backlog;
  std::size_t busy_backlog = 0;
  /// Runs `job` on another thread (the node's verifier); false if it cannot take it now (the
  /// request is then answered 503 busy). Jobs still queued when the server stops must run or be
  /// dropped before the server is destroyed. Empty: batches are admitted on the io thread.
  std::function<bool(std::function<void()>)> offload;
  /// Open HTTP connections at most; a connection beyond it is answered 503 and closed, so that
  /// RPC clients cannot take the file descriptors the node's peers and storage need.
  std::size_t max_connections = 1024;
  /// Signature recoveries the RPC may run on the io thread per second (burst: one second's
  /// worth). A submission beyond them is admitted on the offload thread as a large batch is, so
  /// that a flood of submissions, good or bad, cannot fill the io thread that also carries the
  /// node's p2p traffic. 0 = every submission is offloaded.
  std::size_t inline_recoveries_per_sec = 2000;
};

class RpcServer : public std::enable_shared_from_this<RpcServer> {
 public:
  static constexpr std::size_t kMaxBodyBytes = 1u << 20;
  /// Transactions in one POST /txs.
  static constexpr std::size_t kMaxSubmitBatch = 1000;
  /// A POST /txs of at most this many transactions is admitted on the io thread (a few hundred
  /// microseconds); a larger one is offloaded.
  static constexpr std::size_t kInlineSubmitTxs = 8;
  /// Transactions of offloaded POST /tx and /txs requests not yet admitted; more are refused
  /// with 503 busy (~160 ms of signature recovery).
  static constexpr std::size_t kMaxOffloadedTxs = 4 * kMaxSubmitBatch;

  /// Listens on "host:port" (port 0 picks a free one). Io thread.
  static Result<std::shared_ptr<RpcServer>> start(p2p::asio::io_context& io,
                                                  const std::string& listen, RpcContext context);
  ~RpcServer();

  std::uint16_t port() const { return port_; }
  /// Stops accepting, ends long-polls and closes open connections. Thread-safe; idempotent.
  void stop();
  /// A block committed: wake long-polling requests. Thread-safe.
  void notify_commit();

 private:
  struct Session;
  RpcServer(p2p::asio::io_context& io, RpcContext context);
  p2p::Task<void> accept_loop();
  p2p::Task<void> serve(p2p::tcp::socket socket);
  /// Answers a connection over RpcContext::max_connections with 503 and closes it.
  p2p::Task<void> refuse(p2p::tcp::socket socket);
  /// Until notify_commit(), stop() or `deadline`. Io thread.
  p2p::Task<void> wait_for_commit(p2p::Clock::time_point deadline);
  /// The answer of an offloaded request (RpcContext::offload); 503 if it cannot be offloaded or
  /// the server stops first. Io thread.
  p2p::Task<RpcReply> offloaded(std::function<RpcReply()> work);

  p2p::asio::io_context& io_;
  RpcContext ctx_;
  p2p::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  std::set<p2p::asio::steady_timer*> waiters_;  // long-polls
  std::set<p2p::tcp::socket*> sockets_;         // open connections (served and refused)
  std::size_t serving_ = 0;                     // connections served (serve())
  std::size_t refusing_ = 0;                    // connections being answered 503 (refuse())
  // What is left of RpcContext::inline_recoveries_per_sec (io thread only).
  network::TokenBucket inline_budget_;
  // Transactions of offloaded POST /txs requests not yet admitted (shared with the jobs).
  std::shared_ptr<std::atomic<std::size_t>> offloaded_txs_ =
      std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace ol::node
