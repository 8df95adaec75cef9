// NetworkManager: OpenLiquid's use of the p2p stack (the seed's network layer, made real).
//
//  - gossip topics (blocks, transactions, QCs) over gossipsub, content-addressed;
//  - direct validator channels on /openliquid/consensus/1.0.0: one long-lived outbound yamux
//    stream per validator, u32-length-prefixed frames of opaque bytes (the node puts encoded
//    consensus messages in them). The sender is the Noise-authenticated PeerId, mapped to a
//    validator index; frames from non-validators or failing the frame check are dropped and
//    counted. Per-peer send queues are bounded: a slow peer never stalls the others;
//  - validator connections redialled forever with exponential backoff and jitter; discovery from
//    bootstrap addresses, identify listen addresses and gossipsub peer exchange, up to max_peers;
//  - per-peer inbound token buckets (messages/s, bytes/s); a peer that keeps exceeding them is
//    disconnected and banned for a while;
//  - health: peers, validator peers, propagation times, partition flag, traffic counters.
//
// Threading: the manager runs on one io_context thread (its own or the caller's). The methods
// marked thread-safe may be called from any thread (they post to the io thread); the others only
// on the io thread. Events are delivered on the io thread; a consumer on another thread must
// hand them over itself (and must not block in the callback).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/ed25519.h"
#include "p2p/gossipsub.h"
#include "p2p/host.h"
#include "p2p/multiaddr.h"
#include "p2p/peer_id.h"

namespace ol::network {

inline constexpr std::string_view kBlocksTopic = "openliquid/blocks/1.0.0";
inline constexpr std::string_view kTransactionsTopic = "openliquid/transactions/1.0.0";
inline constexpr std::string_view kQcsTopic = "openliquid/qcs/1.0.0";
inline constexpr std::string_view kConsensusProtocol = "/openliquid/consensus/1.0.0";

using ValidatorIndex = std::uint32_t;

/// A validator as the network knows it: its consensus key (= libp2p identity key) and where to
/// dial it.
struct ValidatorPeer {
  crypto::Ed25519PublicKey key;
  p2p::Multiaddr address;  // with or without /p2p; the PeerId is derived from `key` anyway
};

struct Config {
  p2p::Multiaddr listen;                  // e.g. /ip4/127.0.0.1/tcp/26600
  std::vector<p2p::Multiaddr> bootstrap;  // dialled at start (and on discovery), best effort
  std::vector<ValidatorPeer> validators;  // the validator set, in validator-index order
  std::size_t max_peers = 50;
  std::chrono::milliseconds connection_timeout{5'000};
  std::chrono::milliseconds redial_base{250};  // backoff for lost validator connections
  std::chrono::milliseconds redial_cap{10'000};
  double peer_max_msgs_per_sec = 20'000;  // inbound token buckets, per peer (burst = 1 s worth)
  double peer_max_bytes_per_sec = 64.0 * (1 << 20);
  std::size_t violations_before_ban = 3;  // seconds in a row over a limit before disconnecting
  std::chrono::milliseconds ban_duration{30'000};
  std::size_t max_frame_size = 16u << 20;          // direct-channel frame bound
  std::size_t max_send_queue_bytes = 64u << 20;    // per peer, direct channel
  std::chrono::milliseconds partition_check{500};  // how often check_partition() runs itself
  /// Optional cheap check of a direct frame (e.g. "decodes as a consensus message"); false drops
  /// and counts it. Runs on the io thread.
  std::function<bool(ByteView)> frame_check;
  p2p::gossipsub::Config gossip;
  /// OpenLiquid topics this node publishes on without subscribing: it receives nothing there,
  /// and its messages go to the peers that do subscribe (gossipsub fanout). Validators publish
  /// commit notices this way, for full nodes only.
  std::vector<std::string> publish_only;
  std::string agent_version = "openliquid/0.1.0";
};

struct Health {
  std::size_t connected_peers = 0;
  std::size_t validator_peers = 0;  // connected validators, not counting self
  double avg_propagation_ms = 0;    // gossip: publish time (in the payload envelope) to receipt
  double p99_propagation_ms = 0;
  bool partitioned = false;
  std::uint64_t messages_sent = 0, messages_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t direct_dropped = 0;  // from non-validators, undecodable, oversized
  std::uint64_t rate_limited = 0;    // inbound messages dropped by the token buckets
  std::uint64_t bans = 0;
  std::uint64_t send_dropped = 0;  // outbound direct frames dropped (queue full, oversized)
};

struct PeerConnected {
  p2p::PeerId peer;
  std::optional<ValidatorIndex> validator;
};
struct PeerDisconnected {
  p2p::PeerId peer;
  std::optional<ValidatorIndex> validator;
  std::string reason;
};
struct GossipReceived {
  std::string topic;
  Bytes data;          // the application payload as published
  p2p::PeerId source;  // the author (empty on the unsigned topics: transactions, qcs)
};
struct DirectReceived {
  ValidatorIndex from;
  Bytes frame;
};
struct PartitionDetected {
  std::size_t connected_validators;  // including self
  std::size_t required;              // n - f
};
struct PartitionHealed {
  std::size_t connected_validators;
};
using Event = std::variant<PeerConnected, PeerDisconnected, GossipReceived, DirectReceived,
                           PartitionDetected, PartitionHealed>;

class NetworkManager : public std::enable_shared_from_this<NetworkManager> {
 public:
  using EventHandler = std::function<void(const Event&)>;

  static std::shared_ptr<NetworkManager> create(p2p::asio::io_context& io, p2p::Identity identity,
                                                Config config);
  ~NetworkManager();

  /// Listens, subscribes to the OpenLiquid topics, dials validators and bootstrap peers.
  /// Returns the bound listen address (with /p2p/<id>). Io thread.
  Result<p2p::Multiaddr> start();
  /// Closes every connection and stops timers. Thread-safe; idempotent.
  void stop();

  /// Io thread; set before start().
  void on_event(EventHandler handler);
  /// Validation hook for a topic (accept / reject / ignore). Io thread; set before start().
  void set_gossip_validator(std::string_view topic, p2p::gossipsub::Gossipsub::Validator v);

  /// Publishes `data` on a topic. Thread-safe.
  void broadcast(std::string_view topic, Bytes data);
  /// Queues a direct frame for validator `to` (dropped if its queue is full, counted).
  /// Thread-safe. Sending to self is a no-op.
  void send_to_peer(ValidatorIndex to, Bytes frame);
  /// The same frame to every other validator. Thread-safe.
  void send_to_validators(Bytes frame);

  /// Adds (or replaces) validator `index`'s address and starts dialling it. Io thread.
  void add_validator(ValidatorIndex index, ValidatorPeer peer);
  /// Stops dialling validator `index` and closes its channel. Io thread.
  void remove_validator(ValidatorIndex index);

  /// A snapshot. Thread-safe.
  Health health() const;
  /// Connected validators including self below n - f? Updates the flag and emits
  /// PartitionDetected / PartitionHealed on a change. Io thread (also run every partition_check).
  bool check_partition();

  std::optional<ValidatorIndex> self_index() const;
  const p2p::PeerId& peer_id() const;
  std::shared_ptr<p2p::Host> host() const;
  std::shared_ptr<p2p::gossipsub::Gossipsub> gossip() const;

 private:
  NetworkManager(p2p::asio::io_context& io, p2p::Identity identity, Config config);
  struct Impl;
  // Shared with the manager's coroutines, which keep it alive until they finish after stop().
  std::shared_ptr<Impl> impl_;
};

}  // namespace ol::network
