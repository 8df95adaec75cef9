// VerifiedTransaction: a transaction whose signature this node has checked, with the recovered
// sender, id and encoded size cached beside it. Created once per node per transaction (at
// mempool admission, or on first sight in a proposal) and then shared by the mempool, proposals
// and execution, so the signature is never recovered twice.
#pragma once

#include <memory>

#include "crypto/hash.h"
#include "types/transaction.h"

namespace ol::types {

struct VerifiedTransaction {
  Transaction tx;
  crypto::Address sender;        // recovered from tx.signature; never taken from a peer
  Hash32 hash{};                 // tx.hash()
  std::size_t encoded_size = 0;  // canonical encoding length

  /// Runs tx.validate(chain_id) (chain id, shape, signature recovery) once and caches the
  /// results. Errors are validate()'s.
  static Result<VerifiedTransaction> verify(Transaction tx, std::uint64_t chain_id) {
    const Bytes encoded = codec::encode(tx);
    return verify(std::move(tx), chain_id, crypto::keccak256(encoded), encoded.size());
  }
  /// The same for a transaction decoded (strictly) from `encoded_size` bytes whose Keccak-256
  /// is `hash`: it is not encoded and hashed again.
  static Result<VerifiedTransaction> verify(Transaction tx, std::uint64_t chain_id,
                                            const Hash32& hash, std::size_t encoded_size) {
    OL_TRY_ASSIGN(crypto::Address sender, tx.validate(chain_id));
    return VerifiedTransaction{std::move(tx), sender, hash, encoded_size};
  }
};

/// Shared, immutable: the mempool, a proposal and execution hold the same object.
using TxRef = std::shared_ptr<const VerifiedTransaction>;

}  // namespace ol::types
