// gossipsub v1.1 router. One Impl holds all state; every method runs on the Host's io thread.
//
// Streams: per peer we write on one outbound stream we open (/meshsub/1.1.0, else 1.0.0) and
// read the one the peer opens to us; a peer is a "gossip peer" (mesh, fanout, gossip and
// forwarding target) once our outbound stream is up. RPCs to a peer go through a bounded queue
// drained by one writer coroutine, so a slow peer never blocks the router.
// The outbound stream belongs to the peer's current connection: each `connected` event (a new
// connection, or one replacing it after a simultaneous dial) starts a new epoch, and a stream
// opened, or a batch written, under an older epoch is discarded (the batch re-queued). A connected
// peer without a live outbound stream (open failed, stream reset, write failed) gets a new one
// from the heartbeat, with backoff after failed opens.
//
// Memory bounds against remote input: an RPC is at most max_rpc_size and is walked (no
// allocation) before libprotobuf parses it; per-peer topic sets, IHAVE/IWANT budgets, promises
// and PX are capped; control for topics we do not subscribe to is dropped after one map lookup;
// the seen-cache and message cache are bounded by time and (seen-cache) by entries. Hash tables
// keyed by remote-chosen bytes use a keyed hash.
#include "p2p/gossipsub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "crypto/hash.h"
#include "p2p/proto/rpc.pb.h"
#include "p2p/varint.h"

