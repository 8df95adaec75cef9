// Node: one validator process assembled — store, ledger, mempool, consensus core, network, RPC.
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

namespace ol::node {

class Node {
 public:
  /// Opens the node in `home` (config paths are relative to it): genesis, validator key, store
  /// (created on first start with the genesis state), ledger, mempool, consensus core. Starts
  /// nothing. `transport` replaces the p2p network (tests); null = the real p2p network.
  static Result<std::unique_ptr<Node>> open(const std::filesystem::path& home, NodeConfig config,
                                            p2p::asio::io_context& io,
                                            std::shared_ptr<Transport> transport = nullptr);
  ~Node();

  /// Binds the RPC, starts the network, the verifier and the core thread. Io thread.
  Status start();
  /// Stops the core, verifier, network and RPC, then flushes the store. Thread-safe; idempotent.
  void stop();

  /// A frame from validator `from` on the consensus channel. Any thread.
  void on_consensus_frame(types::ValidatorIndex from, ByteView frame);
  /// A transaction from the gossip topic. Any thread.
  void on_transaction_gossip(ByteView encoded);

  /// Called once (from any thread) if the node must stop on its own (storage or execution
  /// failure). Set before start().
  void on_fatal(std::function<void(const Error&)> handler) { fatal_handler_ = std::move(handler); }

  std::uint16_t rpc_port() const { return rpc_ ? rpc_->port() : 0; }
  types::ValidatorIndex validator_index() const { return self_; }
  const Genesis& genesis() const { return genesis_; }
  CoreStatus status() const { return core_->status(); }

 private:
  Node() = default;
  Status start_network();
  bool verify_later(std::function<void()> job);

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
  CoreContext core_context_;
  CoreConfig core_config_;
  std::optional<crypto::Ed25519KeyPair> core_key_;
  std::unique_ptr<Core> core_;
  EventQueue<std::function<void()>> verify_queue_{20'000};
  std::thread verifier_;
  std::shared_ptr<RpcServer> rpc_;
  std::function<void(const Error&)> fatal_handler_;
  std::atomic<bool> fatal_reported_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace ol::node
