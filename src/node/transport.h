// Transport: what the node's core and RPC need from the network, so they can run on the real
// NetworkManager (node.cpp), on an in-process hub (tests) or on nothing (a single validator).
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "types/basic.h"

namespace ol::node {

struct NetworkStats {
  std::uint64_t peers = 0;
  std::uint64_t validator_peers = 0;
  bool partitioned = false;
  std::uint64_t messages_in = 0, messages_out = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

/// Every method is thread-safe and never blocks on the network.
class Transport {
 public:
  virtual ~Transport() = default;
  /// An encoded consensus message to validator `to` (dropped if unreachable).
  virtual void send_to(types::ValidatorIndex to, Bytes frame) = 0;
  /// The same frame to every other validator.
  virtual void send_to_validators(Bytes frame) = 0;
  /// A transaction's canonical encoding for the transactions gossip topic. The real network
  /// publishes them in batches (types/tx_batch.h), a few milliseconds or kMaxBatchTxs at a time.
  virtual void publish_transaction(Bytes encoded) = 0;
  /// Several, in order (as many publish_transaction calls; the real network hands them to its
  /// io thread at once).
  virtual void publish_transactions(std::vector<Bytes> encoded) {
    for (auto& e : encoded) publish_transaction(std::move(e));
  }
  virtual NetworkStats stats() const = 0;
};

/// No peers: a single-validator chain, and tests.
class NullTransport final : public Transport {
 public:
  void send_to(types::ValidatorIndex, Bytes) override {}
  void send_to_validators(Bytes) override {}
  void publish_transaction(Bytes) override {}
  NetworkStats stats() const override { return {}; }
};

}  // namespace ol::node