namespace ol::p2p::gossipsub {

// ---------------------------------------------------------------------------------------------
// Keyed hash and seen-cache

std::size_t KeyedHash::operator()(std::string_view s) const noexcept {
  return static_cast<std::size_t>(crypto::keyed_hash64(as_bytes(s)));
}

bool SeenCache::contains(std::string_view id) const {
  return ids_.find(id) != ids_.end();
}

bool SeenCache::insert(std::string_view id, std::chrono::steady_clock::time_point now) {
  if (max_ == 0) return true;
  auto [it, inserted] = ids_.emplace(id);
  if (!inserted) return false;
  order_.emplace_back(now, &*it);
  while (ids_.size() > max_) evict_oldest();
  return true;
}

void SeenCache::expire(std::chrono::steady_clock::time_point now) {
  while (!order_.empty() && now - order_.front().first >= ttl_) evict_oldest();
}

void SeenCache::evict_oldest() {
  auto it = ids_.find(*order_.front().second);
  order_.pop_front();
  if (it != ids_.end()) ids_.erase(it);
}

// ---------------------------------------------------------------------------------------------
// RPC bounds, walked on the raw wire before parsing

namespace {

constexpr std::string_view kSignPrefix = "libp2p-pubsub:";
constexpr std::size_t kSeqnoSize = 8;
constexpr std::size_t kMaxTopicLength = 256;       // longer topic names are ignored
constexpr std::size_t kMaxMessageIdLength = 256;   // longer ids in IHAVE/IWANT are ignored
constexpr std::size_t kMaxDontWantIdLength = 128;  // longer ids in IDONTWANT are ignored
constexpr std::size_t kMaxTopicsPerPeer = 1024;    // subscriptions remembered per peer
constexpr std::size_t kMaxSubscriptionsPerRpc = 4096;
constexpr std::size_t kMaxGraftPrunePerRpc = 4096;
constexpr std::size_t kMaxPxPerPrune = 1024;  // PX entries on the wire (we use max_prune_peers)
constexpr std::size_t kMaxRememberedScores = 8192;  // negative scores kept for disconnected peers
constexpr std::uint64_t kMaxBackoffSeconds = 24 * 3600;

// Wire types.
constexpr std::uint32_t kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5;

// Walks the fields of one protobuf message; `on_len(field, bytes)` sees every length-delimited
// field (it may recurse). Other wire types are skipped; groups and field 0 are malformed.
template <typename F>
Status walk(ByteView msg, F&& on_len) {
  WireReader r(msg);
  while (!r.empty()) {
    OL_TRY_ASSIGN(const std::uint64_t tag, r.uvarint());
    const auto field = static_cast<std::uint32_t>(tag >> 3);
    if (field == 0) return make_error(Errc::decode, "protobuf field number 0");
    switch (static_cast<std::uint32_t>(tag & 7)) {
      case kVarint:
        OL_TRY(r.uvarint());
        break;
      case kFixed64:
        OL_TRY(r.take(8));
        break;
      case kFixed32:
        OL_TRY(r.take(4));
        break;
      case kLen: {
        OL_TRY_ASSIGN(const ByteView v, r.length_prefixed(r.remaining()));
        OL_TRY(on_len(field, v));
        break;
      }
      default:
        return make_error(Errc::decode, "unsupported protobuf wire type");
    }
  }
  return ok_status();
}

Status over(const char* what, std::size_t n, std::size_t bound) {
  return make_error(Errc::limit, std::string(what) + " " + std::to_string(n) + " above bound " +
                                     std::to_string(bound));
}

// The structural bounds of check_rpc (see gossipsub.h), without allocating.
Status prescan(ByteView body, const Config& c) {
  if (body.size() > c.max_rpc_size) return over("rpc size", body.size(), c.max_rpc_size);
  const std::size_t max_ids = c.max_ihave_length * std::max<std::size_t>(c.max_ihave_messages, 1);
  std::size_t subs = 0, ihave_ids = 0, iwant_ids = 0, dontwant_ids = 0, grafts = 0, prunes = 0;
  return walk(body, [&](std::uint32_t field, ByteView v) -> Status {
    if (field == 1 && ++subs > kMaxSubscriptionsPerRpc)
      return over("subscriptions", subs, kMaxSubscriptionsPerRpc);
    if (field == 2) {  // Message
      return walk(v, [&](std::uint32_t f, ByteView mv) -> Status {
        if (f == 2 && mv.size() > c.max_message_size)
          return over("message data", mv.size(), c.max_message_size);
        return ok_status();
      });
    }
    if (field != 3) return ok_status();
    return walk(v, [&](std::uint32_t cf, ByteView cv) -> Status {  // ControlMessage
      switch (cf) {
        case 1:  // IHAVE
          return walk(cv, [&](std::uint32_t f, ByteView) -> Status {
            if (f == 2 && ++ihave_ids > max_ids) return over("IHAVE ids", ihave_ids, max_ids);
            return ok_status();
          });
        case 2:  // IWANT
          return walk(cv, [&](std::uint32_t f, ByteView) -> Status {
            if (f == 1 && ++iwant_ids > max_ids) return over("IWANT ids", iwant_ids, max_ids);
            return ok_status();
          });
        case 3:
          if (++grafts > kMaxGraftPrunePerRpc) return over("GRAFTs", grafts, kMaxGraftPrunePerRpc);
          return ok_status();
        case 5:  // IDONTWANT (v1.2)
          return walk(cv, [&](std::uint32_t f, ByteView) -> Status {
            if (f == 1 && ++dontwant_ids > max_ids)
              return over("IDONTWANT ids", dontwant_ids, max_ids);
            return ok_status();
          });
        case 4: {
          if (++prunes > kMaxGraftPrunePerRpc) return over("PRUNEs", prunes, kMaxGraftPrunePerRpc);
          std::size_t px = 0;
          return walk(cv, [&](std::uint32_t f, ByteView) -> Status {
            if (f == 2 && ++px > kMaxPxPerPrune) return over("PX peers", px, kMaxPxPerPrune);
            return ok_status();
          });
        }
        default:
          return ok_status();
      }
    });
  });
}

// Messages (RPC field 2) in an RPC body, from a walk of its top-level fields only; 0 if the wire
// is malformed (the RPC is then rejected by decode_rpc anyway).
std::size_t count_messages(ByteView body) {
  std::size_t n = 0;
  auto st = walk(body, [&](std::uint32_t field, ByteView) -> Status {
    if (field == 2) ++n;
    return ok_status();
  });
  return st ? n : 0;
}

Result<proto::RPC> decode_rpc(ByteView body, const Config& c) {
  OL_TRY(prescan(body, c));
  proto::RPC rpc;
  if (!rpc.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return make_error(Errc::decode, "rpc: malformed protobuf");
  return rpc;
}

std::string to_string(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
Bytes to_bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

// The author's verification key: inlined in an identity PeerId, or the `key` field (which must
// then derive to `from`). Only Ed25519 is supported.
std::optional<crypto::Ed25519PublicKey> author_key(const PeerId& from, const proto::Message& m) {
  auto inlined = from.public_key();
  if (!m.has_key()) return inlined;
  auto key = unmarshal_public_key(as_bytes(m.key()));
  if (!key || PeerId::from_public_key(*key) != from) return std::nullopt;
  return *key;
}

// StrictNoSign shape: no author, seqno, signature or key.
bool is_unsigned(const proto::Message& m) {
  return !m.has_from() && !m.has_seqno() && !m.has_signature() && !m.has_key();
}

bool verify_signature(const proto::Message& m, const crypto::Ed25519PublicKey& key) {
  if (m.signature().size() != 64) return false;
  proto::Message unsigned_copy = m;
  unsigned_copy.clear_signature();
  unsigned_copy.clear_key();
  std::string in(kSignPrefix);
  unsigned_copy.AppendToString(&in);
  crypto::Ed25519Signature sig;
  std::copy(m.signature().begin(), m.signature().end(), sig.bytes.begin());
  return crypto::ed25519_verify(key, as_bytes(in), sig);
}

Bytes frame(const proto::RPC& rpc) {
  const std::string body = rpc.SerializeAsString();
  Bytes out;
  out.reserve(body.size() + 10);
  put_uvarint(out, body.size());
  append(out, as_bytes(body));
  return out;
}

}  // namespace

Status check_rpc(ByteView body, const Config& config) {
  OL_TRY_ASSIGN(const proto::RPC rpc, decode_rpc(body, config));
  // Shape of each message, as the router checks it (signature included) before anything else.
  // A message with no author, seqno, signature or key is well-formed here; whether its topic
  // takes unsigned messages is the router's per-topic policy (Gossipsub::set_unsigned).
  for (const auto& m : rpc.publish()) {
    if (is_unsigned(m)) continue;
    auto from = PeerId::from_bytes(as_bytes(m.from()));
    if (!from) return make_error(Errc::decode, "message: bad from");
    if (m.seqno().size() != kSeqnoSize) return make_error(Errc::decode, "message: bad seqno");
    auto key = author_key(*from, m);
    if (!key || !verify_signature(m, *key)) return make_error(Errc::verify, "message: signature");
  }
  return ok_status();
}

Bytes signing_input(ByteView from, ByteView data, ByteView seqno, std::string_view topic) {
  proto::Message m;
  m.set_from(to_string(from));
  m.set_data(to_string(data));
  m.set_seqno(to_string(seqno));
  m.set_topic(std::string(topic));
  std::string in(kSignPrefix);
  m.AppendToString(&in);
  return to_bytes(in);
}

// ---------------------------------------------------------------------------------------------
// The router

struct Gossipsub::Impl {
  struct Peer {
    Host::StreamPtr out;  // ours, write only; set once negotiated
    Host::StreamPtr in;   // theirs, read only
    std::string protocol;
    bool opening = false;
    std::uint64_t epoch = 0;          // bumped on each connected event (new or replaced connection)
    std::uint32_t open_failures = 0;  // consecutive failed opens of the outbound stream
    Clock::time_point retry_at{};     // no new open attempt by the heartbeat before then
    // Framed RPCs waiting for the writer; one forwarded message is one buffer shared by every
    // peer it goes to.
    std::deque<std::shared_ptr<const Bytes>> queue;
    std::size_t queued_bytes = 0;
    std::size_t writing_bytes = 0;  // taken by writers, not yet written
    std::shared_ptr<Signal> wake;   // writer: queue non-empty or stream replaced
    std::set<std::string> topics;   // subscriptions the peer announced (bounded)
    // Budgets, reset each heartbeat.
    std::size_t ihaves = 0, iasked = 0, iwant_served = 0;
    std::size_t join_ihaves = 0, join_ihave_ids = 0;  // sent to it on joining our mesh
    // v1.2: ids the peer told us not to send, this heartbeat and the previous one (bounded by
    // max_idontwant_ids per heartbeat).
    std::unordered_set<std::string, KeyedHash> dontwant, dontwant_prev;
    std::size_t dontwant_taken = 0;
  };
  struct Subscription {
    MessageHandler handler;
    std::unordered_set<PeerId> mesh;
    std::unordered_map<PeerId, Clock::time_point> backoff;  // no GRAFT to/from these until then
  };
  struct Fanout {
    std::unordered_set<PeerId> peers;
    Clock::time_point last_publish;
  };
  struct Cached {
    proto::Message msg;
  };
  struct Promise {
    PeerId peer;
    Clock::time_point deadline;
  };

  Impl(Gossipsub& owner, std::shared_ptr<Host> h, Identity id, Config c)
      : owner(owner),
        host(std::move(h)),
        identity(std::move(id)),
        config(std::move(c)),
        seen(config.seen_ttl, config.seen_max),
        seen_origin(config.seen_ttl, config.seen_max),
        rng(std::random_device{}()),
        seqno(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count())) {}

  Gossipsub& owner;
  std::shared_ptr<Host> host;
  Identity identity;
  Config config;
  Stats stats;
  PeerExchangeHandler px_handler;
  RpcFilter rpc_filter;

  bool started = false, stopped = false;
  std::shared_ptr<asio::steady_timer> heartbeat_timer;
  std::unordered_map<PeerId, Peer> peers;
  std::unordered_map<PeerId, double> scores;  // connected peers, and negative ones after
  std::map<std::string, Subscription> subs;
  std::map<std::string, Fanout> fanout;
  std::map<std::string, Validator> validators;
  std::set<std::string> content_addressed;
  std::set<std::string> unsigned_topics;  // StrictNoSign (and content-addressed)
  std::unordered_set<PeerId> direct{config.direct_peers.begin(), config.direct_peers.end()};
  SeenCache seen;
  // On content-addressed topics: the from||seqno of each message accepted into `seen`, so that a
  // duplicate (a mesh delivers each message about D times) is recognised without hashing its
  // data. Only verified messages enter it, so a forged copy cannot shadow the real one; an author
  // that signs two payloads under one seqno has the second dropped where the first was seen.
  SeenCache seen_origin;
  std::unordered_map<std::string, Cached, KeyedHash> mcache;
  std::deque<std::vector<std::pair<std::string, std::string>>> history;  // (id, topic), newest 1st
  std::unordered_map<std::string, Promise, KeyedHash> promises;  // IWANTed id -> who promised
  std::mt19937_64 rng;
  std::uint64_t seqno;
  std::uint64_t epochs = 0;  // connection epochs handed out (see Peer::epoch)

  std::shared_ptr<Gossipsub> self() { return owner.shared_from_this(); }

  // ---- scores

  double score_of(const PeerId& p) const {
    auto it = scores.find(p);
    return it == scores.end() ? 0.0 : it->second;
  }
  void penalise(const PeerId& p, double amount) {
    if (!peers.contains(p) && !scores.contains(p) && scores.size() >= kMaxRememberedScores) return;
    scores[p] += amount;
  }

  // ---- peers and streams

  bool is_gossip_peer(const Peer& ps) const { return ps.out != nullptr; }

  Peer& ensure_peer(const PeerId& p) {
    auto [it, inserted] = peers.try_emplace(p);
    if (inserted) it->second.wake = std::make_shared<Signal>(host->io_context().get_executor());
    return it->second;
  }

  void on_connection(const ConnectionEvent& e) {
    if (!started || stopped) return;
    if (e.kind == ConnectionEvent::Kind::disconnected) {
      remove_peer(e.peer);
      return;
    }
    Peer& ps = ensure_peer(e.peer);
    // A new epoch: a stream being opened on the previous connection is discarded when it
    // completes (and a new one opened), and the current one dies with the old connection.
    ps.epoch = ++epochs;
    ps.open_failures = 0;
    ps.retry_at = {};
    if (ps.out) {
      ps.out->reset();
      ps.out = nullptr;
      ps.wake->notify();  // the old writer exits
    }
    open_outbound(e.peer);
  }

  void open_outbound(const PeerId& p) {
    Peer& ps = ensure_peer(p);
    if (ps.opening || ps.out) return;
    ps.opening = true;
    asio::co_spawn(host->io_context(), open_stream(self(), p, ps.epoch), asio::detached);
  }

  // The outbound stream is gone while the peer may still be connected: leave the overlay, drop
  // what was queued for it, and let the heartbeat open a new one.
  void lose_outbound(const PeerId& p, Peer& ps) {
    if (ps.out) ps.out->reset();
    ps.out = nullptr;
    ps.queue.clear();
    ps.queued_bytes = 0;
    ps.wake->notify();
    drop_from_overlay(p);
  }

  static std::vector<std::string> protocol_list() {
    std::vector<std::string> v;
    v.emplace_back(kProtocolV12);
    v.emplace_back(kProtocolV11);
    v.emplace_back(kProtocolV10);
    return v;
  }

  Task<void> open_stream(std::shared_ptr<Gossipsub> keep, PeerId p, std::uint64_t epoch) {
    auto s = co_await host->new_stream(p, protocol_list());
    auto it = peers.find(p);
    if (stopped || it == peers.end()) {
      if (s) (*s)->reset();
      co_return;
    }
    Peer& ps = it->second;
    ps.opening = false;
    if (ps.epoch != epoch) {
      // The connection was replaced while we opened: the stream (if any) is on the old one.
      if (s) (*s)->reset();
      if (host->is_connected(p)) open_outbound(p);
      co_return;
    }
    if (!s || (*s)->is_reset()) {
      spdlog::debug("gossipsub: no meshsub stream to {}: {}", p.to_string(),
                    s ? std::string("reset") : s.error().to_string());
      if (s) (*s)->reset();
      ps.queue.clear();
      ps.queued_bytes = 0;
      // Retried by the heartbeat: after 1, 2, 4 ... up to 32 heartbeats.
      const auto backoff = config.heartbeat * (1u << std::min<std::uint32_t>(ps.open_failures, 5));
      ++ps.open_failures;
      ps.retry_at = Clock::now() + backoff - config.heartbeat / 2;
      co_return;
    }
    ps.open_failures = 0;
    ps.out = *s;
    ps.protocol = (*s)->protocol();
    // Our subscriptions go first on a new stream.
    proto::RPC hello;
    for (const auto& [topic, sub] : subs) {
      auto* o = hello.add_subscriptions();
      o->set_subscribe(true);
      o->set_topicid(topic);
    }
    if (hello.subscriptions_size() > 0) {
      auto f = std::make_shared<const Bytes>(frame(hello));
      ps.queued_bytes += f->size();
      ps.queue.push_front(std::move(f));
      ++stats.rpcs_out;
    }
    ps.wake->notify();  // a writer of a previous stream exits
    asio::co_spawn(host->io_context(), write_loop(std::move(keep), p, ps.out, epoch),
                   asio::detached);
  }

  Task<void> write_loop(std::shared_ptr<Gossipsub> /*keep_alive*/, PeerId p, Host::StreamPtr out,
                        std::uint64_t epoch) {
    for (;;) {
      auto it = peers.find(p);
      if (stopped || it == peers.end() || it->second.out != out) co_return;
      Peer& ps = it->second;
      if (ps.queue.empty()) {
        auto wake = ps.wake;
        co_await wake->wait();
        continue;
      }
      std::shared_ptr<const Bytes> batch;
      if (ps.queue.size() == 1) {
        batch = std::move(ps.queue.front());  // written from the shared buffer, not copied
      } else {
        auto joined = std::make_shared<Bytes>();
        joined->reserve(ps.queued_bytes);
        for (const auto& b : ps.queue) append(*joined, *b);
        batch = std::move(joined);
      }
      ps.queue.clear();
      ps.queued_bytes = 0;
      const std::size_t n = batch->size();
      ps.writing_bytes += n;
      auto st = co_await out->write(*batch);
      auto again = peers.find(p);
      if (again == peers.end()) {
        if (!st) out->reset();
        co_return;
      }
      Peer& cur = again->second;
      cur.writing_bytes -= std::min(cur.writing_bytes, n);
      if (cur.epoch != epoch) {
        // The connection was replaced during the write: the batch may never have left the old
        // one, so it goes again on the new stream (duplicates are dropped by the seen-cache).
        out->reset();
        if (cur.queued_bytes + n <= config.max_send_queue_bytes) {
          cur.queued_bytes += n;
          cur.queue.push_front(std::move(batch));
          cur.wake->notify();
        }
        co_return;
      }
      if (!st) {
        spdlog::debug("gossipsub: write to {} failed: {}", p.to_string(), st.error().to_string());
        out->reset();
        if (cur.out == out) lose_outbound(p, cur);
        co_return;
      }
    }
  }

  // Buffered reader of uvarint-framed RPCs on the peer's stream.
  Task<void> read_loop(std::shared_ptr<Gossipsub> /*keep_alive*/, Host::StreamPtr s) {
    const PeerId p = s->remote_peer();
    {
      Peer& ps = ensure_peer(p);
      if (ps.in && ps.in != s) ps.in->reset();  // one inbound stream per peer: the newest
      ps.in = s;
      if (host->is_connected(p)) open_outbound(p);
    }
    Bytes buf;
    std::size_t pos = 0;
    std::vector<std::uint8_t> chunk(64 * 1024);
    std::optional<Error> bad;
    for (;;) {
      // Frames already buffered.
      bool need_more = false;
      while (!need_more) {
        auto v = try_get_uvarint(ByteView(buf).subspan(pos));
        if (!v) {
          bad = v.error();
          break;
        }
        if (!v->has_value()) {
          need_more = true;
          break;
        }
        const auto [len, hdr] = **v;
        if (len > config.max_rpc_size) {
          bad = over("rpc size", static_cast<std::size_t>(len), config.max_rpc_size).error();
          break;
        }
        if (buf.size() - pos - hdr < len) {
          need_more = true;
          break;
        }
        const ByteView body = ByteView(buf).subspan(pos + hdr, static_cast<std::size_t>(len));
        pos += hdr + static_cast<std::size_t>(len);
        auto it = peers.find(p);
        if (stopped || it == peers.end() || it->second.in != s) co_return;
        if (rpc_filter && !rpc_filter(p, body.size(), count_messages(body))) {
          ++stats.throttled_rpcs;
          continue;
        }
        if (auto st = handle_rpc(p, body); !st) {
          bad = st.error();
          break;
        }
      }
      if (bad) break;
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
      pos = 0;
      auto n = co_await s->read_some(chunk);
      if (!n || *n == 0) break;
      append(buf, ByteView(chunk.data(), *n));
    }
    if (bad) {
      ++stats.dropped_rpcs;
      spdlog::info("gossipsub: closing stream from {}: {}", p.to_string(), bad->to_string());
      s->reset();
    }
    auto it = peers.find(p);
    if (it != peers.end() && it->second.in == s) it->second.in = nullptr;
  }

  void remove_peer(const PeerId& p) {
    auto it = peers.find(p);
    if (it == peers.end()) return;
    if (it->second.out) it->second.out->reset();
    if (it->second.in) it->second.in->reset();
    it->second.wake->notify();
    peers.erase(it);
    drop_from_overlay(p);
    if (auto s = scores.find(p); s != scores.end() && s->second >= 0) scores.erase(s);
  }

  void drop_from_overlay(const PeerId& p) {
    for (auto& [t, sub] : subs) sub.mesh.erase(p);
    for (auto& [t, f] : fanout) f.peers.erase(p);
  }

  // ---- sending

  // `urgent`: a small advisory RPC (IDONTWANT) that goes ahead of what is queued.
  void send(const PeerId& p, std::shared_ptr<const Bytes> framed, bool urgent = false) {
    auto it = peers.find(p);
    if (it == peers.end()) return;
    Peer& ps = it->second;
    if (!ps.out && !ps.opening) return;
    if (ps.queued_bytes + framed->size() > config.max_send_queue_bytes) {
      ++stats.queue_drops;
      return;
    }
    ps.queued_bytes += framed->size();
    if (urgent) {
      ps.queue.push_front(std::move(framed));
    } else {
      ps.queue.push_back(std::move(framed));
    }
    ++stats.rpcs_out;
    ps.wake->notify();
  }

  void send(const PeerId& p, const proto::RPC& rpc) {
    send(p, std::make_shared<const Bytes>(frame(rpc)));
  }

  bool supports_v11(const PeerId& p) const {
    auto it = peers.find(p);
    return it != peers.end() &&
           (it->second.protocol == kProtocolV11 || it->second.protocol == kProtocolV12);
  }

  // ---- IDONTWANT (v1.2)

  // First receipt of a large message: tell our v1.2 mesh peers on its topic (but the one it came
  // from) not to send it to us.
  void send_idontwant(const std::string& topic, const std::string& id, const PeerId& source) {
    auto s = subs.find(topic);
    if (s == subs.end()) return;
    std::vector<PeerId> to;
    for (const auto& p : s->second.mesh) {
      if (p == source) continue;
      auto it = peers.find(p);
      if (it != peers.end() && it->second.protocol == kProtocolV12) to.push_back(p);
    }
    if (to.empty()) return;
    proto::RPC rpc;
    rpc.mutable_control()->add_idontwant()->add_messageids(id);
    const auto f = std::make_shared<const Bytes>(frame(rpc));
    for (const auto& p : to) send(p, f, true);
    stats.idontwant_out += to.size();
  }

  void handle_idontwant(const PeerId& from, const proto::ControlMessage& c) {
    if (c.idontwant_size() == 0) return;
    auto it = peers.find(from);
    if (it == peers.end()) return;
    Peer& ps = it->second;
    for (const auto& d : c.idontwant()) {
      for (const auto& id : d.messageids()) {
        ++stats.idontwant_in;
        if (ps.dontwant_taken >= config.max_idontwant_ids) return;
        if (id.empty() || id.size() > kMaxDontWantIdLength) continue;
        ++ps.dontwant_taken;
        ps.dontwant.insert(id);
      }
    }
  }

  static bool does_not_want(const Peer& ps, const std::string& id) {
    return ps.dontwant.contains(id) || ps.dontwant_prev.contains(id);
  }

  void add_prune(proto::ControlMessage& c, const PeerId& to, const std::string& topic, bool px) {
    auto* pr = c.add_prune();
    pr->set_topicid(topic);
    ++stats.prunes_out;
    if (!supports_v11(to)) return;  // v1.0 PRUNE has neither backoff nor PX
    pr->set_backoff(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(config.prune_backoff).count()));
    if (!px || !config.peer_exchange) return;
    std::vector<PeerId> cands;
    for (const auto& [id, ps] : peers) {
      if (id != to && ps.topics.contains(topic) && is_gossip_peer(ps) && score_of(id) >= 0)
        cands.push_back(id);
    }
    std::shuffle(cands.begin(), cands.end(), rng);
    if (cands.size() > config.max_prune_peers) cands.resize(config.max_prune_peers);
    for (const auto& id : cands) pr->add_peers()->set_peerid(to_string(id.bytes()));
  }

