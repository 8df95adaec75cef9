// The node's side of src/sync: executing certified blocks that block sync delivers, and taking
// checkpoints every K committed blocks without stalling consensus.
//
// BlockExecutor::deliver is BlockSync's `deliver`: per block, in height order, it checks the
// execution entries the block anchors (exec_roots: block id and state root per height) against
// what this node executed (execution::verify_anchors), verifies the transactions
// once, applies the block to the ledger and writes the same WriteBatch Core::commit writes
// (build_commit_batch: block, QC, height index, state, a receipt per transaction). Only the
// thread that owns the ledger may call it: the io thread while no Core runs (startup, runtime
// catch-up, full nodes).
//
// CheckpointTaker: on a due height (a multiple of checkpoint_interval) the calling thread (the
// core thread between blocks) only takes a sync::StateCut: the root, the bucket hashes and a
// RocksDB snapshot of the stored state, about a millisecond. Its own thread then reads the
// accounts from that frozen view, chunks, encodes, writes and prunes, while consensus goes on.
// One snapshot at a time: a due height that finds the previous one still being built or written
// is skipped (logged), never queued, so memory stays bounded.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "execution/ledger.h"
#include "mempool/mempool.h"
#include "node/metrics.h"
#include "storage/store.h"
#include "sync/checkpoints.h"
#include "sync/messages.h"

namespace ol::node {

class CheckpointTaker {
 public:
  CheckpointTaker(storage::Store& store, sync::CheckpointConfig config);
  ~CheckpointTaker();
  CheckpointTaker(const CheckpointTaker&) = delete;
  CheckpointTaker& operator=(const CheckpointTaker&) = delete;

  /// After block `id` at `height` is committed and durable, on the thread that owns `ledger`.
  void on_commit(const execution::Ledger& ledger, std::uint64_t height, const Hash32& id);
  /// Waits for the snapshot being written, if any (tests, shutdown).
  void drain();

  const sync::Checkpoints& checkpoints() const { return checkpoints_; }

 private:
  void run();

  sync::Checkpoints checkpoints_;
  std::mutex mu_;
  std::condition_variable cv_;
  storage::Store& store_;
  std::optional<sync::StateCut> pending_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread writer_;
};

class BlockExecutor {
 public:
  struct Context {
    std::uint64_t chain_id = 0;
    storage::Store* store = nullptr;
    execution::Ledger* ledger = nullptr;
    mempool::Mempool* mempool = nullptr;  // committed transactions leave it (may be null)
    Metrics* metrics = nullptr;           // may be null
    /// After each block is durable (the ledger holds the state after it), with the QC that
    /// certifies it.
    std::function<void(types::Height, const Hash32&, const types::QuorumCert&)> on_commit;
  };
  explicit BlockExecutor(Context context);

  /// Executes and persists `blocks` (consecutive, above the ledger's height). Errors: a block
  /// anchors a state root this node did not compute (Errc::verify: divergence), or execution or
  /// storage failed. Blocks before the failing one stay committed.
  Status deliver(std::vector<sync::CertifiedBlock> blocks);

  std::uint64_t blocks_executed() const { return blocks_; }
  std::uint64_t txs_executed() const { return txs_; }

 private:
  Status execute(const sync::CertifiedBlock& c);
  /// The state roots `block` anchors must equal the ones computed here for those heights.
  Status check_anchored_roots(const types::Block& block) const;

  Context ctx_;
  std::uint64_t blocks_ = 0;
  std::uint64_t txs_ = 0;
};

}  // namespace ol::node
