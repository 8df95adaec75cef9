// The signed-transfer load: funds demo accounts from the faucet, then submits signed transfers at
// a paced rate (or open loop) over keep-alive connections to every node, and follows committed
// blocks to measure submit-to-commit latency. Runs as coroutines on one io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/tools/async_http.h"
#include "node/tools/local_network.h"
#include "node/tools/stats.h"

namespace ol::node::tools {

struct SignedLoadOptions {
  std::vector<RpcEndpoint> nodes;
  double rate = 100;       // transactions per second over all nodes; ignored when open_loop
  bool open_loop = false;  // submit as fast as the nodes accept
  double duration_s = 0;   // 0: until stop()
  std::size_t accounts = 16;
  std::filesystem::path faucet_key;
  /// Sign every transaction before the clock starts (bench) instead of just in time (devnet).
  /// Requires duration_s > 0; `presign_count` overrides rate × duration (open loop).
  bool presign = false;
  std::uint64_t presign_count = 0;
  std::size_t connections_per_node = 4;
  /// Transactions per request, at most: 1 = POST /tx each; more = POST /txs with what is due.
  std::size_t submit_batch = 1;
  double drain_s = 5;  // after the load stops, how long to keep following commits
  /// 0: off. Otherwise a transaction accepted but not seen committed this many seconds after it
  /// was last sent is sent again, to the same node (chaos, devnet): one lost with a killed
  /// node's pool would otherwise hold back every later nonce of its sender for good, and a long
  /// chaos run's load used to decay to a fraction of its rate that way.
  double resend_after_s = 0;
};

/// The resend_after_s of the chaos tool's and the devnet's loads.
inline constexpr double kLoadResendAfterS = 5;

/// Keep-alive connections per node enough to offer `rate` tx/s in requests of `submit_batch`
/// with one request in flight on each: a loaded node answers a submission in a few ms, so each
/// connection is counted for 150 requests a second (at least `floor`, at most 64). Four per node,
/// the old fixed default, could not offer more than ~3,500 tx/s to four nodes.
std::size_t connections_for_rate(double rate, std::size_t nodes, std::size_t submit_batch,
                                 std::size_t floor);

/// What the live status line shows, since the previous take.
struct LoadWindow {
  std::uint64_t committed = 0;
  std::vector<double> latencies_ms;
};

struct SignedLoadReport {
  double window_s = 0;        // from the first submission to the end of the load
  std::uint64_t offered = 0;  // transactions the pacer released
  /// Released by the pacer but never sent by the end of the load: every connection was still
  /// waiting for a reply (0 in open loop). Many means the offered rate was not really offered.
  std::uint64_t unsent = 0;
  std::uint64_t accepted = 0;  // admitted by POST /tx or /txs
  std::uint64_t committed_in_window = 0;
  /// Committed within window_s of the first commit: the window shifted by the pipeline's
  /// initial latency, so that (unlike committed_in_window) a short run at a rate the chain
  /// sustains counts all of it.
  std::uint64_t committed_after_first = 0;
  std::uint64_t committed = 0;  // including the drain
  std::uint64_t rejected = 0;   // a 4xx other than "full"; the transaction is dropped
  std::uint64_t retried = 0;    // "mempool full" or a transport error, submitted again
  std::uint64_t resent = 0;     // accepted, not committed after resend_after_s: sent again
  std::uint64_t lost = 0;       // accepted but not seen committed by the end of the drain
  std::uint64_t highest_height = 0;
  LatencySummary latency;
  std::string first_error;
};

class SignedLoad {
 public:
  SignedLoad(asio::io_context& io, SignedLoadOptions opts);
  ~SignedLoad();
  SignedLoad(const SignedLoad&) = delete;
  SignedLoad& operator=(const SignedLoad&) = delete;

  /// Reads the chain id and the faucet's nonce, funds the accounts and waits until the funding
  /// is committed, then (with presign) signs every transaction. `progress` gets one-line
  /// messages.
  Task<Status> prepare(std::function<void(const std::string&)> progress);

  /// Submits until the duration ends or stop(), then follows commits for the drain period.
  Task<SignedLoadReport> run();

  /// Ends the load early (the drain is skipped).
  void stop();

  /// Commits and latencies since the previous call.
  LoadWindow take_window();
  std::uint64_t committed_total() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ol::node::tools
