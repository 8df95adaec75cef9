// Transaction: a user's signed instruction. Ethereum-compatible signing: the digest is Keccak-256
// of the canonical signing bytes and the signature is recoverable secp256k1, so any Ethereum key
// signs it. The sender is recovered from the signature; no field claims it.
#pragma once

#include <variant>

#include "codec/codec.h"
#include "crypto/secp256k1.h"
#include "types/amount.h"

namespace ol::types {

/// Move `amount` of the native token from the sender to `to`. Action tag 0.
struct Transfer {
  crypto::Address to;
  Amount amount = 0;
  bool operator==(const Transfer&) const = default;
};

/// What a transaction does: a tagged variant, the tag is the alternative's index. New kinds
/// (orders, cancels, EVM calls) are appended; existing tags never change meaning.
using Action = std::variant<Transfer>;

struct Transaction {
  std::uint64_t chain_id = 0;  // replay protection across chains
  std::uint64_t nonce = 0;     // replay protection within the sender's account
  Action action;
  crypto::RecoverableSignature signature;  // over signing_hash()

  /// Largest accepted canonical encoding of one transaction (bounds block decoding).
  static constexpr std::size_t kMaxEncodedSize = 1024;

  /// "OLTX" || version 1 || chain_id || nonce || action: what the sender signs (pre-hash).
  /// The prefix keeps these bytes from parsing as an RLP Ethereum transaction.
  Bytes signing_bytes() const;
  /// Keccak-256(signing_bytes()).
  Hash32 signing_hash() const;
  /// The transaction id: Keccak-256 of the full canonical encoding (signature included).
  Hash32 hash() const;

  /// The signer's address, recovered from the signature (rejects high-s and bad recovery ids).
  Result<crypto::Address> recover_sender() const;

  /// Stateless admission checks: right chain, a positive transfer amount, and a signature that
  /// recovers. Returns the recovered sender so a caller checks the signature once.
  Result<crypto::Address> validate(std::uint64_t expected_chain_id) const;

  /// Builds and signs a transaction with `key`.
  static Transaction sign(std::uint64_t chain_id, std::uint64_t nonce, Action action,
                          const crypto::Secp256k1Key& key);

  void encode(codec::Writer& w) const;
  static Result<Transaction> decode(codec::Reader& r);
  bool operator==(const Transaction&) const = default;
};

/// Signature recoveries (recover_sender calls) made in this process so far: a node's
/// `openliquid_tx_signature_checks_total`, which should grow by one per transaction, not more.
std::uint64_t signature_recoveries();

}  // namespace ol::types
