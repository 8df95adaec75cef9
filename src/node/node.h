// Node: one validator or full-node process assembled — store, ledger, mempool, consensus core,
// network, sync, RPC.
//
// Sync (src/sync, see sync_driver.h): every node serves blocks and checkpoints to peers and takes
// a checkpoint every sync.checkpoint_interval commits. On the real network, start() brings up
// the network and RPC and then, on the io thread: (state sync, on an empty store when asked) →
// block sync from the store's tip until no peer has more → the consensus core (validators), or
// block sync forever (full nodes: a home without a validator key), woken by the commit notices
// validators gossip on openliquid/qcs/1.0.0 (sync::CommitNotice) and at least every
// sync.poll_ms. A running
// validator that finds a peer sync.catch_up_lag heights ahead stops its core, block-syncs and
// starts a new core (it keeps its safety data, so it cannot double-sign).
//
// Threads: the caller's io thread runs the io_context (network and RPC, transaction admission);
// the core thread runs consensus, execution and storage writes (see core.h); one verifier thread
// recovers the signatures of transactions first seen in gossip, proposals or sync responses, so
// neither the io nor the core thread pays for them.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "node/config.h"
#include "node/core.h"
#include "node/genesis.h"
#include "node/rpc_server.h"
#include "node/sync_driver.h"
#include "sync/verify.h"

namespace ol::p2p {
class Host;
}
namespace ol::sync {
class SyncServer;
}

namespace ol::node {

class Node {
 public:
  /// Opens the node in `home` (config paths are relative to it): genesis, validator key (absent:
  /// a full node), store (created on first start with the genesis state, unless it will be state
  /// synced), ledger, mempool. Starts nothing. `transport` replaces the p2p network (tests; then
  /// there is no sync and the core starts at once); null = the real p2p network.
  static Result<std::unique_ptr<Node>> open(const std::filesystem::path& home, NodeConfig config,
                                            p2p::asio::io_context& io,
                                            std::shared_ptr<Transport> transport = nullptr);
  ~Node();

  /// Binds the RPC, starts the network and the verifier, then (asynchronously, on the io thread)
  /// catches up and starts the core (see above). Io thread.
  Status start();
  /// Stops the core, verifier, network and RPC, then flushes the store. Thread-safe; idempotent.
  void stop();

  /// A frame from validator `from` on the consensus channel. Any thread.
  void on_consensus_frame(types::ValidatorIndex from, ByteView frame);
  /// A transactions gossip message: a batch (types/tx_batch.h) whose transactions are admitted
  /// one by one on the verifier thread. Any thread.
  void on_transaction_gossip(ByteView batch);

  /// Called once (from any thread) if the node must stop on its own (storage or execution
  /// failure). Set before start().
  void on_fatal(std::function<void(const Error&)> handler) { fatal_handler_ = std::move(handler); }

  std::uint16_t rpc_port() const { return rpc_ ? rpc_->port() : 0; }
  types::ValidatorIndex validator_index() const { return self_; }
  bool is_validator() const { return core_key_.has_value(); }
  const Genesis& genesis() const { return genesis_; }
  /// The core's status, or (before the core runs, or on a full node) the ledger's height with
  /// `syncing` set while catching up.
  CoreStatus status() const;

  enum class SyncPhase { starting, state_sync, block_sync, consensus, following };
  SyncPhase sync_phase() const { return phase_.load(); }
  static const char* to_string(SyncPhase p);

 private:
  Node() = default;
  Status start_network();
  Status start_services();
  Status open_ledger();
  Status create_core();
  std::shared_ptr<Core> core() const;
  /// Queues `job` for the verifier thread; `urgent` (consensus input) goes ahead of gossip.
  bool verify_later(std::function<void()> job, bool urgent = false);
  void fail(const Error& e);

  // Io-thread coroutines (see the header comment).
  p2p::Task<void> boot();
  p2p::Task<void> wait_for_peers(std::chrono::milliseconds max_wait);
  p2p::Task<Status> catch_up(const char* why);
  p2p::Task<void> follow();
  p2p::Task<void> watch_lag();
  p2p::Task<void> sleep(std::chrono::milliseconds d);
  /// Validators, after each commit (core thread): a sync::CommitNotice on the qcs topic.
  void publish_commit_notice(types::Height height, const types::QuorumCert& qc);
  /// Full nodes, io thread: a validated notice; wakes follow() if it names a height above ours.
  void on_commit_notice(ByteView data);
  sync::TrustedBlock trusted_tip() const;

  std::filesystem::path home_;
  NodeConfig config_;
  p2p::asio::io_context* io_ = nullptr;
  Genesis genesis_;
  std::unique_ptr<crypto::ValidatorSet> validators_;
  types::ValidatorIndex self_ = 0;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<execution::Ledger> ledger_;
  std::unique_ptr<mempool::Mempool> mempool_;
  WakeSignal payload_ready_;
  std::unique_ptr<CommandPool> commands_;
  BenchCommitLog bench_log_;
  TxStatusBook tx_status_;
  Metrics metrics_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<void> network_;  // the NetworkManager, when this node runs the real network
  std::optional<SigningJournal> journal_;
  CoreContext core_context_;
  CoreConfig core_config_;
  std::optional<crypto::Ed25519KeyPair> core_key_;
  mutable std::mutex core_mu_;
  std::shared_ptr<Core> core_;  // replaced by a runtime catch-up; read through core()
  std::shared_ptr<p2p::Host> host_;
  std::unique_ptr<CheckpointTaker> checkpoints_;
  std::unique_ptr<sync::SyncServer> sync_server_;
  std::unique_ptr<BlockExecutor> executor_;
  std::optional<sync::TrustedBlock> state_synced_;  // the snapshot's block, until a block commits
  bool services_started_ = false;
  std::uint64_t notified_height_ = 0;                // highest commit notice seen (io thread)
  p2p::asio::steady_timer* follow_timer_ = nullptr;  // follow()'s poll wait (io thread)
  std::atomic<SyncPhase> phase_{SyncPhase::starting};
  std::atomic<bool> stopping_{false};
  EventQueue<std::function<void()>> verify_queue_{20'000};
  /// Gossiped transactions queued for the verifier (proposals go ahead of them); beyond the
  /// bound further batches are dropped (about 0.75 s of signature recovery). Dropping breaks
  /// other accounts' nonce runs in this node's pool (it can then propose only what its own RPC
  /// admitted), so the RPC refuses new transactions with 503 "busy" well before: at 1,024
  /// (~45 ms of recovery). A longer backlog also slows consensus under overload: a proposal's
  /// transactions are then mostly unverified here, so voting on it waits for their recovery
  /// (at 6,500 offered, 4,096 gave 3.8–5.8k tx/s committed with p50 1–3 s; 1,024 3.7–6.2k with
  /// p50 0.4–1 s, over four and five noisy runs).
  // Verifier thread, about once a second: Mempool::drop_expired, recorded in the status book.
  void drop_expired_transactions();

  static constexpr std::size_t kMaxGossipBacklogTxs = 16'384;
  static constexpr std::size_t kRpcBusyBacklogTxs = 1'024;
  std::atomic<std::size_t> gossip_backlog_{0};
  std::thread verifier_;
  std::shared_ptr<RpcServer> rpc_;
  std::function<void(const Error&)> fatal_handler_;
  std::atomic<bool> fatal_reported_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace ol::node
