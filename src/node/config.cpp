#include "node/config.h"

#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <toml.hpp>

namespace ol::node {
namespace {

// toml11 reports problems by throwing; this file is the boundary that turns them into values.
class TableReader {
 public:
  TableReader(const toml::value& table, std::string path, const std::string& origin)
      : table_(table), path_(std::move(path)), origin_(origin) {}

  template <typename T>
  Status read(const char* key, T& out) {
    seen_.insert(key);
    if (!table_.contains(key)) return {};
    try {
      if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
        auto v = toml::get<std::int64_t>(table_.at(key));
        if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max()) {
          return bad(key, "out of range");
        }
        out = static_cast<T>(v);
      } else {
        out = toml::get<T>(table_.at(key));
      }
    } catch (const std::exception&) {
      return bad(key, std::is_same_v<T, std::string> ? "must be a string"
                      : std::is_same_v<T, bool>      ? "must be true or false"
                      : std::is_unsigned_v<T>        ? "must be a non-negative integer"
                                                     : "has the wrong type");
    }
    return {};
  }

  /// Marks a key as known without reading it (sub-tables read by their own reader).
  void mark(const char* key) { seen_.insert(key); }

  /// Errors on any key not read: typos must not silently become defaults.
  Status reject_unknown() const {
    if (!table_.is_table()) return {};
    for (const auto& [k, v] : table_.as_table()) {
      if (!seen_.count(k)) {
        return make_error(Errc::invalid_argument,
                          origin_ + ": unknown key '" + qualified(k.c_str()) + "'");
      }
    }
    return {};
  }

 private:
  std::string qualified(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  Error bad(const char* key, const char* what) const {
    return make_error(Errc::invalid_argument, origin_ + ": '" + qualified(key) + "' " + what);
  }
  const toml::value& table_;
  std::string path_;
  const std::string& origin_;
  std::set<std::string> seen_;
};

Status read_section(const toml::value& root, TableReader& top, const char* name,
                    const std::string& origin, const std::function<Status(TableReader&)>& body) {
  top.mark(name);
  if (!root.contains(name)) return {};
  const auto& t = root.at(name);
  if (!t.is_table()) {
    return make_error(Errc::invalid_argument, origin + ": '" + name + "' must be a table");
  }
  TableReader r(t, name, origin);
  OL_TRY(body(r));
  return r.reject_unknown();
}

}  // namespace

