// Mempool: the transactions waiting for a proposal, admitted once and checked once.
//
// Admission, in order (each failure is an Error; nothing is kept):
//   1. size:      encoded size <= Transaction::kMaxEncodedSize              -> limit
//   2. decode:    canonical encoding, nothing trailing                      -> decode
//   3. duplicate: a transaction with this hash is already pending           -> state "already
//   known"
//   4. verify:    chain id, shape, signature recovery (once; the sender is  -> verify /
//   invalid_argument
//                 cached in the TxRef for the proposal and execution paths)
//   5. nonce:     nonce >= the account's committed nonce                    -> invalid_argument
//   "nonce too low"
//                 nonce <  committed nonce + max_per_account                -> limit "nonce too far
//                 ahead" no other pending transaction from the sender has it       -> state "nonce
//                 already pending"
//   6. balance:   the amounts of the sender's pending transactions and this  -> invalid_argument
//                 one fit in its committed balance (RPC and gossip only)    "insufficient balance"
//   7. capacity:  per account and in total (count and bytes)                -> limit "mempool full
//   ..."
//                 and, for a "future" transaction (one whose sender has a lower nonce neither
//                 committed nor pending here), Limits::max_future in all   -> limit "mempool full
//                 of transactions waiting for a lower nonce ..."
// The balance rule is Ethereum's pool rule ("insufficient funds", "overdraft"): without fees, it
// is what keeps fresh keys from filling blocks with transfers that can only fail. Funds a pending
// transaction would bring are not counted until it commits. Transactions a proposal carries
// (add_verified) skip it: the block executes them whatever this pool thinks, and pooling them
// only spares their gossip copies a second recovery.
// There are no fees, so nothing replaces a pending transaction; it leaves when committed, when a
// committed block makes its nonce stale, or, while it is still future, when it has waited
// Limits::future_lifetime (drop_expired). Without the last two rules anybody could fill every
// validator's pool for good with gapped nonces of fresh keys, which no block would ever take.
//
// Proposals take, per account, only a nonce-contiguous run starting at the account's next nonce,
// and interleave accounts by arrival order (the oldest eligible transaction goes first), so one
// busy account cannot starve the others.
//
// Thread-safe: every method may be called from any thread. Signature recovery runs outside the
// lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/secp256k1.h"
#include "types/verified_transaction.h"

namespace ol::mempool {

struct Limits {
  std::size_t max_txs = 200'000;        // total pending transactions
  std::size_t max_bytes = 64u << 20;    // total encoded bytes pending
  std::size_t max_per_account = 1'000;  // pending per sender, and the furthest nonce ahead
  // Ids of the most recently committed transactions remembered, so that a late gossip copy is
  // answered "already committed" without a second signature recovery.
  std::size_t recent_committed = 131'072;
  // Transactions refused after their signature was checked (insufficient balance, nonce, a full
  // pool) or dropped by drop_expired, remembered so that a gossip copy or a proposal carrying one
  // is not recovered again.
  std::size_t recent_refused = 8'192;
  // Future transactions (waiting for a lower nonce that is not here) in all, and how long one
  // may wait before drop_expired removes it.
  std::size_t max_future = 20'000;
  std::chrono::milliseconds future_lifetime{60'000};
};

struct BatchLimits {
  std::size_t max_txs = 5'000;
  std::size_t max_bytes = 2u << 20;
};

/// Next nonce per account after the uncommitted blocks a proposal extends (overrides the
/// committed nonce for the accounts it names).
using PendingNonces = std::unordered_map<crypto::Address, std::uint64_t, crypto::AddressHasher>;

/// What admission reads of an account in the committed state.
struct CommittedAccount {
  std::uint64_t next_nonce = 0;
  types::Amount balance = 0;
};

/// What a transaction can take from its sender's balance if it executes (a transfer: its amount).
types::Amount max_spend(const types::Transaction& tx);

class Mempool {
 public:
  /// The committed state of an account (the Ledger's account()).
  using AccountSource = std::function<CommittedAccount(const crypto::Address&)>;
  /// The time a transaction arrives and drop_expired compares with (steady_clock by default).
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  Mempool(std::uint64_t chain_id, Limits limits, AccountSource committed, Clock clock = {});
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  /// Admits a transaction from its canonical encoding (RPC, gossip). Returns the pending entry.
  /// Errc::state "already known" / "already committed" (one of the last
  /// Limits::recent_committed) are answered before any signature recovery; a copy of a
  /// transaction refused recently is checked again against the rules without one.
  Result<types::TxRef> add_encoded(ByteView encoded);
  /// Admits a decoded transaction (signature not yet checked).
  Result<types::TxRef> add(types::Transaction tx);
  /// Admits a transaction whose signature this node already checked, from a proposal or a sync
  /// response (steps 3, 5 and 7 only).
  Result<types::TxRef> add_verified(types::TxRef tx);

  /// The pending transaction with this hash, or null. A node that sees a transaction in a
  /// proposal uses it to skip signature recovery.
  types::TxRef find(const Hash32& hash) const;

  /// The verified transaction with this hash if it is pending here, or was refused or dropped
  /// here after its signature was checked (one of the last Limits::recent_refused): a node that
  /// sees it in a proposal or a synced block uses it to skip signature recovery. Null otherwise.
  types::TxRef verified(const Hash32& hash) const;

  /// For a pending future transaction, the lower nonce of its sender it waits for; nullopt for
  /// one that can execute next, or that is not pending here.
  std::optional<std::uint64_t> missing_nonce(const Hash32& hash);

  /// Up to `limits` transactions for a proposal, in the order they must execute. Nothing is
  /// removed: transactions leave through remove_committed.
  std::vector<types::TxRef> build_batch(const BatchLimits& limits,
                                        const PendingNonces& pending = {}) const;

  /// After a block commits (and the AccountSource reflects it): removes its transactions, whatever
  /// their receipts, and every pending transaction of the same senders whose nonce is now below
  /// the committed nonce.
  void remove_committed(std::span<const types::TxRef> committed);

  /// A transaction drop_expired removed, and the nonce its sender was missing.
  struct Dropped {
    types::TxRef tx;
    std::uint64_t missing_nonce = 0;
  };
  /// Removes the future transactions that have waited Limits::future_lifetime or longer (the
  /// node calls it about once a second) and returns them.
  std::vector<Dropped> drop_expired();

  std::size_t size() const;
  std::size_t bytes() const;
  /// Pending transactions that wait for a lower nonce (counted against Limits::max_future).
  std::size_t future_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True for the admission errors that mean "a copy of a transaction this node has" ("already
/// known", "already committed"): a resubmission or a gossip duplicate, not a bad transaction.
bool is_duplicate(const Error& e);

}  // namespace ol::mempool
