// A node's configuration file (TOML). Every field has a default except what `init` writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"

namespace ol::node {

struct NetworkConfig {
  std::string listen = "/ip4/127.0.0.1/tcp/26600";  // multiaddr this node listens on
  std::vector<std::string> bootstrap;               // multiaddrs dialled at start
  std::uint32_t max_peers = 50;
  std::uint32_t heartbeat_ms = 1000;  // gossipsub heartbeat
  std::uint32_t connection_timeout_ms = 5000;
  std::uint32_t redial_base_ms = 250;  // backoff for lost validator connections
  std::uint32_t redial_cap_ms = 10'000;
  std::uint32_t peer_max_msgs_per_sec = 20'000;  // inbound rate limits per peer
  std::uint64_t peer_max_bytes_per_sec = 64ull << 20;
};

struct RpcConfig {
  std::string listen = "127.0.0.1:8600";  // HTTP/JSON; loopback unless the operator says otherwise
  /// Open connections at most (≥ 1); one more is answered 503 "too many connections" and closed.
  std::uint32_t max_connections = 1024;
};

struct ConsensusConfig {
  std::uint32_t round_timeout_base_ms = 1000;
  std::uint32_t round_timeout_cap_ms = 30'000;
  std::uint32_t max_block_txs = 5000;
  std::uint32_t max_block_bytes = 4u << 20;
  /// "transactions" (signed user transactions, executed) or "commands" (consensus-only benchmark
  /// mode: opaque fixed-size commands, no signatures, no execution; see docs/RPC.md).
  std::string payload = "transactions";
  /// A leader with nothing to propose (empty pool, and neither parent nor grandparent carries a
  /// payload) waits up to this long for one before proposing an empty block; 0 = never waits.
  /// Keeps an idle chain from spinning through empty rounds; a payload arriving ends the wait.
  std::uint32_t empty_block_wait_ms = 100;
  /// A leader whose pool cannot fill a block proposes no sooner than this long after the last
  /// proposal it received (or made); 0 = at once. Every block costs each validator a fixed
  /// amount of work (signatures, a synced write, messages, a commit), so under load fewer, fuller
  /// blocks leave more CPU for transactions; it adds at most this much to a block's wait.
  std::uint32_t min_block_interval_ms = 5;
};

struct StorageConfig {
  std::string path = "data";      // relative to the home directory
  std::uint64_t keep_blocks = 0;  // 0 = archival (keep every block body)
  /// RocksDB memtables of all column families together, in MiB, before one is flushed (0 = no
  /// total: up to two 64 MiB memtables for each of the 8 column families).
  std::uint32_t memtable_mb = 64;
};

struct MempoolConfig {
  std::uint32_t capacity = 100'000;  // transactions; beyond it admission says "mempool full"
  /// Of those, transactions waiting for a lower nonce of their sender that is not here (0 =
  /// admit only what can execute next; above capacity it is capacity), and how long one may
  /// wait before it is dropped (≥ 1000).
  std::uint32_t future_capacity = 10'000;
  std::uint32_t future_lifetime_ms = 60'000;
};

/// Catch-up and checkpoints (src/sync; see src/node/sync_driver.h).
struct SyncConfig {
  /// Snapshot the application state every this many committed heights (0 = never); peers can
  /// bootstrap from it with --state-sync.
  std::uint64_t checkpoint_interval = 1000;
  std::uint32_t checkpoints_keep = 2;  // newest checkpoints kept (≥ 1)
  /// On an empty store, install the newest checkpoint peers can prove, then block-sync the rest
  /// (also `openliquid node --state-sync`).
  bool state_sync = false;
  std::uint32_t batch = 256;                  // blocks per GetBlocks request (2 .. 512)
  std::uint32_t request_timeout_ms = 10'000;  // per sync request
  /// A running validator this many heights behind a peer's tip leaves consensus, block-syncs and
  /// rejoins (0 = never).
  std::uint32_t catch_up_lag = 64;
  // A full node block-syncs on every commit notice (gossip) and at least this often; a
  // validator's lag check runs every max(poll_ms, 1000) ms.
  std::uint32_t poll_ms = 300;
};

struct NodeConfig {
  std::string log_level = "info";
  std::string validator_key = "validator_key.json";  // relative to home; absent = full node
  std::string genesis = "genesis.json";              // relative to home
  /// Append every vote, timeout and proposal this validator signs to <home>/signing.journal
  /// before sending it (for `openliquid chaos`'s double-signing check). Off by default.
  bool signing_journal = false;
  NetworkConfig network;
  RpcConfig rpc;
  ConsensusConfig consensus;
  StorageConfig storage;
  MempoolConfig mempool;
  SyncConfig sync;

  /// Serializes to TOML (what `init` writes).
  std::string to_toml() const;
};

/// Parses TOML text. Unknown keys are errors (a typo must not silently fall back to a default);
/// errors name the key and the problem. `origin` names the file in messages.
Result<NodeConfig> parse_config(std::string_view toml_text, const std::string& origin = "config");

/// Reads and parses `path`.
Result<NodeConfig> load_config(const std::filesystem::path& path);

}  // namespace ol::node