Result<NodeConfig> parse_config(std::string_view toml_text, const std::string& origin) {
  toml::value root;
  try {
    std::istringstream in{std::string(toml_text)};
    root = toml::parse(in, origin);
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, std::string("invalid TOML: ") + e.what());
  }
  NodeConfig c;
  TableReader top(root, "", origin);
  OL_TRY(top.read("log_level", c.log_level));
  OL_TRY(top.read("validator_key", c.validator_key));
  OL_TRY(top.read("genesis", c.genesis));
  OL_TRY(top.read("signing_journal", c.signing_journal));
  OL_TRY(read_section(root, top, "network", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("listen", c.network.listen));
    OL_TRY(r.read("bootstrap", c.network.bootstrap));
    OL_TRY(r.read("max_peers", c.network.max_peers));
    OL_TRY(r.read("heartbeat_ms", c.network.heartbeat_ms));
    OL_TRY(r.read("connection_timeout_ms", c.network.connection_timeout_ms));
    OL_TRY(r.read("redial_base_ms", c.network.redial_base_ms));
    OL_TRY(r.read("redial_cap_ms", c.network.redial_cap_ms));
    OL_TRY(r.read("peer_max_msgs_per_sec", c.network.peer_max_msgs_per_sec));
    return r.read("peer_max_bytes_per_sec", c.network.peer_max_bytes_per_sec);
  }));
  OL_TRY(read_section(root, top, "rpc", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("listen", c.rpc.listen));
    return r.read("max_connections", c.rpc.max_connections);
  }));
  OL_TRY(read_section(root, top, "consensus", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("round_timeout_base_ms", c.consensus.round_timeout_base_ms));
    OL_TRY(r.read("round_timeout_cap_ms", c.consensus.round_timeout_cap_ms));
    OL_TRY(r.read("max_block_txs", c.consensus.max_block_txs));
    OL_TRY(r.read("max_block_bytes", c.consensus.max_block_bytes));
    OL_TRY(r.read("payload", c.consensus.payload));
    OL_TRY(r.read("empty_block_wait_ms", c.consensus.empty_block_wait_ms));
    return r.read("min_block_interval_ms", c.consensus.min_block_interval_ms);
  }));
  OL_TRY(read_section(root, top, "storage", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("path", c.storage.path));
    OL_TRY(r.read("keep_blocks", c.storage.keep_blocks));
    return r.read("memtable_mb", c.storage.memtable_mb);
  }));
  OL_TRY(read_section(root, top, "mempool", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("capacity", c.mempool.capacity));
    OL_TRY(r.read("future_capacity", c.mempool.future_capacity));
    return r.read("future_lifetime_ms", c.mempool.future_lifetime_ms);
  }));
  OL_TRY(read_section(root, top, "sync", origin, [&](TableReader& r) -> Status {
    OL_TRY(r.read("checkpoint_interval", c.sync.checkpoint_interval));
    OL_TRY(r.read("checkpoints_keep", c.sync.checkpoints_keep));
    OL_TRY(r.read("state_sync", c.sync.state_sync));
    OL_TRY(r.read("batch", c.sync.batch));
    OL_TRY(r.read("request_timeout_ms", c.sync.request_timeout_ms));
    OL_TRY(r.read("catch_up_lag", c.sync.catch_up_lag));
    return r.read("poll_ms", c.sync.poll_ms);
  }));
  OL_TRY(top.reject_unknown());
  if (c.sync.checkpoints_keep == 0 || c.sync.batch < 2 || c.sync.batch > 512 ||
      c.sync.request_timeout_ms == 0 || c.sync.poll_ms == 0) {
    return make_error(Errc::invalid_argument,
                      origin +
                          ": sync.checkpoints_keep, request_timeout_ms and poll_ms must be > 0 "
                          "and sync.batch in 2 .. 512");
  }
  if (c.consensus.round_timeout_base_ms == 0 ||
      c.consensus.round_timeout_cap_ms < c.consensus.round_timeout_base_ms) {
    return make_error(
        Errc::invalid_argument,
        origin + ": consensus.round_timeout_base_ms must be > 0 and ≤ round_timeout_cap_ms");
  }
  if (c.consensus.payload != "transactions" && c.consensus.payload != "commands") {
    return make_error(Errc::invalid_argument,
                      origin + ": consensus.payload must be \"transactions\" or \"commands\"");
  }
  if (c.consensus.max_block_txs == 0 || c.consensus.max_block_bytes == 0) {
    return make_error(Errc::invalid_argument,
                      origin + ": consensus.max_block_txs and max_block_bytes must be > 0");
  }
  if (c.consensus.empty_block_wait_ms >= c.consensus.round_timeout_base_ms) {
    return make_error(
        Errc::invalid_argument,
        origin + ": consensus.empty_block_wait_ms must be below round_timeout_base_ms");
  }
  if (c.consensus.min_block_interval_ms * 2 > c.consensus.round_timeout_base_ms) {
    return make_error(
        Errc::invalid_argument,
        origin + ": consensus.min_block_interval_ms must be at most half of round_timeout_base_ms");
  }
  if (c.rpc.max_connections == 0) {
    return make_error(Errc::invalid_argument, origin + ": rpc.max_connections must be > 0");
  }
  if (c.mempool.future_lifetime_ms < 1000) {
    return make_error(Errc::invalid_argument,
                      origin +
                          ": mempool.future_lifetime_ms must be ≥ 1000 (the pool is swept "
                          "once a second)");
  }
  if (c.network.redial_base_ms == 0 || c.network.redial_cap_ms < c.network.redial_base_ms) {
    return make_error(Errc::invalid_argument,
                      origin + ": network.redial_base_ms must be > 0 and ≤ redial_cap_ms");
  }
  return c;
}

