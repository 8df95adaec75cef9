// Account: one native-token account, and its canonical encoding (storage value, state hashing,
// snapshot chunks all use the same 24 bytes).
#pragma once

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/secp256k1.h"
#include "types/amount.h"

namespace ol::execution {

struct Account {
  types::Amount balance = 0;
  std::uint64_t nonce = 0;
  bool operator==(const Account&) const = default;
};

/// One account of the state as the commitment and snapshots see it.
struct StateEntry {
  crypto::Address address;
  Account account;
  bool operator==(const StateEntry&) const = default;
};

inline constexpr std::size_t kEncodedAccountSize = 24;

/// balance (u128 LE) || nonce (u64 LE).
Bytes encode_account(const Account& account);
Result<Account> decode_account(ByteView bytes);

}  // namespace ol::execution
