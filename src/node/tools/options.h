// The devnet and bench command lines as plain values, with the checks that turn bad
// combinations into one-line reasons (before anything starts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace ol::node::tools {

struct DevnetOptions {
  std::size_t validators = 4;
  double rate = 100;      // signed transfers per second; 0 = no load
  std::string dir;        // empty: a temporary directory
  double duration_s = 0;  // 0: until Ctrl-C
  std::size_t accounts = 16;
  std::uint32_t startup_timeout_s = 60;
};

struct BenchOptions {
  std::vector<std::string> rpc;  // node URLs (http://127.0.0.1:8600); empty with --local
  bool local = false;            // start a local network of validator processes
  std::size_t validators = 4;    // with --local; without it, the count for the limit figure
  bool validators_set = false;
  std::string dir;  // with --local: where (default a temporary directory)
  double duration_s = 10;
  // Signed transfers.
  double rate = 1000;
  bool open_loop = false;
  std::size_t accounts = 64;
  std::string faucet;  // key file; --local uses the network's own
  // Per node; unset: connections_for_rate (at least 4).
  std::optional<std::size_t> connections;
  std::size_t submit_batch = 1;  // transactions per request: 1 = POST /tx, more = POST /txs
  // Consensus-only commands.
  bool commands = false;
  std::size_t command_size = 32;
  std::size_t outstanding = 8000;
  std::size_t batch = 400;  // commands per submission, and (--local) consensus.max_block_txs
  // With --local: consensus.min_block_interval_ms for the nodes (unset: the config default).
  std::optional<std::uint32_t> min_block_interval_ms;
  // With --local: mempool.capacity for the nodes (unset: the config default). A small pool makes
  // admission refuse with "mempool full", which the load generator submits again.
  std::optional<std::uint32_t> mempool_capacity;
  // Runs of the same load, each on a fresh --local network (unset: 1; with --sweep, 3 at 80%).
  std::optional<std::size_t> repeat;
  // Signed, --local: raise the rate from --rate by sweep_step while it is sustained (up to
  // sweep_max), then measure the latency at 80% of the highest sustained rate.
  bool sweep = false;
  double sweep_step = 500;
  double sweep_max = 100'000;
};

Status validate(const DevnetOptions& o);
Status validate(const BenchOptions& o);

}  // namespace ol::node::tools
