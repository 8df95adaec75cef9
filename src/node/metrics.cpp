#include "node/metrics.h"

#include <cstdio>

#include "types/transaction.h"

namespace ol::node {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, std::uint64_t value, const char* labels = "") {
  out += name;
  out += labels;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void metric(std::string& out, const char* name, const char* type, const char* help,
            std::uint64_t value) {
  family(out, name, type, help);
  sample(out, name, value);
}

}  // namespace

void LatencyHistogram::observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also catches NaN
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, const std::string& name) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += name + "_bucket{le=\"" + number(kBounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + number(sum_us_.load(std::memory_order_relaxed) / 1e6) + "\n";
  // The count is the +Inf bucket, so the two always agree within one scrape.
  out += name + "_count " + std::to_string(cumulative) + "\n";
}

std::string Metrics::render(const MetricGauges& g) const {
  std::string out;
  out.reserve(4096);
  metric(out, "openliquid_height", "gauge", "Height of the last committed block.", height.load());
  metric(out, "openliquid_round", "gauge", "Current consensus round.", round.load());
  metric(out, "openliquid_commits_total", "counter", "Blocks committed by this node.",
         commits_total.load());
  metric(out, "openliquid_timeouts_total", "counter", "Round timers that fired in their round.",
         timeouts_total.load());
  metric(out, "openliquid_state_root_mismatches_total", "counter",
         "Votes withheld because a block anchored a state root that differs from this node's.",
         state_root_mismatches.load());
  metric(out, "openliquid_replayed_proposals_total", "counter",
         "Votes withheld because a block included a transaction already committed or pending in "
         "its ancestors.",
         replayed_proposals.load());
  metric(out, "openliquid_rounds_total", "counter", "Rounds entered.", rounds_total.load());
  metric(out, "openliquid_consensus_invalid_total", "counter",
         "Consensus messages refused by validation: a signature, certificate or shape that does "
         "not verify, or a vote or timeout that did not come from its signer.",
         consensus_invalid_total.load());
  metric(out, "openliquid_proposal_equivocations_total", "counter",
         "A second, different proposal from a leader in one round.",
         proposal_equivocations_total.load());
  family(out, "openliquid_consensus_dropped_total", "counter",
         "Votes and timeouts dropped by the aggregators, by reason. Only a signer's first message "
         "in a round is checked. stale counts each round's last votes, which arrive after the "
         "round was certified and left: normal, since votes go to every validator.");
  for (const auto& [kind, counts] : {std::pair{"vote", &vote_drops}, {"timeout", &timeout_drops}}) {
    for (std::size_t i = 0; i < counts->size(); ++i) {
      const std::string labels = std::string("{message=\"") + kind + "\",reason=\"" +
                                 consensus::DropCounts::kReasons[i] + "\"}";
      sample(out, "openliquid_consensus_dropped_total", (*counts)[i].load(), labels.c_str());
    }
  }
  family(out, "openliquid_commit_latency_seconds", "histogram",
         "Proposal timestamp to local commit.");
  commit_latency.render(out, "openliquid_commit_latency_seconds");
  metric(out, "openliquid_mempool_size", "gauge", "Transactions (or commands) waiting.",
         g.mempool_size);
  metric(out, "openliquid_mempool_future", "gauge",
         "Pending transactions that wait for a lower nonce of their sender (bounded by "
         "mempool.future_capacity).",
         g.mempool_future);
  metric(out, "openliquid_storage_memtable_bytes", "gauge",
         "RocksDB memtables, all column families (about storage.memtable_mb at most).",
         g.memtable_bytes);
  metric(out, "openliquid_peers", "gauge", "Connected p2p peers.", g.peers);
  metric(out, "openliquid_validator_peers", "gauge", "Connected validators, not counting self.",
         g.validator_peers);
  metric(out, "openliquid_partitioned", "gauge",
         "1 when fewer than a quorum of validators (self included) are connected.",
         g.partitioned ? 1 : 0);
  family(out, "openliquid_net_messages_total", "counter", "p2p messages by direction.");
  sample(out, "openliquid_net_messages_total", g.net_messages_in, "{direction=\"in\"}");
  sample(out, "openliquid_net_messages_total", g.net_messages_out, "{direction=\"out\"}");
  family(out, "openliquid_net_bytes_total", "counter", "p2p bytes by direction.");
  sample(out, "openliquid_net_bytes_total", g.net_bytes_in, "{direction=\"in\"}");
  sample(out, "openliquid_net_bytes_total", g.net_bytes_out, "{direction=\"out\"}");
  metric(out, "openliquid_txs_committed_total", "counter", "Transactions in committed blocks.",
         txs_committed_total.load());
  metric(out, "openliquid_tx_rejected_total", "counter",
         "Transactions refused at admission (RPC and gossip; duplicates not counted).",
         tx_rejected_total.load());
  metric(out, "openliquid_tx_gossip_shed_total", "counter",
         "Gossiped transactions dropped unverified because the verifier was behind (they are "
         "verified when a proposal carries them).",
         tx_gossip_shed_total.load());
  metric(out, "openliquid_tx_expired_total", "counter",
         "Pending transactions dropped after waiting mempool.future_lifetime_ms for a lower "
         "nonce of their sender.",
         tx_expired_total.load());
  metric(out, "openliquid_tx_busy_total", "counter",
         "Transactions refused at the RPC with 503 busy: too many gossiped (or POST /txs) "
         "transactions await signature checks on this node.",
         tx_busy_total.load());
  metric(out, "openliquid_rpc_connections", "gauge", "Open HTTP connections to the RPC.",
         rpc_connections.load());
  metric(out, "openliquid_rpc_refused_total", "counter",
         "RPC connections answered 503 and closed: rpc.max_connections were open.",
         rpc_refused_total.load());
  metric(out, "openliquid_rpc_accept_errors_total", "counter",
         "RPC accepts that failed (e.g. out of file descriptors); each is retried 100 ms later.",
         rpc_accept_errors_total.load());
  metric(out, "openliquid_rpc_offloaded_txs_total", "counter",
         "Submitted transactions the RPC had checked on the verifier thread, not its io thread: "
         "in POST /txs of more than 8, or beyond its inline budget (2,000 recoveries/s).",
         rpc_offloaded_txs_total.load());
  metric(out, "openliquid_tx_signature_checks_total", "counter",
         "Transaction signature recoveries (each transaction should cost one per node: at "
         "admission, or on first sight in a proposal or a synced block).",
         types::signature_recoveries());
  return out;
}

}  // namespace ol::node
