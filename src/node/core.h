// Core: the node's core thread. It owns the consensus Replica and applies its effects: messages
// to the Transport, blocks to the Store, commits through the Ledger, timers on its own clock.
//
// Inputs arrive on a bounded EventQueue (consensus messages whose transactions were already
// resolved off this thread, see resolve_transactions); the thread sleeps on it until the next
// input or its round timer. Commit pipeline, per committed block, in order:
//   1. Ledger::apply_block (receipts, state root)
//   2. one storage WriteBatch: block, its QC, the height index, the state writes, a receipt per
//      transaction (the tx index), built by build_commit_batch — written before anything is
//      reported
//   3. metrics, the bench commit log; mempool / command pool drop what committed (GET /tx reads
//      a transaction's status from the store's receipt)
// The ledger keeps the roots of recent heights: proposals anchor them (exec_anchor) and a vote
// leaves only if every entry its block anchors equals ours and it replays no transaction
// (votable).
// A failure in 1 or 2 is fatal: the node stops (a restart reloads the last written state).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>

#include "consensus/replica.h"
#include "execution/ledger.h"
#include "mempool/mempool.h"
#include "node/chain_store.h"
#include "node/command_pool.h"
#include "node/event_queue.h"
#include "node/metrics.h"
#include "node/signing_journal.h"
#include "node/transport.h"

namespace ol::node {

/// The transactions of one block of a consensus message, resolved to verified references:
/// from the mempool when already admitted (no second signature check), else recovered once.
struct ResolvedBlock {
  Hash32 id{};
  std::vector<types::TxRef> txs;  // in block order; only if `valid`
  bool valid = true;              // false: some transaction failed verification
};

struct InboundMessage {
  types::ValidatorIndex from = 0;
  consensus::Message message;
  std::vector<ResolvedBlock> resolved;  // proposal: its block; sync response: each block
};

/// Resolves the transactions of every block `message` carries (proposals, sync responses).
/// Runs off the core thread; empty for messages without transaction payloads. A sync response's
/// blocks at or below `executed` (this node's executed height) are skipped: their transactions
/// are never needed again, and those that have left the pool would be recovered a second time.
std::vector<ResolvedBlock> resolve_transactions(const consensus::Message& message,
                                                mempool::Mempool& pool, std::uint64_t chain_id,
                                                types::Height executed = 0);

struct CoreConfig {
  consensus::ReplicaConfig replica;
  mempool::BatchLimits batch;
  bool commands = false;  // consensus-only benchmark payloads
  std::chrono::milliseconds empty_block_wait{100};
  std::chrono::milliseconds min_block_interval{0};  // see ConsensusConfig::min_block_interval_ms
  std::size_t queue_capacity = 100'000;
};

/// Everything the core uses; all must outlive it.
struct CoreContext {
  const crypto::ValidatorSet* validators = nullptr;
  types::ValidatorIndex self = 0;
  std::uint64_t chain_id = 0;
  storage::Store* store = nullptr;
  execution::Ledger* ledger = nullptr;
  mempool::Mempool* mempool = nullptr;
  CommandPool* commands = nullptr;
  BenchCommitLog* bench_log = nullptr;
  Metrics* metrics = nullptr;
  Transport* transport = nullptr;
  WakeSignal* payload_ready = nullptr;
  /// When set, every vote, timeout and proposal is journalled before it is sent (chaos checks).
  SigningJournal* journal = nullptr;
  /// Called (on the core thread) after each commit is durable, with the block's height, id and
  /// the QC that certifies it; may be empty. The ledger then holds the state after that block.
  std::function<void(types::Height, const Hash32&, const types::QuorumCert&)> on_commit;
  /// Called (on the core thread) when the node must stop (storage or execution failed).
  std::function<void(const Error&)> on_fatal;
};

/// A consistent snapshot for GET /status.
struct CoreStatus {
  std::uint64_t height = 0;
  std::uint64_t round = 0;
  types::ValidatorIndex leader = 0;
  std::uint64_t last_commit_ms = 0;
  bool syncing = false;
  Hash32 state_root{};
};

class Core final : public consensus::PayloadSource {
 public:
  /// Loads the recovery state from the store and builds the replica. `key` is validator
  /// `context.self`'s consensus key.
  static Result<std::unique_ptr<Core>> create(CoreContext context, crypto::Ed25519KeyPair key,
                                              CoreConfig config);
  ~Core() override;

