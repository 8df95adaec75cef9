// Deterministic test keys and signed transfers, shared by the execution and mempool tests.
#pragma once

#include <memory>

#include "crypto/secp256k1.h"
#include "types/verified_transaction.h"

namespace ol::testing {

inline constexpr std::uint64_t kChainId = 7;

/// The i-th fixed test key (secret = 32 bytes of i+1), same on every run.
inline crypto::Secp256k1Key test_key(std::uint8_t i) {
  Bytes secret(32, static_cast<std::uint8_t>(i + 1));
  return *crypto::Secp256k1Key::from_secret(secret);
}

inline types::TxRef transfer(const crypto::Secp256k1Key& from, std::uint64_t nonce,
                             const crypto::Address& to, types::Amount amount,
                             std::uint64_t chain_id = kChainId) {
  auto tx = types::Transaction::sign(chain_id, nonce, types::Transfer{to, amount}, from);
  // Verified against the tx's own chain id so tests can build wrong-chain transactions too.
  auto v = types::VerifiedTransaction::verify(std::move(tx), chain_id);
  return std::make_shared<const types::VerifiedTransaction>(std::move(v).value());
}

}  // namespace ol::testing