  // ---- message ids, cache, delivery

  std::string message_id(const proto::Message& m) const {
    if (content_addressed.contains(m.topic())) {
      const Hash32 h = config.content_sha256 ? config.content_sha256(as_bytes(m.data()))
                                             : crypto::sha256(as_bytes(m.data()));
      return std::string(reinterpret_cast<const char*>(h.data()), h.size());
    }
    return m.from() + m.seqno();
  }

  void cache(const std::string& id, const proto::Message& m) {
    if (history.empty()) history.emplace_back();
    if (mcache.emplace(id, Cached{m}).second) history.front().emplace_back(id, m.topic());
  }

  Message to_message(const proto::Message& m, const PeerId& from, const std::string& id,
                     const PeerId& received_from) const {
    Message out;
    out.topic = m.topic();
    out.data = to_bytes(m.data());
    out.from = from;
    out.seqno = to_bytes(m.seqno());
    out.id = to_bytes(id);
    out.received_from = received_from;
    return out;
  }

  ValidationResult validate(const Message& msg) {
    auto it = validators.find(msg.topic);
    if (it == validators.end()) return ValidationResult::accept;
    auto v = it->second;  // copy: the validator may replace itself
    return v(msg);
  }

  void deliver(const Message& msg) {
    auto it = subs.find(msg.topic);
    if (it == subs.end() || !it->second.handler) return;
    ++stats.messages_delivered;
    auto h = it->second.handler;  // copy: the handler may unsubscribe
    h(msg);
  }

