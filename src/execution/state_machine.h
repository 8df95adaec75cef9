// StateMachine: what consensus commits, execution applies. The native-token Ledger implements it
// now; the exchange implements it next.
//
// Contract for every implementation:
//   - Deterministic: the same prior state and the same block give the same receipts, the same
//     state root and the same writes on every validator, on every run.
//   - A transaction that breaks an application rule is not an error: it gets a failed receipt
//     with a reason, and the block still applies. Errors (Result) mean the call itself was wrong
//     (height out of order) or the node is broken; the state is then unchanged.
//   - apply_block updates the in-memory state at once and returns the storage writes that
//     persist it. The node puts those writes in the SAME storage::WriteBatch as the committed
//     block; if that write fails the node must stop (a restart reloads the last persisted state
//     and re-applies the block).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "storage/write_batch.h"
#include "types/verified_transaction.h"

namespace ol::execution {

/// The committed block being applied (its transactions are passed beside it).
struct BlockInfo {
  std::uint64_t height = 0;  // must be the last applied height + 1
  std::uint64_t timestamp_ms = 0;
  Hash32 block_id{};
};

/// Why a transaction failed. Values are stable (they may be stored and shown to clients).
enum class TxOutcome : std::uint8_t {
  success = 0,
  wrong_chain = 1,           // nothing changes
  bad_nonce = 2,             // nonce != account nonce; nothing changes
  invalid_action = 3,        // e.g. transfer of zero; nothing changes
  insufficient_balance = 4,  // nonce is consumed, balances unchanged
  balance_overflow = 5,      // recipient would exceed 2^128-1; nonce consumed, balances unchanged
};

/// Short human-readable reason ("insufficient balance: has 5, needs 7" is the receipt's detail).
const char* to_string(TxOutcome outcome);

struct Receipt {
  Hash32 tx_hash{};
  TxOutcome outcome = TxOutcome::success;
  std::string detail;  // empty on success; the numbers behind a failure otherwise

  bool ok() const { return outcome == TxOutcome::success; }
  bool operator==(const Receipt&) const = default;
};

struct BlockOutcome {
  std::vector<Receipt> receipts;  // one per transaction, in block order
  Hash32 state_root{};            // commitment to the state after this block
  storage::WriteBatch writes;     // put these in the block's commit batch
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  /// Applies a committed block's transactions in order (see the contract above).
  virtual Result<BlockOutcome> apply_block(const BlockInfo& block,
                                           std::span<const types::TxRef> txs) = 0;

  /// Commitment to the current state (after the last applied block, or genesis).
  virtual Hash32 state_root() const = 0;
  /// Height of the last applied block (0 = genesis only).
  virtual std::uint64_t applied_height() const = 0;
  /// The nonce the account's next transaction must carry (0 for an unknown account). The
  /// mempool's admission uses it.
  virtual std::uint64_t next_nonce(const crypto::Address& account) const = 0;
};

}  // namespace ol::execution
