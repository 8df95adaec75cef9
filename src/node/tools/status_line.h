// The devnet's one-line live status: what each node's GET /status says, plus the load's view.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ol::node::tools {

/// The fields of GET /status (docs/RPC.md) the tools use.
struct NodeStatus {
  std::uint64_t chain_id = 0;
  std::uint64_t height = 0;
  std::uint64_t round = 0;
  std::uint64_t peers = 0;
  std::uint64_t validator_peers = 0;
  bool partitioned = false;
  bool syncing = false;
  std::uint64_t mempool_size = 0;
};

/// Parses a GET /status body. Missing optional fields keep their defaults; a body that is not a
/// JSON object or lacks "height" is an error.
Result<NodeStatus> parse_node_status(std::string_view json_text);

/// One refresh of the live line. `nodes[i]` is empty when node i did not answer.
struct StatusSnapshot {
  double elapsed_s = 0;
  std::vector<std::optional<NodeStatus>> nodes;
  double committed_tps = 0;              // the load's transactions committed per second
  std::optional<double> p50_ms, p99_ms;  // submit-to-commit over the recent window
  std::uint64_t committed_total = 0;
};

/// "t 12s | height 57 | 480 tx/s | e2e p50 31 ms p99 88 ms | peers 3/3 | partition no |
/// mempool 41 | 12034 committed"; nodes that did not answer are named ("node2 down").
/// Peers is the smallest validator-peer count of the answering nodes over n - 1; height and
/// mempool are the largest.
std::string format_status(const StatusSnapshot& s);

}  // namespace ol::node::tools
