// A local network of validator processes on 127.0.0.1: `init` into a directory, one child
// `openliquid node --home DIR/node<i>` per validator (logging to DIR/node<i>/node.log), health
// checks over RPC, and a clean stop. Shared by `openliquid devnet` and `openliquid bench --local`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "node/genesis.h"

namespace ol::node::tools {

/// One `key = value` line to set in a node's config.toml (`value` is a TOML literal, e.g. "400"
/// or "\"commands\""). Replaces the key in `section` or appends it there.
struct ConfigEdit {
  std::string section;
  std::string key;
  std::string value;
};

/// Returns `toml` with `edit` applied (the text otherwise unchanged).
std::string apply_config_edit(std::string toml, const ConfigEdit& edit);

struct LocalNetworkOptions {
  std::size_t validators = 4;
  std::filesystem::path dir;  // empty: a fresh directory under $TMPDIR; existing network: reused
  std::vector<ConfigEdit> config_edits;
  std::filesystem::path node_binary;  // empty: this executable
};

struct RpcEndpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string url() const { return "http://" + host + ":" + std::to_string(port); }
};

/// A child that exited: which, and how.
struct ChildExit {
  std::size_t index = 0;
  pid_t pid = 0;
  std::string how;  // "exited with status 1", "killed by signal 9"
};

class LocalNetwork {
 public:
  /// Runs init (validators on free ports) unless `dir` already holds a network (genesis.json),
  /// which is then reused as configured; applies the config edits. Nothing is started.
  static Result<std::unique_ptr<LocalNetwork>> create(const LocalNetworkOptions& opts);
  /// Stops every child still running (SIGTERM, then SIGKILL after a grace period).
  ~LocalNetwork();
  LocalNetwork(const LocalNetwork&) = delete;
  LocalNetwork& operator=(const LocalNetwork&) = delete;

  /// Starts every validator as a child process in its own process group (so a terminal's Ctrl-C
  /// reaches only this process, which then stops the children in order). On Linux a child also
  /// gets SIGTERM if this process dies without stopping it.
  Status start();

  /// Polls GET /status on every node (every 200 ms) until all answer and the chain's height has
  /// advanced past what it was when they first all answered. `progress` gets a one-line message
  /// after each poll and returns false to give up (error state "interrupted"). Other errors name
  /// a node that died (with its log tail) or say what was still missing at `timeout`.
  Status wait_until_healthy(std::chrono::seconds timeout,
                            const std::function<bool(const std::string&)>& progress);

  /// Collects children that exited since the last call (non-blocking).
  std::vector<ChildExit> reap();

  /// SIGTERM to every running child, waits up to `grace`, then SIGKILL. Returns how many needed
  /// SIGKILL.
  std::size_t stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  /// The last `lines` lines of node i's log.
  std::string log_tail(std::size_t index, std::size_t lines = 15) const;

  std::size_t size() const { return children_.size(); }
  const std::vector<RpcEndpoint>& rpc() const { return rpc_; }
  const std::filesystem::path& dir() const { return dir_; }
  bool is_temporary() const { return temporary_; }
  std::filesystem::path faucet_key_file() const { return dir_ / "faucet_key.json"; }
  const Genesis& genesis() const { return genesis_; }
  bool running(std::size_t index) const { return children_[index].pid > 0; }
  /// CPU seconds (user + system, from /proc/<pid>/stat) used so far by the running children.
  double cpu_seconds() const;
  /// The same per thread name, summed over the children's live threads
  /// (/proc/<pid>/task/<tid>): "ol-core", "ol-verify", "rocksdb:low", ... and the process name
  /// for the io thread (and any unnamed thread). A thread that has exited no longer counts.
  std::map<std::string, double> cpu_seconds_by_thread() const;
  /// Each child's peak resident memory so far, in bytes (VmHWM in /proc/<pid>/status), in
  /// validator order; 0 for a child that is not running or cannot be read.
  std::vector<std::uint64_t> peak_resident_bytes() const;

 private:
  LocalNetwork() = default;
  struct Child {
    pid_t pid = -1;
    std::filesystem::path home;
  };
  std::filesystem::path dir_;
  bool temporary_ = false;
  std::filesystem::path binary_;
  // The executable as it was when the network was created, open: every start and restart runs
  // that file, even if a build has replaced the path since (a long chaos or soak run would
  // otherwise restart its validators with whatever the path holds at that moment, or with
  // nothing while the linker writes it).
  int binary_fd_ = -1;
  Genesis genesis_;
  std::vector<Child> children_;
  std::vector<RpcEndpoint> rpc_;
};

/// "<how node i ended>; last lines of <log>:\n<tail>" for error messages.
std::string describe_exit(const LocalNetwork& net, const ChildExit& e);

}  // namespace ol::node::tools
