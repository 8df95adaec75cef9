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
// State commitment (see state_root.h): a hash chain over each block's sorted account changes.
//
// Persistence: every account lives in the storage state column under "a/" || address as
// balance (u128 LE) || nonce (u64 LE); the root and applied height under "m/root" and
// "m/height". Ledger::open loads them all into memory (fine for v0's account counts; the exchange
// will need a read-through cache).
//
// Threads: apply_block from the core thread; account()/next_nonce()/state_root() from any thread.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

#include "execution/genesis.h"
#include "execution/state_machine.h"
#include "storage/store.h"

namespace ol::execution {

struct Account {
  types::Amount balance = 0;
  std::uint64_t nonce = 0;
  bool operator==(const Account&) const = default;
};

class Ledger final : public StateMachine {
 public:
  /// Loads the ledger from `store`. If the store holds no state yet, builds the genesis state and
  /// writes it (synced) before returning. Errors: genesis invalid, or the store was created with
  /// a different genesis (state), or a state record does not decode (io).
  static Result<std::unique_ptr<Ledger>> open(storage::Store& store, const Genesis& genesis);

  /// An in-memory ledger (tests, benchmarks): apply_block's writes are returned but not stored.
  static Result<std::unique_ptr<Ledger>> in_memory(const Genesis& genesis);

  Result<BlockOutcome> apply_block(const BlockInfo& block,
                                   std::span<const types::TxRef> txs) override;
  Hash32 state_root() const override;
  std::uint64_t applied_height() const override;
  std::uint64_t next_nonce(const crypto::Address& account) const override;

  /// The account's balance and nonce; a never-seen account is {0, 0}.
  Account account(const crypto::Address& address) const;
  std::uint64_t chain_id() const { return chain_id_; }
  std::size_t account_count() const;

 private:
  struct AddressHash {
    std::size_t operator()(const crypto::Address& a) const;
  };
  Ledger() = default;
  /// Applies one transaction to `dirty` (a view over accounts_ with pending changes).
  Receipt apply_tx(const types::VerifiedTransaction& vtx,
                   std::map<crypto::Address, Account>& dirty) const;
  Account lookup(const crypto::Address& a, const std::map<crypto::Address, Account>& dirty) const;

  std::uint64_t chain_id_ = 0;
  mutable std::shared_mutex mu_;
  std::unordered_map<crypto::Address, Account, AddressHash> accounts_;
  Hash32 root_{};
  std::uint64_t height_ = 0;
};

/// Encodings of one account's storage record and key (shared with state_root.h's hashing).
Bytes account_key(const crypto::Address& address);
Bytes encode_account(const Account& account);
Result<Account> decode_account(ByteView bytes);

}  // namespace ol::execution
