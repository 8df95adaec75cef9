// The node's metrics and their Prometheus text form (format 0.0.4; names in docs/RPC.md).
// Counters are atomics written by the core thread and read by the RPC thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "consensus/aggregator.h"

namespace ol::node {

/// A fixed-bucket histogram of durations in seconds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                     0.5,   1.0,  2.5,   5.0,  10.0, 30.0};
  void observe(double seconds);
  /// `name`_bucket{le=...} (cumulative), `name`_sum, `name`_count.
  void render(std::string& out, const std::string& name) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last = +Inf only
  std::atomic<std::uint64_t> sum_us_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Values read at scrape time from other components.
struct MetricGauges {
  std::uint64_t mempool_size = 0;
  std::uint64_t mempool_future = 0;  // of those, waiting for a lower nonce
  std::uint64_t memtable_bytes = 0;  // RocksDB memtables (storage.memtable_mb bounds them)
  std::uint64_t peers = 0;
  std::uint64_t validator_peers = 0;
  bool partitioned = false;
  std::uint64_t net_messages_in = 0, net_messages_out = 0;
  std::uint64_t net_bytes_in = 0, net_bytes_out = 0;
};

struct Metrics {
  std::atomic<std::uint64_t> height{0};
  std::atomic<std::uint64_t> round{0};
  std::atomic<std::uint64_t> commits_total{0};
  std::atomic<std::uint64_t> timeouts_total{0};
  std::atomic<std::uint64_t> state_root_mismatches{0};  // votes withheld: an anchored root differs
  std::atomic<std::uint64_t> replayed_proposals{0};  // votes withheld: a transaction proposed again
  std::atomic<std::uint64_t> rounds_total{0};
  std::atomic<std::uint64_t> txs_committed_total{0};
  std::atomic<std::uint64_t> tx_rejected_total{0};
  std::atomic<std::uint64_t> tx_gossip_shed_total{0};     // gossiped txs dropped: verifier backlog
  std::atomic<std::uint64_t> tx_expired_total{0};         // dropped after waiting for a lower nonce
  std::atomic<std::uint64_t> rpc_connections{0};          // open HTTP connections served
  std::atomic<std::uint64_t> rpc_refused_total{0};        // over rpc.max_connections: 503
  std::atomic<std::uint64_t> rpc_accept_errors_total{0};  // e.g. out of file descriptors
  std::atomic<std::uint64_t> rpc_offloaded_txs_total{0};  // admitted off the io thread
  std::atomic<std::uint64_t> tx_busy_total{0};  // POST /tx refused 503 "busy" (verifier backlog)
  // Consensus inputs refused, added up over every core this node runs (Core::publish_status).
  std::atomic<std::uint64_t> consensus_invalid_total{0};  // consensus::ReplicaStats::invalid
  std::atomic<std::uint64_t> proposal_equivocations_total{0};
  /// By consensus::DropCounts::kReasons.
  std::array<std::atomic<std::uint64_t>, consensus::DropCounts::kReasons.size()> vote_drops{};
  std::array<std::atomic<std::uint64_t>, consensus::DropCounts::kReasons.size()> timeout_drops{};
  LatencyHistogram commit_latency;

  /// The whole exposition text.
  std::string render(const MetricGauges& gauges) const;
};

}  // namespace ol::node
