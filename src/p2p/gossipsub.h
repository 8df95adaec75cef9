// gossipsub v1.1 (/meshsub/1.1.0, falling back to /meshsub/1.0.0) on a Host, per
// libp2p/specs pubsub/gossipsub, with v1.2's IDONTWANT (/meshsub/1.2.0, preferred when both sides
// offer it). RPCs are uvarint-length-prefixed protobuf (p2p/proto/rpc.proto)
// on one long-lived outbound stream per peer; every RPC is bounded before it is parsed.
//
// Threading: like the Host, a Gossipsub lives on the Host's io_context thread; call every method
// from that thread. Handlers and validators run on it too.
// Lifetime: create() returns a shared_ptr; call start() once and stop() before dropping it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "p2p/host.h"
#include "p2p/peer_id.h"

namespace ol::p2p::gossipsub {

inline constexpr std::string_view kProtocolV12 = "/meshsub/1.2.0";
inline constexpr std::string_view kProtocolV11 = "/meshsub/1.1.0";
inline constexpr std::string_view kProtocolV10 = "/meshsub/1.0.0";

struct ScoreConfig {
  double invalid_message_penalty = -10.0;  // per message rejected by validation or signature
  double broken_promise_penalty = -2.0;    // per IWANT answered by nothing within the timeout
  double decay = 0.9;                      // multiplied into every score each heartbeat
  double gossip_threshold = -10.0;         // below: no IHAVE/IWANT exchanged with the peer
  double publish_threshold = -50.0;        // below: own messages are not flood-published to it
  double graylist_threshold = -80.0;       // below: the peer's RPCs are ignored entirely
};

struct Config {
  std::size_t d = 6, d_lo = 4, d_hi = 12, d_lazy = 6;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds first_heartbeat{100};  // after start(), so a fresh node meshes soon
  std::size_t history_length = 5;  // heartbeats a message stays in the cache (IWANT answers)
  std::size_t history_gossip = 3;  // heartbeats a message is advertised in IHAVE
  std::chrono::milliseconds seen_ttl{60'000};
  std::size_t seen_max = 1'000'000;  // seen-cache entries; the oldest go first beyond this
  std::chrono::milliseconds fanout_ttl{60'000};
  std::chrono::milliseconds prune_backoff{60'000};
  std::chrono::milliseconds iwant_followup{3'000};  // IWANT not answered by then: broken promise
  std::size_t max_rpc_size = 4u << 20;              // bytes; a larger RPC closes the stream
  std::size_t max_message_size = 1u << 20;          // bytes of data in one message
  std::size_t max_ihave_length = 5000;  // message ids taken from one peer's IHAVEs per heartbeat
  std::size_t max_ihave_messages = 10;  // IHAVE messages accepted from one peer per heartbeat
  std::size_t max_prune_peers = 16;     // peer-exchange entries sent / accepted per PRUNE
  std::size_t max_send_queue_bytes = 32u << 20;  // per peer; beyond it RPCs to the peer are dropped
  bool flood_publish = true;                     // own messages go to every subscribed peer
  bool peer_exchange = true;                     // send PX with PRUNE, use received PX
  // v1.2: on first receipt of a message with at least this much data (after its signature is
  // checked, before validation and forwarding), IDONTWANT goes to our v1.2 mesh peers on the
  // topic, and we skip forwarding to a peer that sent us IDONTWANT for the id.
  std::size_t idontwant_min_size = 8 * 1024;
  std::size_t max_idontwant_ids = 1000;  // IDONTWANT ids kept from one peer per heartbeat
  // v1.1 direct peers: every message on a topic both sides subscribe to is sent to them (our own
  // and forwarded ones) outside the mesh; they are never grafted, their GRAFTs are answered with
  // PRUNE, and they get no IHAVE (they have everything). Keeping them connected is the caller's
  // job (the network layer dials its validators).
  std::vector<PeerId> direct_peers;
  ScoreConfig score;
  /// SHA-256 for content-addressed message ids (empty: crypto::sha256). The network layer passes
  /// a faster implementation of the same function; the ids on the wire do not change.
  std::function<Hash32(ByteView)> content_sha256;
};

enum class ValidationResult { accept, reject, ignore };

/// A message as delivered to subscribers and validators.
struct Message {
  std::string topic;
  Bytes data;
  PeerId from;           // the signed author (empty on an unsigned topic, but our own messages)
  Bytes seqno;           // 8 bytes, big-endian
  Bytes id;              // the message id (from+seqno, or content hash on content-addressed topics)
  PeerId received_from;  // the peer that forwarded it to us (the author for our own messages)
};

struct Stats {
  std::uint64_t rpcs_in = 0, rpcs_out = 0;
  std::uint64_t messages_delivered = 0;  // handed to local subscribers
  std::uint64_t duplicates = 0;          // dropped by the seen-cache
  std::uint64_t invalid = 0;             // bad signature, bad shape, or rejected by a validator
  std::uint64_t ignored = 0;             // ValidationResult::ignore
  std::uint64_t dropped_rpcs = 0;        // malformed or oversized RPCs, graylisted peers
  std::uint64_t grafts_in = 0, grafts_out = 0, prunes_in = 0, prunes_out = 0;
  std::uint64_t ihave_in = 0, iwant_in = 0;
  std::uint64_t ihave_out = 0, iwant_out = 0;         // IHAVE / IWANT control entries sent
  std::uint64_t idontwant_in = 0, idontwant_out = 0;  // IDONTWANT ids received / sent
  std::uint64_t idontwant_skipped = 0;  // forwards not sent because the peer said IDONTWANT
  std::uint64_t queue_drops = 0;        // RPCs not sent because a peer's send queue was full
  std::uint64_t throttled_rpcs = 0;     // inbound RPCs refused by the RpcFilter
  std::size_t seen_cache_size = 0;
};

/// A keyed (SipHash, per-process random key) hash for byte strings chosen by remote peers, so
/// nobody can aim collisions at our hash tables.
/// Transparent: a SeenCache looks up a string_view without making a string.
struct KeyedHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept;
};

}  // namespace ol::p2p::gossipsub

OL_SLOW_HASHER(ol::p2p::gossipsub::KeyedHash);

namespace ol::p2p::gossipsub {

/// Message ids seen within a time window, for deduplication. Bounded both ways: an id is
/// forgotten `ttl` after it was added, and beyond `max_entries` the oldest ids go first.
/// Lookups and inserts are O(1) (amortised); nothing is allocated per lookup.
class SeenCache {
 public:
  SeenCache(std::chrono::milliseconds ttl, std::size_t max_entries)
      : ttl_(ttl), max_(max_entries) {}
  bool contains(std::string_view id) const;
  /// Adds `id` at time `now`; false (and nothing changes) if it is already present.
  bool insert(std::string_view id, std::chrono::steady_clock::time_point now);
  /// Forgets ids older than the ttl.
  void expire(std::chrono::steady_clock::time_point now);
  std::size_t size() const { return ids_.size(); }

 private:
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  void evict_oldest();

  std::chrono::milliseconds ttl_;
  std::size_t max_;
  std::unordered_set<std::string, KeyedHash, Eq> ids_;
  // Insertion order is expiry order; each entry points at its element in ids_ (stable).
  std::deque<std::pair<std::chrono::steady_clock::time_point, const std::string*>> order_;
};

class Gossipsub : public std::enable_shared_from_this<Gossipsub> {
 public:
  using MessageHandler = std::function<void(const Message&)>;
  using Validator = std::function<ValidationResult(const Message&)>;
  /// Called with peers learned from PRUNE peer exchange (the network layer may dial them).
  using PeerExchangeHandler = std::function<void(const std::vector<PeerId>&)>;
  /// Sees every inbound RPC (peer, body size, number of messages it carries — counted by a
  /// top-level walk of the wire, 0 if malformed) after its length is bounded and before it is
  /// decoded; false drops it unread (counted in Stats::throttled_rpcs). The network layer charges
  /// its per-peer rate limits here, so junk that never becomes a valid message still counts.
  using RpcFilter = std::function<bool(const PeerId&, std::size_t bytes, std::size_t messages)>;

  /// `identity` signs published messages (strict signing); it is normally the Host's identity.
  static std::shared_ptr<Gossipsub> create(std::shared_ptr<Host> host, Identity identity,
                                           Config config = {});
  ~Gossipsub();

  /// Registers the meshsub protocols on the host, opens streams to connected and newly
  /// connected peers, and starts the heartbeat.
  void start();
  /// Stops the heartbeat and closes every gossipsub stream; the Host stays up.
  void stop();

  /// Joins `topic`; `handler` receives each new, valid message once (application-level
  /// exactly-once per message id within the seen window). Replaces a previous handler.
  void subscribe(const std::string& topic, MessageHandler handler);
  void unsubscribe(const std::string& topic);
  /// Runs before delivery and forwarding; reject penalises the forwarding peer, ignore drops
  /// silently.
  void set_validator(const std::string& topic, Validator validator);
  /// Message ids on `topic` become SHA-256(data), so one payload published twice is one message.
  void set_content_addressed(const std::string& topic);
  /// StrictNoSign on `topic` (and content-addressed): we publish it with no author, seqno or
  /// signature, and reject received messages that carry any of them. For payloads that
  /// authenticate themselves (signed transactions, quorum certificates) this saves an Ed25519
  /// signature per publish and a verification per received message; the topic's validator must
  /// then check the payload, and the forwarding peer answers for it. Set it on every node of the
  /// topic before traffic flows: a node without it rejects the unsigned messages.
  void set_unsigned(const std::string& topic);
  void on_peer_exchange(PeerExchangeHandler handler);
  void set_rpc_filter(RpcFilter filter);

  /// Signs and sends `data` on `topic` (to mesh peers, or fanout when not subscribed, or every
  /// subscribed peer with flood_publish) and delivers it to our own handler if we subscribe.
  /// Returns the message id. Errc::limit if the data is larger than max_message_size;
  /// Errc::state ("duplicate") on a content-addressed topic whose payload was seen within the
  /// window; Errc::invalid_argument if our own validator rejects or ignores it. Publishing with
  /// no peer is not an error.
  Result<Bytes> publish(const std::string& topic, Bytes data);

  std::vector<PeerId> mesh_peers(const std::string& topic) const;
  /// Connected peers known to be subscribed to `topic`.
  std::vector<PeerId> topic_peers(const std::string& topic) const;
  double score(const PeerId& peer) const;
  /// Bytes of RPCs queued for, or being written to, peers' streams (0 once everything published
  /// so far has been handed to the connections; tools wait for this before exiting).
  std::size_t pending_send_bytes() const;
  const Stats& stats() const;
  const Config& config() const;

 private:
  Gossipsub(std::shared_ptr<Host> host, Identity identity, Config config);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Decodes one RPC body (without its length prefix) with the limits in `config`, for tests and
/// the fuzz target. Errors name the violated bound. Before any allocation the wire is walked
/// once to bound it: size <= max_rpc_size, data of each message <= max_message_size, and the
/// number of subscriptions, IHAVE/IWANT ids, GRAFTs, PRUNEs and PX entries (see the .cpp).
/// A violating RPC closes the stream it came on.
Status check_rpc(ByteView body, const Config& config);

/// The bytes a publisher signs: "libp2p-pubsub:" || the protobuf encoding of {from, data, seqno,
/// topic} (the Message without signature and key).
Bytes signing_input(ByteView from, ByteView data, ByteView seqno, std::string_view topic);

}  // namespace ol::p2p::gossipsub