  // Sends `m` to `targets` (one serialisation for all).
  void send_message(const proto::Message& m, const std::vector<PeerId>& targets) {
    if (targets.empty()) return;
    // The framed RPC{publish: [m]} serialised straight into one buffer shared by every target:
    // uvarint(body size) || tag(field 2, length-delimited) || uvarint(size of m) || m.
    const std::size_t msize = m.ByteSizeLong();
    Bytes inner;
    put_uvarint(inner, msize);
    const std::size_t body = 1 + inner.size() + msize;
    auto f = std::make_shared<Bytes>();
    f->reserve(body + 10);
    put_uvarint(*f, body);
    f->push_back(0x12);
    append(*f, inner);
    const std::size_t at = f->size();
    f->resize(at + msize);
    m.SerializeWithCachedSizesToArray(f->data() + at);
    const std::shared_ptr<const Bytes> shared = std::move(f);
    for (const auto& p : targets) send(p, shared);
  }

  // ---- inbound RPC

  Status handle_rpc(const PeerId& from, ByteView body) {
    ++stats.rpcs_in;
    OL_TRY_ASSIGN(proto::RPC rpc, decode_rpc(body, config));
    if (score_of(from) < config.score.graylist_threshold) {
      ++stats.dropped_rpcs;
      return ok_status();
    }
    handle_subscriptions(from, rpc);
    for (const auto& m : rpc.publish()) {
      if (stopped) return ok_status();
      handle_message(from, m);
    }
    if (rpc.has_control() && !stopped && peers.contains(from)) handle_control(from, rpc.control());
    return ok_status();
  }

