// The state commitment: a hash chain over each block's sorted account changes.
//
//   root(genesis)   = step(genesis.hash(), 0, every genesis account)
//   root(height h)  = step(root(h - 1), h, the accounts block h changed)
//   step(prev, h, changes) = tagged_hash("openliquid/state/v1",
//        prev || u64 h || u32 count || for each change in ascending address order:
//        address (20) || balance (u128 LE) || nonce (u64 LE))
//
// Why this and not a Merkle tree: it costs O(changed accounts) per block, never O(all accounts),
// and it is sound for the job it has now — detecting a diverging validator. By induction, equal
// roots at height h mean (up to a Keccak/SHA-256 collision) the same genesis and the same
// sequence of per-block state changes, hence the same state. A sum or XOR of per-account hashes
// would also be O(changes), but is not collision resistant (differences can be made to cancel).
// What it does not give: proofs that one account has a value against a root (light clients),
// or verifying a state snapshot without replaying history. A checkpoint/state-sync issue will
// need a sparse Merkle tree; it replaces `step` and nothing else in the Ledger's interface.
#pragma once

#include <cstdint>
#include <map>

#include "common/bytes.h"
#include "crypto/secp256k1.h"

namespace ol::execution {

struct Account;

/// One link of the chain; `changes` is iterated in ascending address order (std::map's).
Hash32 state_root_step(const Hash32& prev, std::uint64_t height,
                       const std::map<crypto::Address, Account>& changes);

}  // namespace ol::execution
