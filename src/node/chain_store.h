// The node's records in storage::Store beyond what execution writes: consensus safety data,
// committed blocks and their certificates, recovery after a restart, and the transaction index.
//
// Record layout (columns of storage/write_batch.h):
//   safety  "safety"            -> SafetyData (synced before any vote or timeout leaves)
//   blocks  block id            -> Block (written at PersistBlock, and in the commit batch)
//   heights / committed tip     -> by WriteBatch::commit_block
//   qcs     block id            -> the QuorumCert that certifies the block (from Commit)
//   meta    "consensus/high_qc" -> the replica's highest QC   } SafetyStorage::save_certificates,
//   meta    "consensus/last_tc" -> its latest TC              } synced, one batch
//   meta    "tx/" || tx hash    -> TxRecord (u64 height, u8 outcome, string detail): the receipt
#pragma once

#include <optional>
#include <vector>

#include "consensus/payload_source.h"
#include "consensus/replica.h"
#include "consensus/safety_rules.h"
#include "execution/state_machine.h"
#include "mempool/mempool.h"
#include "storage/store.h"

namespace ol::node {

/// SafetyStorage on the store: save() returns after the record is fsync'ed; save_certificates()
/// and save_unsynced() write without their own fsync, and the next save()'s (or sync()'s) fsync
/// of RocksDB's write-ahead log (one log for every column, synced up to its end) makes them
/// durable too: one fsync per round, for a leader too, instead of two or three.
class StoreSafetyStorage final : public consensus::SafetyStorage {
 public:
  explicit StoreSafetyStorage(storage::Store& store) : store_(store) {}
  Status save(const consensus::SafetyData& data) override;
  Status save_unsynced(const consensus::SafetyData& data) override;
  Status sync() override;
  Status save_certificates(const types::QuorumCert& high_qc,
                           const std::optional<types::TimeoutCert>& last_tc) override;

 private:
  storage::Store& store_;
};

/// Committed blocks by id, read from the store (answers peers' sync requests).
class StoreCommittedBlocks final : public consensus::CommittedBlocks {
 public:
  explicit StoreCommittedBlocks(const storage::Store& store) : store_(store) {}
  std::optional<types::Block> find(const Hash32& id) const override;

 private:
  const storage::Store& store_;
};

/// Where the replica restarts: the committed tip with its QC, the saved safety data and
/// certificates, or genesis on a fresh store. Errors: a tip without its block or QC, or records
/// that do not decode (io).
Result<consensus::RecoveryState> load_recovery(const storage::Store& store);

/// A block from the store by id (any persisted block, committed or not); nullopt if absent.
Result<std::optional<types::Block>> load_block(const storage::Store& store, const Hash32& id);
/// The committed block at `height`; nullopt if none or pruned.
Result<std::optional<types::Block>> load_committed_block(const storage::Store& store,
                                                         std::uint64_t height);
/// True iff block `id` at `height` is the committed one.
Result<bool> is_committed(const storage::Store& store, const Hash32& id, std::uint64_t height);
/// The QC stored for a committed block.
Result<std::optional<types::QuorumCert>> load_qc(const storage::Store& store, const Hash32& id);

/// A committed transaction's receipt as the store keeps it.
struct TxRecord {
  std::uint64_t height = 0;
  execution::TxOutcome outcome = execution::TxOutcome::success;
  std::string detail;
  bool operator==(const TxRecord&) const = default;
};

void put_tx_record(storage::WriteBatch& batch, const Hash32& tx_hash, const TxRecord& record);
Result<std::optional<TxRecord>> load_tx_record(const storage::Store& store, const Hash32& tx_hash);

/// The transactions of a certified block about to be committed (Core::commit for a block it did
/// not resolve earlier, BlockExecutor::execute): each one is taken from `pool` if admitted there
/// (its signature already checked; `pool` may be null) or verified now. An invalid one is logged
/// (prefixed `who`) and skipped, the same way on every node, so every node computes the same
/// state: honest validators never certify one, so it comes only from a certified block of a
/// faulty quorum.
std::vector<types::TxRef> resolve_for_commit(const types::Block& block, std::uint64_t chain_id,
                                             const mempool::Mempool* pool, std::string_view who);

/// The one WriteBatch that commits a block (Core::commit and BlockExecutor::execute write it):
/// `state_writes` (the execution's), the block body unless `block_stored`, the height index, the
/// QC, and a TxRecord per receipt, except for replays: a bad_nonce receipt whose transaction is
/// already included earlier in this block or already has a record in `store` keeps that earlier
/// record.
storage::WriteBatch build_commit_batch(const storage::Store& store, const types::Block& block,
                                       const Hash32& id, const types::QuorumCert& qc,
                                       bool block_stored, storage::WriteBatch state_writes,
                                       const std::vector<execution::Receipt>& receipts);

}  // namespace ol::node
