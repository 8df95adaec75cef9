#include "node/tools/status_line.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace ol::node::tools {

Result<NodeStatus> parse_node_status(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(Errc::decode, "status is not a JSON object");
  if (!j.contains("height") || !j["height"].is_number_unsigned()) {
    return make_error(Errc::decode, "status has no height");
  }
  auto u64 = [&](const char* key) -> std::uint64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
  };
  auto flag = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
  };
  NodeStatus s;
  s.chain_id = u64("chain_id");
  s.height = u64("height");
  s.round = u64("round");
  s.peers = u64("peers");
  s.validator_peers = u64("validator_peers");
  s.partitioned = flag("partitioned");
  s.syncing = flag("syncing");
  s.mempool_size = u64("mempool_size");
  return s;
}

std::string format_status(const StatusSnapshot& s) {
  std::uint64_t height = 0, mempool = 0;
  std::optional<std::uint64_t> min_peers;
  bool partitioned = false;
  std::string down;
  for (std::size_t i = 0; i < s.nodes.size(); ++i) {
    const auto& n = s.nodes[i];
    if (!n) {
      down += (down.empty() ? "" : ",") + std::string("node") + std::to_string(i);
      continue;
    }
    height = std::max(height, n->height);
    mempool = std::max(mempool, n->mempool_size);
    min_peers = std::min(min_peers.value_or(n->validator_peers), n->validator_peers);
    partitioned = partitioned || n->partitioned;
  }
  char buf[320];
  auto ms = [](const std::optional<double>& v) {
    if (!v) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", *v);
    return std::string(b);
  };
  const std::size_t others = s.nodes.empty() ? 0 : s.nodes.size() - 1;
  std::snprintf(buf, sizeof buf,
                "t %.0fs | height %llu | %.0f tx/s | e2e p50 %s ms p99 %s ms | peers %s/%zu | "
                "partition %s | mempool %llu | %llu committed",
                s.elapsed_s, static_cast<unsigned long long>(height), s.committed_tps,
                ms(s.p50_ms).c_str(), ms(s.p99_ms).c_str(),
                min_peers ? std::to_string(*min_peers).c_str() : "-", others,
                partitioned ? "YES" : "no", static_cast<unsigned long long>(mempool),
                static_cast<unsigned long long>(s.committed_total));
  std::string line = buf;
  if (!down.empty()) line += " | down: " + down;
  return line;
}

}  // namespace ol::node::tools
