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
//   6. capacity:  per account and in total (count and bytes)                -> limit "mempool full
//   ..."
// There are no fees, so nothing replaces a pending transaction; it leaves when committed or when a
// committed block makes its nonce stale.
//
// Proposals take, per account, only a nonce-contiguous run starting at the account's next nonce,
// and interleave accounts by arrival order (the oldest eligible transaction goes first), so one
// busy account cannot starve the others.
//
// Thread-safe: every method may be called from any thread. Signature recovery runs outside the
// lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "types/verified_transaction.h"

namespace ol::mempool {

struct Limits {
  std::size_t max_txs = 200'000;        // total pending transactions
  std::size_t max_bytes = 64u << 20;    // total encoded bytes pending
  std::size_t max_per_account = 1'000;  // pending per sender, and the furthest nonce ahead
  // Ids of the most recently committed transactions remembered, so that a late gossip copy is
  // answered "already committed" without a second signature recovery.
  std::size_t recent_committed = 131'072;
};

struct BatchLimits {
  std::size_t max_txs = 5'000;
  std::size_t max_bytes = 2u << 20;
};

struct AddressHash {
  std::size_t operator()(const crypto::Address& a) const;
};

/// Next nonce per account after the uncommitted blocks a proposal extends (overrides the
/// committed nonce for the accounts it names).
using PendingNonces = std::unordered_map<crypto::Address, std::uint64_t, AddressHash>;

class Mempool {
 public:
  /// The committed state's next nonce for an account (the Ledger's next_nonce).
  using NonceSource = std::function<std::uint64_t(const crypto::Address&)>;

  Mempool(std::uint64_t chain_id, Limits limits, NonceSource committed_nonce);
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  /// Admits a transaction from its canonical encoding (RPC, gossip). Returns the pending entry.
  /// Errc::state "already known" / "already committed" (one of the last
  /// Limits::recent_committed) are answered before any signature recovery.
  Result<types::TxRef> add_encoded(ByteView encoded);
  /// Admits a decoded transaction (signature not yet checked).
  Result<types::TxRef> add(types::Transaction tx);
  /// Admits a transaction whose signature this node already checked (steps 3, 5, 6 only).
  Result<types::TxRef> add_verified(types::TxRef tx);

  /// The pending transaction with this hash, or null. A node that sees a transaction in a
  /// proposal uses it to skip signature recovery.
  types::TxRef find(const Hash32& hash) const;

  /// Up to `limits` transactions for a proposal, in the order they must execute. Nothing is
  /// removed: transactions leave through remove_committed.
  std::vector<types::TxRef> build_batch(const BatchLimits& limits,
                                        const PendingNonces& pending = {}) const;

  /// After a block commits (and the NonceSource reflects it): removes its transactions, whatever
  /// their receipts, and every pending transaction of the same senders whose nonce is now below
  /// the committed nonce.
  void remove_committed(std::span<const types::TxRef> committed);

  std::size_t size() const;
  std::size_t bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True for the admission errors that mean "a copy of a transaction this node has" ("already
/// known", "already committed"): a resubmission or a gossip duplicate, not a bad transaction.
bool is_duplicate(const Error& e);

}  // namespace ol::mempool
