// The genesis document every node of a chain starts from: chain id, validator set, allocations.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/multisig.h"
#include "crypto/secp256k1.h"
#include "crypto/validator_set.h"
#include "types/transaction.h"

namespace ol::node {

struct GenesisValidator {
  crypto::Ed25519PublicKey public_key;  // consensus key and libp2p identity
  std::string p2p_address;              // multiaddr without /p2p (the id derives from the key)
};

struct GenesisAllocation {
  crypto::Address address;
  types::Amount balance = 0;
};

struct Genesis {
  std::uint64_t chain_id = 0;
  std::uint64_t genesis_time_ms = 0;
  std::vector<GenesisValidator> validators;
  std::vector<GenesisAllocation> allocations;
  std::optional<crypto::Address> faucet;  // devnet only: an allocated account that funds demos

  /// The validator set in genesis order (index = position).
  Result<crypto::ValidatorSet> validator_set() const;

  /// JSON, balances as decimal strings (they exceed 64 bits).
  std::string to_json() const;
};

/// Parses and validates: at least one validator, no duplicate keys or allocation addresses,
/// balances are decimal and fit 128 bits, the faucet (if any) has an allocation.
Result<Genesis> parse_genesis(std::string_view json_text, const std::string& origin = "genesis");
Result<Genesis> load_genesis(const std::filesystem::path& path);

/// Decimal text of a 128-bit amount, and its strict parser (digits only, no sign, ≤ 2^128 - 1).
std::string amount_to_string(types::Amount v);
Result<types::Amount> parse_amount(std::string_view text);

}  // namespace ol::node
