// The genesis document every node of a chain starts from: chain id, validator set, allocations.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/multisig.h"
#include "crypto/secp256k1.h"
#include "crypto/validator_set.h"
#include "execution/genesis.h"
#include "types/amount.h"

namespace ol::node {

struct GenesisValidator {
  crypto::Ed25519PublicKey public_key;  // consensus key and libp2p identity
  std::string p2p_address;              // multiaddr without /p2p (the id derives from the key)
};

/// The genesis file: the application's genesis (chain id, allocations, faucet) plus what only
/// the node needs (validators with their addresses, the genesis time).
struct Genesis {
  execution::Genesis app;
  std::uint64_t genesis_time_ms = 0;
  std::vector<GenesisValidator> validators;
  /// Test/devnet feature (genesis key "generated_accounts": {"count": N, "balance": "B"}): N
  /// deterministic accounts (generated_account(i), i < N) funded with B each, appended to
  /// app.allocations after the listed ones when the file is parsed — a chain with a large state
  /// from a small file (e.g. the 1M-account state-sync test). Not for production chains.
  std::uint64_t generated_accounts = 0;
  types::Amount generated_balance = 0;

  /// The validator set in genesis order (index = position).
  Result<crypto::ValidatorSet> validator_set() const;

  /// JSON, balances as decimal strings (they exceed 64 bits).
  std::string to_json() const;
};

/// The address of generated account `i`: the first 20 bytes of
/// sha256("openliquid/generated-account/v1" || u64 LE i). Nobody holds its key.
crypto::Address generated_account(std::uint64_t i);

/// Parses and validates: at least one validator, no duplicate keys, balances are decimal, and
/// the application genesis passes execution::Genesis::validate (no duplicate addresses, total
/// supply within 128 bits, the faucet, if any, is allocated).
Result<Genesis> parse_genesis(std::string_view json_text, const std::string& origin = "genesis");
Result<Genesis> load_genesis(const std::filesystem::path& path);

}  // namespace ol::node
