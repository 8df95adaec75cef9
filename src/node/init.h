// `openliquid init`: keys, genesis and one config per validator for a local network.
#pragma once

#include <filesystem>

#include "node/genesis.h"

namespace ol::node {

struct InitOptions {
  std::size_t validators = 4;
  std::filesystem::path dir;
  std::uint16_t base_p2p_port = 26600;  // validator i listens on base + i
  std::uint16_t base_rpc_port = 8600;   // validator i serves RPC on base + i
  std::uint64_t chain_id = 1337;
  std::string host = "127.0.0.1";
  /// Full nodes (no validator key; they follow the chain by block sync): full<j>/ homes, p2p and
  /// RPC ports right after the validators' (base + validators + j).
  std::size_t full_nodes = 0;
  /// Test/devnet: genesis "generated_accounts" (see genesis.h), each funded with 1 token.
  std::uint64_t generated_accounts = 0;
};

/// Creates `dir` (which must not exist or be empty) holding:
///   genesis.json, faucet_key.json (secp256k1, the funded devnet faucet),
///   node<i>/{config.toml, validator_key.json, genesis.json} for i in [0, validators),
///   full<j>/{config.toml, genesis.json} for j in [0, full_nodes).
/// Port ranges are checked to fit below 65536 and not to overlap. Returns the genesis written.
Result<Genesis> init_network(const InitOptions& opts);

/// A random base port such that base .. base + count - 1 are free on 127.0.0.1 right now, taken
/// below Linux's ephemeral range (32768+, where outgoing connections get their source ports, so a
/// stopped node's port is not taken by one before it restarts). Random, so concurrent devnets and
/// tests rarely collide; nothing can reserve the ports.
Result<std::uint16_t> find_free_port_range(std::size_t count);

}  // namespace ol::node