  void handle_subscriptions(const PeerId& from, const proto::RPC& rpc) {
    auto it = peers.find(from);
    if (it == peers.end()) return;
    Peer& ps = it->second;
    for (const auto& o : rpc.subscriptions()) {
      const std::string& t = o.topicid();
      if (t.empty() || t.size() > kMaxTopicLength) continue;
      if (o.subscribe()) {
        if (ps.topics.size() < kMaxTopicsPerPeer) ps.topics.insert(t);
      } else {
        ps.topics.erase(t);
        if (auto s = subs.find(t); s != subs.end()) s->second.mesh.erase(from);
        if (auto f = fanout.find(t); f != fanout.end()) f->second.peers.erase(from);
      }
    }
  }

  void handle_message(const PeerId& source, const proto::Message& m) {
    // Topics we do not subscribe to are not ours to validate or forward.
    if (!subs.contains(m.topic())) return;
    if (unsigned_topics.contains(m.topic())) {
      handle_unsigned_message(source, m);
      return;
    }
    auto author = PeerId::from_bytes(as_bytes(m.from()));
    std::optional<crypto::Ed25519PublicKey> key;
    if (author) key = author_key(*author, m);
    if (!author || !key || m.seqno().size() != kSeqnoSize || !m.has_signature() ||
        m.data().size() > config.max_message_size) {
      reject(source, "unsigned or malformed message");
      return;
    }
    const bool content = content_addressed.contains(m.topic());
    std::string origin;
    if (content) {
      origin.reserve(m.from().size() + m.seqno().size());
      origin.append(m.from()).append(m.seqno());
      if (seen_origin.contains(origin)) {
        // Its content id was erased from `promises` when it was first accepted.
        ++stats.duplicates;
        return;
      }
    }
    const std::string id = message_id(m);
    if (already_seen(id)) return;
    // Verified before it is marked seen: a forged copy must not shadow the real message.
    if (!verify_signature(m, *key)) {
      reject(source, "bad signature");
      return;
    }
    seen.insert(id, Clock::now());
    if (content) seen_origin.insert(origin, Clock::now());
    // Signed by its author, so not a forgery that could make peers withhold the real message.
    validate_and_forward(source, &*author, id, m);
  }

  // A duplicate of a message we have: counted, and a pending IWANT promise for it is fulfilled.
  bool already_seen(const std::string& id) {
    if (!seen.contains(id)) return false;
    ++stats.duplicates;
    promises.erase(id);
    return true;
  }

  // A topic under StrictNoSign (set_unsigned): the message must carry no author, seqno,
  // signature or key, and its id is the SHA-256 of its data, so a copy with other data is another
  // message and cannot shadow it. Its payload authenticates itself (the topic's validator checks
  // it); the peer that sent it answers for it.
  void handle_unsigned_message(const PeerId& source, const proto::Message& m) {
    if (!is_unsigned(m) || m.data().size() > config.max_message_size) {
      reject(source, "signed or oversized message on an unsigned topic");
      return;
    }
    const std::string id = message_id(m);
    if (already_seen(id)) return;
    seen.insert(id, Clock::now());
    // Its id is its content's hash, so an IDONTWANT for it cannot withhold another message.
    validate_and_forward(source, nullptr, id, m);
  }

  // A new message, now in `seen` (signature checked where the topic has one): IDONTWANT to the
  // sender's mesh, the topic's validator, then forwarding and delivery.
  void validate_and_forward(const PeerId& source, const PeerId* author, const std::string& id,
                            const proto::Message& m) {
    promises.erase(id);
    if (m.data().size() >= config.idontwant_min_size) send_idontwant(m.topic(), id, source);
    const Message msg = to_message(m, author != nullptr ? *author : PeerId{}, id, source);
    switch (validate(msg)) {
      case ValidationResult::reject:
        reject(source, "rejected by validator");
        return;
      case ValidationResult::ignore:
        ++stats.ignored;
        return;
      case ValidationResult::accept:
        break;
    }
    if (stopped) return;
    forward_and_deliver(source, author, id, m, msg);
  }

  // Forwards an accepted message to mesh and direct peers (not back to where it came from, nor
  // to its author) before delivering it, so a slow handler does not delay the mesh.
  void forward_and_deliver(const PeerId& source, const PeerId* author, const std::string& id,
                           const proto::Message& m, const Message& msg) {
    cache(id, m);
    const auto skip = [&](const PeerId& p) {
      return p == source || (author != nullptr && p == *author);
    };
    std::vector<PeerId> targets;
    if (auto s = subs.find(m.topic()); s != subs.end()) {
      for (const auto& p : s->second.mesh) {
        if (skip(p)) continue;
        if (auto ps = peers.find(p); ps != peers.end() && does_not_want(ps->second, id)) {
          ++stats.idontwant_skipped;
          continue;
        }
        targets.push_back(p);
      }
    }
    add_direct_targets(m.topic(), targets);
    std::erase_if(targets, [&](const PeerId& p) {
      if (skip(p)) return true;
      auto ps = peers.find(p);
      return ps != peers.end() && direct.contains(p) && does_not_want(ps->second, id);
    });
    send_message(m, targets);
    deliver(msg);
  }

  void reject(const PeerId& source, const char* why) {
    ++stats.invalid;
    penalise(source, config.score.invalid_message_penalty);
    spdlog::debug("gossipsub: invalid message from {}: {}", source.to_string(), why);
  }

  void handle_control(const PeerId& from, const proto::ControlMessage& c) {
    proto::ControlMessage reply;
    const bool gossip_ok = score_of(from) >= config.score.gossip_threshold;
    handle_idontwant(from, c);
    if (gossip_ok) handle_ihave(from, c, reply);
    if (gossip_ok) handle_iwant(from, c);
    handle_graft(from, c, reply);
    handle_prune(from, c);
    if (reply.ihave_size() + reply.iwant_size() + reply.graft_size() + reply.prune_size() > 0) {
      proto::RPC rpc;
      *rpc.mutable_control() = std::move(reply);
      send(from, rpc);
    }
  }

  void handle_ihave(const PeerId& from, const proto::ControlMessage& c,
                    proto::ControlMessage& reply) {
    auto it = peers.find(from);
    if (it == peers.end() || c.ihave_size() == 0) return;
    Peer& ps = it->second;
    stats.ihave_in += static_cast<std::uint64_t>(c.ihave_size());
    if (++ps.ihaves > config.max_ihave_messages) return;
    std::vector<const std::string*> want;
    for (const auto& ih : c.ihave()) {
      if (!subs.contains(ih.topicid())) continue;
      for (const auto& id : ih.messageids()) {
        if (ps.iasked >= config.max_ihave_length) break;
        if (id.empty() || id.size() > kMaxMessageIdLength || seen.contains(id) ||
            promises.contains(id))
          continue;
        ++ps.iasked;
        want.push_back(&id);
      }
    }
    if (want.empty()) return;
    std::shuffle(want.begin(), want.end(), rng);
    auto* iw = reply.add_iwant();
    for (const auto* id : want) iw->add_messageids(*id);
    ++stats.iwant_out;
    // One promise per IWANT (as go-libp2p-pubsub does): a random id the peer must deliver.
    promises.emplace(*want.front(), Promise{from, Clock::now() + config.iwant_followup});
  }

