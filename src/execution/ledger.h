// Ledger: execution v0 — native-token accounts (balance, nonce) and signed transfers.
//
// Transfer rules, applied to each transaction in block order:
//   1. tx.chain_id != chain id                  -> wrong_chain,          nothing changes
//   2. the action is malformed (amount 0)       -> invalid_action,       nothing changes
//   3. tx.nonce != sender.nonce                 -> bad_nonce,            nothing changes
//   4. sender.balance < amount                  -> insufficient_balance, sender.nonce += 1
//   5. recipient.balance + amount > 2^128-1     -> balance_overflow,     sender.nonce += 1
//   6. otherwise: sender.balance -= amount, recipient.balance += amount, sender.nonce += 1.
// A failed transaction whose nonce matched consumes that nonce (as Ethereum does for included
// transactions): the signed bytes can never be replayed, and the sender's later transactions are
// not stuck behind it. One whose nonce did not match cannot consume anything: it is either a
// replay or from the future. There are no fees yet, so a failure costs nothing else.
//
// State commitment (see state_commitment.h): a Merkle root over 2^16 buckets of accounts, each
// a sub-tree once large, updated per block for the paths the block touched (account_tree.h).
//
// Persistence: every account lives in the storage state column under "a/" || address as
// balance (u128 LE) || nonce (u64 LE); the root and applied height under "m/root" and
// "m/height", and the last kRootHistory heights' block id || root under "r/" || height.
// Ledger::open loads them all into memory (fine for v0's account counts; the exchange
// will need a read-through cache), rebuilds the commitment from the accounts and refuses to open
// if it differs from the stored root (a corrupt or half-written state is an error, not data).
// The commitment's hashes are not stored: rebuilding them costs about a second per million
// accounts.
//
// Threads: apply_block, bucket_hashes() and visit_buckets() from the core thread;
// account()/next_nonce()/state_root() from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "crypto/secp256k1.h"
#include "execution/account.h"
#include "execution/account_tree.h"
#include "execution/genesis.h"
#include "execution/state_commitment.h"
#include "execution/state_machine.h"
#include "storage/store.h"
#include "types/block.h"

namespace ol::execution {

class Ledger;

/// Checks the execution entries `block` anchors (types::Block::exec_roots) against what `ledger`
/// executed. Errors: an anchored height above the ledger's (state: this node is behind and
/// cannot judge), one older than the kept history (not_found), or an entry that differs from
/// exec_commitment(our block id, our root) at that height (verify: diverged, or a lying block).
Status verify_anchors(const Ledger& ledger, const types::Block& block);

/// A height's executed block and the state root after it.
struct ExecRecord {
  Hash32 block_id{};
  Hash32 state_root{};
  bool operator==(const ExecRecord&) const = default;
};

class Ledger final : public StateMachine {
 public:
  /// Loads the ledger from `store`. If the store holds no state yet, builds the genesis state and
  /// writes it (synced) before returning. Errors: genesis invalid, or the store was created with
  /// a different genesis (state), or holds an unfinished StateInstall (state), or a state record
  /// does not decode or the accounts do not hash to the stored root (io).
  static Result<std::unique_ptr<Ledger>> open(storage::Store& store, const Genesis& genesis);

  /// An in-memory ledger (tests, benchmarks): apply_block's writes are returned but not stored.
  static Result<std::unique_ptr<Ledger>> in_memory(const Genesis& genesis);

  Result<BlockOutcome> apply_block(const BlockInfo& block,
                                   std::span<const types::TxRef> txs) override;
  Hash32 state_root() const override;
  std::uint64_t applied_height() const override;
  std::uint64_t next_nonce(const crypto::Address& account) const override;

  /// How many past heights' state roots are kept (in memory and under "r/" in the state column).
  static constexpr std::size_t kRootHistory = 1024;
  /// The block executed at `height` and the state root after it, for the last kRootHistory
  /// applied heights (after a state-sync install: from its height on); nullopt otherwise.
  /// Proposers anchor these in blocks and voters check anchored ones against them
  /// (types::Block::exec_roots, types::exec_commitment).
  std::optional<ExecRecord> executed_at(std::uint64_t height) const;

  /// The account's balance and nonce; a never-seen account is {0, 0}.
  Account account(const crypto::Address& address) const;
  std::uint64_t chain_id() const { return chain_id_; }
  std::size_t account_count() const;

  /// The commitment's 2^16 bucket hashes, in bucket order (a snapshot manifest carries them).
  std::vector<Hash32> bucket_hashes() const;
  /// Calls `visit(bucket, entries)` for each bucket in [first, end) in order, with the bucket's
  /// accounts in commitment order (empty buckets included), until it returns false.
  void visit_buckets(
      StateCommitment::Bucket first, StateCommitment::Bucket end,
      const std::function<bool(StateCommitment::Bucket, std::span<const StateEntry>)>& visit) const;
  /// The same walk over every bucket (first to last, empty ones included) for the accounts a
  /// store held when `view` was taken (Store::state_view right after a commit): the state at
  /// that height, read on any thread while the ledger moves on. Errors: io on a corrupt record.
  static Status visit_stored_buckets(
      const storage::StateView& view,
      const std::function<bool(StateCommitment::Bucket, std::span<const StateEntry>)>& visit);

 private:
  Ledger() = default;
  /// Applies one transaction to `dirty` (a view over accounts_ with pending changes).
  Receipt apply_tx(const types::VerifiedTransaction& vtx,
                   std::map<crypto::Address, Account>& dirty) const;
  Account lookup(const crypto::Address& a, const std::map<crypto::Address, Account>& dirty) const;
  Hash32 rebuild_commitment();

  std::uint64_t chain_id_ = 0;
  mutable std::shared_mutex mu_;
  AccountMap accounts_;
  Hash32 root_{};
  std::uint64_t height_ = 0;
  std::map<std::uint64_t, ExecRecord> roots_;  // the last kRootHistory heights
  AccountTree tree_;                           // written on the core thread only
};

/// State sync: writes a verified snapshot's accounts into a store that holds no state yet, so
/// that Ledger::open then loads it. begin() writes an "install in progress" marker (synced)
/// that Ledger::open refuses until finish() removes it in the same batch that writes the root,
/// height and genesis records: a crash mid-install leaves a store that says so, never a store
/// that opens with half a state.
class StateInstall {
 public:
  /// Errors: the store already holds state (state).
  static Result<StateInstall> begin(storage::Store& store);
  /// Writes one batch of accounts (buffered).
  Status add(std::span<const StateEntry> entries);
  /// Writes root, height and genesis marker and clears the install marker (synced). The caller
  /// has verified the accounts against `root`; Ledger::open re-checks it.
  /// `block_id` is the committed block at `height` (recorded for execution anchoring).
  Status finish(const Genesis& genesis, std::uint64_t height, const Hash32& block_id,
                const Hash32& root);

 private:
  explicit StateInstall(storage::Store& store) : store_(&store) {}
  storage::Store* store_;
};

/// The storage key of one account's record ("a/" || address).
Bytes account_key(const crypto::Address& address);

}  // namespace ol::execution
