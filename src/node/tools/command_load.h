// The consensus-only load (libhotstuff's benchmark shape): one client keeps up to `outstanding`
// fixed-size commands in flight, submits them in batches to every node (POST /bench/commands;
// whichever leader proposes a command first wins, the other pools drop it at commit) and
// observes commits through the GET /bench/commits long-poll. Nodes must run with
// consensus.payload = "commands".
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "node/tools/async_http.h"
#include "node/tools/local_network.h"
#include "node/tools/stats.h"

namespace ol::node::tools {

struct CommandLoadOptions {
  std::vector<RpcEndpoint> nodes;
  double duration_s = 10;
  std::size_t command_size = 32;  // bytes; the first 16 are the id (client id, sequence)
  std::size_t outstanding = 8000;
  std::size_t batch = 400;  // commands per POST
  double drain_s = 3;
};

struct CommandLoadReport {
  double window_s = 0;
  std::uint64_t submitted = 0;
  std::uint64_t committed_in_window = 0;
  std::uint64_t committed = 0;  // including the drain
  std::uint64_t refused = 0;    // batches a full pool refused (sent again later)
  std::uint64_t highest_height = 0;
  LatencySummary latency;
  std::string first_error;
};

/// One command's bytes: big-endian client id, big-endian sequence, then zero padding.
void write_command(std::uint8_t* out, std::size_t size, std::uint64_t client,
                   std::uint64_t sequence);

/// One block of a GET /bench/commits body.
struct CommittedCommands {
  std::uint64_t height = 0;
  std::uint64_t commit_ms = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ids;  // (client id, sequence)
};

/// Parses a GET /bench/commits body (docs/RPC.md; all integers big-endian). Error on a truncated
/// body or a count the body cannot hold.
Result<std::vector<CommittedCommands>> parse_bench_commits(ByteView body);

class CommandLoad {
 public:
  CommandLoad(asio::io_context& io, CommandLoadOptions opts);
  ~CommandLoad();
  CommandLoad(const CommandLoad&) = delete;
  CommandLoad& operator=(const CommandLoad&) = delete;

  Task<CommandLoadReport> run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ol::node::tools