  void handle_iwant(const PeerId& from, const proto::ControlMessage& c) {
    auto it = peers.find(from);
    if (it == peers.end() || c.iwant_size() == 0) return;
    stats.iwant_in += static_cast<std::uint64_t>(c.iwant_size());
    proto::RPC rpc;
    for (const auto& iw : c.iwant()) {
      for (const auto& id : iw.messageids()) {
        if (it->second.iwant_served >= config.max_ihave_length) break;
        ++it->second.iwant_served;
        auto m = mcache.find(id);
        if (m != mcache.end()) *rpc.add_publish() = m->second.msg;
      }
    }
    if (rpc.publish_size() > 0) send(from, rpc);
  }

  bool backed_off(const Subscription& sub, const PeerId& p, Clock::time_point now) const {
    auto b = sub.backoff.find(p);
    return b != sub.backoff.end() && b->second > now;
  }

  void handle_graft(const PeerId& from, const proto::ControlMessage& c,
                    proto::ControlMessage& reply) {
    const auto now = Clock::now();
    for (const auto& g : c.graft()) {
      auto s = subs.find(g.topicid());
      if (s == subs.end()) continue;  // unknown topic: ignored (no PRUNE, no PX leak)
      ++stats.grafts_in;
      Subscription& sub = s->second;
      if (sub.mesh.contains(from)) continue;
      auto ps = peers.find(from);
      if (ps == peers.end() || !is_gossip_peer(ps->second)) continue;
      if (direct.contains(from)) {
        // A direct peer gets everything without a mesh: its GRAFT is a misconfiguration.
        spdlog::debug("gossipsub: GRAFT from direct peer {}", from.to_string());
        add_prune(reply, from, g.topicid(), false);
        continue;
      }
      if (backed_off(sub, from, now)) {
        // GRAFT during backoff: a protocol violation (v1.1), penalised like a broken promise.
        penalise(from, config.score.broken_promise_penalty);
        sub.backoff[from] = now + config.prune_backoff;
        add_prune(reply, from, g.topicid(), false);
        continue;
      }
      if (score_of(from) < 0) {
        add_prune(reply, from, g.topicid(), false);
        continue;
      }
      if (sub.mesh.size() >= config.d_hi) {
        sub.backoff[from] = now + config.prune_backoff;
        add_prune(reply, from, g.topicid(), true);
        continue;
      }
      sub.mesh.insert(from);
      add_join_ihave(reply, from, g.topicid());
    }
  }

  // A peer joins our mesh on `topic` (we GRAFT it, or accept its GRAFT): advertise the gossip
  // window's ids on the topic to it. A message that crossed the link before the peer was in the
  // mesh was not forwarded to it, and emit_gossip() advertises only to peers outside the mesh, so
  // without this it would never be repaired if all of the peer's links joined meshes at once.
  // Bounded like heartbeat gossip: at most max_ihave_length ids per peer and heartbeat, newest
  // first, and at most max_ihave_messages times per peer and heartbeat; the peer IWANTs only what
  // it has not seen.
  void add_join_ihave(proto::ControlMessage& c, const PeerId& p, const std::string& topic) {
    auto it = peers.find(p);
    if (it == peers.end() || score_of(p) < config.score.gossip_threshold) return;
    // A peer cycling unsubscribe/subscribe/GRAFT gets at most max_ihave_messages scans.
    if (++it->second.join_ihaves > config.max_ihave_messages) return;
    std::size_t& budget = it->second.join_ihave_ids;
    proto::ControlIHave* ih = nullptr;
    const std::size_t windows = std::min(config.history_gossip, history.size());
    for (std::size_t w = 0; w < windows && budget < config.max_ihave_length; ++w) {
      const auto& window = history[w];
      for (auto e = window.rbegin(); e != window.rend(); ++e) {
        if (budget >= config.max_ihave_length) break;
        if (e->second != topic) continue;
        if (!ih) {
          ih = c.add_ihave();
          ih->set_topicid(topic);
          ++stats.ihave_out;
        }
        ih->add_messageids(e->first);
        ++budget;
      }
    }
  }

  void handle_prune(const PeerId& from, const proto::ControlMessage& c) {
    const auto now = Clock::now();
    std::vector<PeerId> px;
    for (const auto& pr : c.prune()) {
      auto s = subs.find(pr.topicid());
      if (s == subs.end()) continue;
      ++stats.prunes_in;
      Subscription& sub = s->second;
      sub.mesh.erase(from);
      const auto backoff =
          pr.has_backoff()
              ? std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::seconds(std::min<std::uint64_t>(pr.backoff(), kMaxBackoffSeconds)))
              : config.prune_backoff;
      sub.backoff[from] = now + backoff;
      if (!config.peer_exchange || score_of(from) < 0) continue;
      std::size_t taken = 0;
      for (const auto& info : pr.peers()) {
        if (taken >= config.max_prune_peers || px.size() >= config.max_prune_peers) break;
        ++taken;
        auto id = PeerId::from_bytes(as_bytes(info.peerid()));
        if (!id || *id == identity.peer_id || host->is_connected(*id)) continue;
        if (std::find(px.begin(), px.end(), *id) == px.end()) px.push_back(*id);
      }
    }
    if (!px.empty() && px_handler) {
      auto h = px_handler;
      h(px);
    }
  }

  // ---- local API

  std::vector<PeerId> topic_peers(const std::string& topic) const {
    std::vector<PeerId> out;
    for (const auto& [id, ps] : peers) {
      if (is_gossip_peer(ps) && ps.topics.contains(topic)) out.push_back(id);
    }
    return out;
  }

  // Subscribed peers that may join a mesh or fanout or get gossip: all but direct peers.
  std::vector<PeerId> overlay_candidates(const std::string& topic) const {
    auto out = topic_peers(topic);
    std::erase_if(out, [&](const PeerId& p) { return direct.contains(p); });
    return out;
  }

  // Direct peers subscribed to `topic`, for every message on it.
  void add_direct_targets(const std::string& topic, std::vector<PeerId>& targets) const {
    for (const auto& p : direct) {
      auto it = peers.find(p);
      if (it == peers.end() || !is_gossip_peer(it->second) || !it->second.topics.contains(topic))
        continue;
      if (std::find(targets.begin(), targets.end(), p) == targets.end()) targets.push_back(p);
    }
  }

  void announce(const std::string& topic, bool subscribe) {
    proto::RPC rpc;
    auto* o = rpc.add_subscriptions();
    o->set_subscribe(subscribe);
    o->set_topicid(topic);
    const auto f = std::make_shared<const Bytes>(frame(rpc));
    for (const auto& [id, ps] : peers) {
      if (is_gossip_peer(ps)) send(id, f);
    }
  }

  void graft(const PeerId& p, const std::string& topic) {
    proto::RPC rpc;
    rpc.mutable_control()->add_graft()->set_topicid(topic);
    ++stats.grafts_out;
    add_join_ihave(*rpc.mutable_control(), p, topic);
    send(p, rpc);
  }