  /// Starts the core thread (the replica's first round begins there).
  void start();
  /// Stops and joins the thread; inputs queued by then are dropped. Idempotent.
  void stop();

  /// Hands a message to the core thread; false (dropped) if the queue is full or stopped.
  bool deliver(InboundMessage message);

  CoreStatus status() const;
  std::uint64_t dropped_inputs() const { return dropped_.load(); }

 private:
  struct Timer {
    std::chrono::steady_clock::time_point deadline;
    types::Round round;
  };
  struct BlockTxs {
    types::Height height = 0;
    std::vector<types::TxRef> txs;
  };

  Core(CoreContext context, CoreConfig config);
  void run();
  void handle(InboundMessage& in);
  bool proposal_acceptable(const InboundMessage& in);
  /// Carries out the replica's effects in order, except commits: those wait until the messages
  /// (votes, proposals, timeouts) have left, so execution is not on the round's critical path
  /// (see `handle`); they run at the end unless `hold_commits_` is set.
  void apply(consensus::Effects effects);
  void run_held_commits();
  /// Journals `m` if it is a signed message and a journal is configured; false = fatal.
  bool journal(const consensus::Message& m);
  void persist(const types::Block& block, const Hash32& id);
  void commit(const types::Block& block, const types::QuorumCert& qc);
  const std::vector<types::TxRef>& block_txs(const types::Block& block, const Hash32& id);
  void fatal(const Error& e);
  void publish_status();

  types::Payload next_payload(types::Round round, types::Height height,
                              const Hash32& parent_id) override;
  ExecAnchor exec_anchor(const types::Block& parent, types::Height committed) override;
  /// The block's anchored entries all equal this node's and it replays no transaction (see
  /// core.cpp).
  bool votable(const types::Block& block, const Hash32& id) override;
  std::uint64_t proposal_time_ms(std::uint64_t input_ms) override;
  /// Each sender's next nonce after the uncommitted ancestors of a block on `parent_id` (only
  /// senders those ancestors name; the ledger's next_nonce for the others).
  mempool::PendingNonces ancestor_nonces(const Hash32& parent_id, bool* recent_payload = nullptr,
                                         CommandIdSet* in_flight = nullptr);

  CoreContext ctx_;
  CoreConfig config_;
  std::unique_ptr<consensus::SafetyStorage> safety_storage_;
  std::unique_ptr<consensus::CommittedBlocks> committed_blocks_;
  std::unique_ptr<consensus::LeaderElection> leaders_;
  std::unique_ptr<consensus::Replica> replica_;

  EventQueue<InboundMessage> queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> dropped_{0};
  // The replica's counts as last added to the node's metrics (publish_status).
  std::size_t published_invalid_ = 0, published_equivocations_ = 0;
  std::array<std::size_t, consensus::DropCounts::kReasons.size()> published_votes_{},
      published_timeouts_{};
  std::chrono::steady_clock::time_point last_proposal_{};  // received or made (core thread)
  bool failed_ = false;

  // Core-thread state.
  std::optional<Timer> timer_;
  types::Round last_round_ = 0;
  const InboundMessage* current_ = nullptr;  // the input being handled (its resolved blocks)
  std::optional<std::pair<types::Round, std::vector<types::TxRef>>> own_payload_;
  std::map<Hash32, BlockTxs> block_txs_;         // uncommitted blocks' resolved transactions
  std::map<Hash32, types::Height> persisted_;    // uncommitted blocks already stored
  std::vector<consensus::Commit> held_commits_;  // committed by consensus, not yet executed
  bool hold_commits_ = false;

  mutable std::mutex status_mu_;
  CoreStatus status_;
};

}  // namespace ol::node