Result<NodeConfig> load_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::not_found, "cannot read config file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path.string());
}

std::string NodeConfig::to_toml() const {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    return out + "\"";
  };
  std::ostringstream o;
  o << "# OpenLiquid node configuration. Paths are relative to the node's home directory.\n"
    << "log_level = " << q(log_level) << "   # trace, debug, info, warn, error, critical, off\n"
    << "validator_key = " << q(validator_key) << "\n"
    << "genesis = " << q(genesis) << "\n"
    << "signing_journal = " << (signing_journal ? "true" : "false")
    << "   # journal signed votes/timeouts/proposals (chaos checks)\n\n"
    << "[network]\n"
    << "listen = " << q(network.listen) << "\n"
    << "bootstrap = [";
  for (std::size_t i = 0; i < network.bootstrap.size(); ++i) {
    o << (i ? ", " : "") << q(network.bootstrap[i]);
  }
  o << "]\n"
    << "max_peers = " << network.max_peers << "\n"
    << "heartbeat_ms = " << network.heartbeat_ms << "\n"
    << "connection_timeout_ms = " << network.connection_timeout_ms << "\n"
    << "redial_base_ms = " << network.redial_base_ms << "\n"
    << "redial_cap_ms = " << network.redial_cap_ms << "\n"
    << "peer_max_msgs_per_sec = " << network.peer_max_msgs_per_sec << "\n"
    << "peer_max_bytes_per_sec = " << network.peer_max_bytes_per_sec << "\n\n"
    << "[rpc]\n"
    << "listen = " << q(rpc.listen) << "\n"
    << "max_connections = " << rpc.max_connections << "   # more are answered 503 and closed\n\n"
    << "[consensus]\n"
    << "round_timeout_base_ms = " << consensus.round_timeout_base_ms << "\n"
    << "round_timeout_cap_ms = " << consensus.round_timeout_cap_ms << "\n"
    << "max_block_txs = " << consensus.max_block_txs << "\n"
    << "max_block_bytes = " << consensus.max_block_bytes << "\n"
    << "payload = " << q(consensus.payload) << "   # transactions, or commands (benchmark mode)\n"
    << "empty_block_wait_ms = " << consensus.empty_block_wait_ms << "\n"
    << "min_block_interval_ms = " << consensus.min_block_interval_ms
    << "   # a leader that cannot fill a block waits this long after the last proposal\n\n"
    << "[storage]\n"
    << "path = " << q(storage.path) << "\n"
    << "keep_blocks = " << storage.keep_blocks << "   # 0 = archival\n"
    << "memtable_mb = " << storage.memtable_mb << "   # RocksDB memtables in all; 0 = no total\n\n"
    << "[mempool]\n"
    << "capacity = " << mempool.capacity << "\n"
    << "future_capacity = " << mempool.future_capacity
    << "   # of those, transactions waiting for a lower nonce\n"
    << "future_lifetime_ms = " << mempool.future_lifetime_ms
    << "   # then such a transaction is dropped\n\n"
    << "[sync]\n"
    << "checkpoint_interval = " << sync.checkpoint_interval << "   # 0 = no checkpoints\n"
    << "checkpoints_keep = " << sync.checkpoints_keep << "\n"
    << "state_sync = " << (sync.state_sync ? "true" : "false")
    << "   # bootstrap an empty store from peers' newest checkpoint\n"
    << "batch = " << sync.batch << "   # blocks per sync request (2 .. 512)\n"
    << "request_timeout_ms = " << sync.request_timeout_ms << "\n"
    << "catch_up_lag = " << sync.catch_up_lag
    << "   # a validator this far behind block-syncs (0 = never)\n"
    << "poll_ms = " << sync.poll_ms << "\n";
  return o.str();
}

}  // namespace ol::node