  void subscribe(const std::string& topic, MessageHandler handler) {
    auto [it, inserted] = subs.try_emplace(topic);
    it->second.handler = std::move(handler);
    if (!inserted) return;
    announce(topic, true);
    // Join: fanout peers first, then other subscribed peers, up to D.
    std::vector<PeerId> chosen;
    if (auto f = fanout.find(topic); f != fanout.end()) {
      for (const auto& p : f->second.peers) {
        if (score_of(p) >= 0) chosen.push_back(p);
      }
      fanout.erase(f);
    }
    auto cands = overlay_candidates(topic);
    std::shuffle(cands.begin(), cands.end(), rng);
    for (const auto& p : cands) {
      if (chosen.size() >= config.d) break;
      if (score_of(p) >= 0 && std::find(chosen.begin(), chosen.end(), p) == chosen.end())
        chosen.push_back(p);
    }
    for (const auto& p : chosen) {
      it->second.mesh.insert(p);
      graft(p, topic);
    }
  }

  void unsubscribe(const std::string& topic) {
    auto it = subs.find(topic);
    if (it == subs.end()) return;
    const auto mesh = it->second.mesh;
    subs.erase(it);
    announce(topic, false);
    for (const auto& p : mesh) {
      proto::RPC rpc;
      add_prune(*rpc.mutable_control(), p, topic, true);
      send(p, rpc);
    }
  }

  Result<Bytes> publish(const std::string& topic, Bytes data) {
    if (data.size() > config.max_message_size)
      return over("message data", data.size(), config.max_message_size).error();
    if (topic.empty() || topic.size() > kMaxTopicLength)
      return make_error(Errc::invalid_argument, "bad topic name");
    proto::Message m;
    const bool sign = !unsigned_topics.contains(topic);
    if (sign) m.set_from(to_string(identity.peer_id.bytes()));
    m.set_data(to_string(data));
    if (sign) {
      std::string seq(kSeqnoSize, '\0');
      const std::uint64_t s = ++seqno;
      for (std::size_t i = 0; i < kSeqnoSize; ++i)
        seq[i] = static_cast<char>(s >> (8 * (kSeqnoSize - 1 - i)));
      m.set_seqno(seq);
    }
    m.set_topic(topic);
    if (sign) {
      std::string in(kSignPrefix);
      m.AppendToString(&in);
      const auto sig = identity.key.sign(as_bytes(in));
      m.set_signature(std::string(sig.bytes.begin(), sig.bytes.end()));
      // key omitted: an Ed25519 PeerId inlines it
    }

    const std::string id = message_id(m);
    if (seen.contains(id))
      return make_error(Errc::state, "duplicate: payload already seen on " + topic);
    const Message msg = to_message(m, identity.peer_id, id, identity.peer_id);
    if (validate(msg) != ValidationResult::accept)
      return make_error(Errc::invalid_argument, "own message not accepted by the validator");
    seen.insert(id, Clock::now());
    if (sign && content_addressed.contains(topic)) {
      seen_origin.insert(m.from() + m.seqno(), Clock::now());
    }
    cache(id, m);

    std::vector<PeerId> targets;
    const auto now = Clock::now();
    auto sub = subs.find(topic);
    if (config.flood_publish) {
      for (const auto& p : topic_peers(topic)) {
        if (score_of(p) >= config.score.publish_threshold) targets.push_back(p);
      }
    } else if (sub != subs.end()) {
      targets.assign(sub->second.mesh.begin(), sub->second.mesh.end());
    }
    if (sub == subs.end()) {
      Fanout& f = fanout[topic];
      f.last_publish = now;
      if (f.peers.empty()) fill_fanout(topic, f);
      if (!config.flood_publish) targets.assign(f.peers.begin(), f.peers.end());
    }
    add_direct_targets(topic, targets);
    send_message(m, targets);
    if (sub != subs.end()) deliver(msg);
    return to_bytes(id);
  }

  void fill_fanout(const std::string& topic, Fanout& f) {
    auto cands = overlay_candidates(topic);
    std::shuffle(cands.begin(), cands.end(), rng);
    for (const auto& p : cands) {
      if (f.peers.size() >= config.d) break;
      if (score_of(p) >= config.score.publish_threshold) f.peers.insert(p);
    }
  }

  // ---- heartbeat

  void start_heartbeat() {
    heartbeat_timer = std::make_shared<asio::steady_timer>(host->io_context());
    asio::co_spawn(host->io_context(), heartbeat_loop(self(), heartbeat_timer), asio::detached);
  }

  Task<void> heartbeat_loop(std::shared_ptr<Gossipsub> /*keep_alive*/,
                            std::shared_ptr<asio::steady_timer> timer) {
    // The first heartbeat comes early so a fresh node forms its mesh quickly.
    auto delay = std::min<Clock::duration>(config.heartbeat, config.first_heartbeat);
    for (;;) {
      timer->expires_after(delay);
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped || ec) co_return;
      heartbeat();
      delay = config.heartbeat;
    }
  }

  void heartbeat() {
    const auto now = Clock::now();
    // Scores decay towards zero; forgotten once negligible for a disconnected peer.
    for (auto it = scores.begin(); it != scores.end();) {
      it->second *= config.score.decay;
      if (std::abs(it->second) < 0.01) it->second = 0;
      if (it->second == 0 && !peers.contains(it->first)) {
        it = scores.erase(it);
      } else {
        ++it;
      }
    }
    // Broken promises: an IWANT the peer did not answer in time.
    for (auto it = promises.begin(); it != promises.end();) {
      if (it->second.deadline <= now) {
        penalise(it->second.peer, config.score.broken_promise_penalty);
        it = promises.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [id, ps] : peers) {
      ps.ihaves = ps.iasked = ps.iwant_served = 0;
      ps.join_ihaves = ps.join_ihave_ids = 0;
      ps.dontwant_prev = std::move(ps.dontwant);
      ps.dontwant.clear();
      ps.dontwant_taken = 0;
    }
    // Outbound streams: a dead one (reset by the peer, or its connection closed) is dropped, and
    // a connected peer without one gets a new one.
    std::vector<PeerId> reopen;
    for (auto& [id, ps] : peers) {
      if (ps.out && ps.out->is_reset()) lose_outbound(id, ps);
      if (!ps.out && !ps.opening && now >= ps.retry_at && host->is_connected(id))
        reopen.push_back(id);
    }
    for (const auto& id : reopen) open_outbound(id);

    std::unordered_map<PeerId, proto::ControlMessage> control;
    for (auto& [topic, sub] : subs) maintain_mesh(topic, sub, now, control);
    for (auto it = fanout.begin(); it != fanout.end();) {
      if (now - it->second.last_publish > config.fanout_ttl) {
        it = fanout.erase(it);
        continue;
      }
      auto& f = it->second;
      for (auto p = f.peers.begin(); p != f.peers.end();) {
        auto ps = peers.find(*p);
        const bool keep = ps != peers.end() && is_gossip_peer(ps->second) &&
                          ps->second.topics.contains(it->first) &&
                          score_of(*p) >= config.score.publish_threshold;
        p = keep ? std::next(p) : f.peers.erase(p);
      }
      if (f.peers.size() < config.d) fill_fanout(it->first, f);
      ++it;
    }
    emit_gossip(control);
    for (auto& [p, c] : control) {
      proto::RPC rpc;
      *rpc.mutable_control() = std::move(c);
      send(p, rpc);
    }
    // Shift the message cache window and expire the seen-cache.
    history.emplace_front();
    while (history.size() > std::max<std::size_t>(config.history_length, 1)) {
      for (const auto& [id, topic] : history.back()) mcache.erase(id);
      history.pop_back();
    }
    seen.expire(now);
    seen_origin.expire(now);
    stats.seen_cache_size = seen.size();
  }

  void maintain_mesh(const std::string& topic, Subscription& sub, Clock::time_point now,
                     std::unordered_map<PeerId, proto::ControlMessage>& control) {
    for (auto b = sub.backoff.begin(); b != sub.backoff.end();)
      b = b->second <= now ? sub.backoff.erase(b) : std::next(b);
    // Members that left, lost their stream, or scored negative go.
    for (auto p = sub.mesh.begin(); p != sub.mesh.end();) {
      auto ps = peers.find(*p);
      const bool alive =
          ps != peers.end() && is_gossip_peer(ps->second) && ps->second.topics.contains(topic);
      if (alive && score_of(*p) < 0) {
        add_prune(control[*p], *p, topic, false);
        sub.backoff[*p] = now + config.prune_backoff;
      }
      p = alive && score_of(*p) >= 0 ? std::next(p) : sub.mesh.erase(p);
    }
    if (sub.mesh.size() < config.d_lo) {
      auto cands = overlay_candidates(topic);
      std::shuffle(cands.begin(), cands.end(), rng);
      for (const auto& p : cands) {
        if (sub.mesh.size() >= config.d) break;
        if (sub.mesh.contains(p) || backed_off(sub, p, now) || score_of(p) < 0) continue;
        sub.mesh.insert(p);
        control[p].add_graft()->set_topicid(topic);
        ++stats.grafts_out;
        add_join_ihave(control[p], p, topic);
      }
    }
    if (sub.mesh.size() > config.d_hi) {
      // Keep the D best-scoring (ties broken at random); prune the rest with PX.
      std::vector<PeerId> members(sub.mesh.begin(), sub.mesh.end());
      std::shuffle(members.begin(), members.end(), rng);
      std::stable_sort(members.begin(), members.end(),
                       [&](const PeerId& a, const PeerId& b) { return score_of(a) > score_of(b); });
      for (std::size_t i = config.d; i < members.size(); ++i) {
        sub.mesh.erase(members[i]);
        sub.backoff[members[i]] = now + config.prune_backoff;
        add_prune(control[members[i]], members[i], topic, true);
      }
    }
  }

  void emit_gossip(std::unordered_map<PeerId, proto::ControlMessage>& control) {
    std::map<std::string, std::vector<const std::string*>> ids;  // topic -> recent ids
    const std::size_t windows = std::min(config.history_gossip, history.size());
    for (std::size_t w = 0; w < windows; ++w) {
      for (const auto& [id, topic] : history[w]) ids[topic].push_back(&id);
    }
    for (auto& [topic, list] : ids) {
      const std::unordered_set<PeerId>* exclude = nullptr;
      if (auto s = subs.find(topic); s != subs.end()) {
        exclude = &s->second.mesh;
      } else if (auto f = fanout.find(topic); f != fanout.end()) {
        exclude = &f->second.peers;
      } else {
        continue;
      }
      std::vector<PeerId> cands;
      for (const auto& p : overlay_candidates(topic)) {
        if (!exclude->contains(p) && score_of(p) >= config.score.gossip_threshold)
          cands.push_back(p);
      }
      if (cands.empty()) continue;
      std::shuffle(cands.begin(), cands.end(), rng);
      if (cands.size() > config.d_lazy) cands.resize(config.d_lazy);
      if (list.size() > config.max_ihave_length) {
        std::shuffle(list.begin(), list.end(), rng);
        list.resize(config.max_ihave_length);
      }
      for (const auto& p : cands) {
        auto* ih = control[p].add_ihave();
        ih->set_topicid(topic);
        for (const auto* id : list) ih->add_messageids(*id);
        ++stats.ihave_out;
      }
    }
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    if (heartbeat_timer) heartbeat_timer->cancel();
    host->remove_handler(std::string(kProtocolV12));
    host->remove_handler(std::string(kProtocolV11));
    host->remove_handler(std::string(kProtocolV10));
    auto all = std::move(peers);
    peers.clear();
    for (auto& [id, ps] : all) {
      if (ps.out) ps.out->reset();
      if (ps.in) ps.in->reset();
      ps.wake->notify();
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Public surface

std::shared_ptr<Gossipsub> Gossipsub::create(std::shared_ptr<Host> host, Identity identity,
                                             Config config) {
  return std::shared_ptr<Gossipsub>(
      new Gossipsub(std::move(host), std::move(identity), std::move(config)));
}

Gossipsub::Gossipsub(std::shared_ptr<Host> host, Identity identity, Config config)
    : impl_(
          std::make_unique<Impl>(*this, std::move(host), std::move(identity), std::move(config))) {}

Gossipsub::~Gossipsub() = default;

void Gossipsub::start() {
  Impl& im = *impl_;
  if (im.started) return;
  im.started = true;
  std::weak_ptr<Gossipsub> weak = shared_from_this();
  auto handler = [weak](Host::StreamPtr s) -> Task<void> {
    auto self = weak.lock();
    if (!self || self->impl_->stopped) co_return;
    co_await self->impl_->read_loop(self, std::move(s));
  };
  im.host->set_handler(std::string(kProtocolV12), handler);
  im.host->set_handler(std::string(kProtocolV11), handler);
  im.host->set_handler(std::string(kProtocolV10), handler);
  im.host->on_event([weak](const ConnectionEvent& e) {
    if (auto self = weak.lock()) self->impl_->on_connection(e);
  });
  for (const auto& p : im.host->peers()) im.open_outbound(p);
  im.start_heartbeat();
}

void Gossipsub::stop() {
  impl_->stop();
}

void Gossipsub::subscribe(const std::string& topic, MessageHandler handler) {
  impl_->subscribe(topic, std::move(handler));
}

void Gossipsub::unsubscribe(const std::string& topic) {
  impl_->unsubscribe(topic);
}

void Gossipsub::set_validator(const std::string& topic, Validator validator) {
  impl_->validators[topic] = std::move(validator);
}

void Gossipsub::set_content_addressed(const std::string& topic) {
  impl_->content_addressed.insert(topic);
}

void Gossipsub::set_unsigned(const std::string& topic) {
  impl_->content_addressed.insert(topic);
  impl_->unsigned_topics.insert(topic);
}

void Gossipsub::on_peer_exchange(PeerExchangeHandler handler) {
  impl_->px_handler = std::move(handler);
}

void Gossipsub::set_rpc_filter(RpcFilter filter) {
  impl_->rpc_filter = std::move(filter);
}

Result<Bytes> Gossipsub::publish(const std::string& topic, Bytes data) {
  if (impl_->stopped) return make_error(Errc::state, "gossipsub stopped");
  return impl_->publish(topic, std::move(data));
}

std::vector<PeerId> Gossipsub::mesh_peers(const std::string& topic) const {
  auto it = impl_->subs.find(topic);
  if (it == impl_->subs.end()) return {};
  return std::vector<PeerId>(it->second.mesh.begin(), it->second.mesh.end());
}

std::vector<PeerId> Gossipsub::topic_peers(const std::string& topic) const {
  return impl_->topic_peers(topic);
}

double Gossipsub::score(const PeerId& peer) const {
  return impl_->score_of(peer);
}

const Stats& Gossipsub::stats() const {
  impl_->stats.seen_cache_size = impl_->seen.size();
  return impl_->stats;
}

std::size_t Gossipsub::pending_send_bytes() const {
  std::size_t n = 0;
  for (const auto& [id, ps] : impl_->peers) n += ps.queued_bytes + ps.writing_bytes;
  return n;
}

const Config& Gossipsub::config() const {
  return impl_->config;
}

}  // namespace ol::p2p::gossipsub
