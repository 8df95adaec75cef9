#include "network/network_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "crypto/hash.h"
#include "network/backoff.h"
#include "network/envelope.h"
#include "network/frame.h"
#include "network/rate_limit.h"

namespace ol::network {
namespace {

namespace asio = p2p::asio;
using p2p::Clock;
using p2p::Multiaddr;
using p2p::PeerId;
using p2p::Task;
using StreamPtr = p2p::Host::StreamPtr;

constexpr std::size_t kWriteBatch = 64 * 1024;  // frames coalesced into one stream write
constexpr std::size_t kReadChunk = 64 * 1024;
// A connection that lived at least this long resets the redial backoff when it drops; a shorter
// one (e.g. the remote accepts and then refuses us) keeps backing off.
constexpr auto kStableConnection = std::chrono::seconds(2);
constexpr auto kTick = std::chrono::seconds(1);  // rate-limit windows, ban expiry, discovery
constexpr std::size_t kPropagationSamples = 1024;
constexpr std::size_t kMaxAddressBook = 1024;
constexpr std::size_t kMaxAddrsPerPeer = 8;
constexpr std::size_t kDialsPerTick = 4;  // discovery dials started per tick

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

Task<void> sleep_on(asio::steady_timer& t, Clock::duration d) {
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// One protocol list outside coroutine bodies: GCC 12 mis-compiles braced lists inside them.
std::vector<std::string> consensus_protocols() {
  return std::vector<std::string>(1, std::string(kConsensusProtocol));
}

// SHA-256(topic || 0x00 || data): one payload is one message per topic. (crypto::Sha256 uses the
// CPU's SHA extensions: ~60 us for 64 KiB here against ~275 us for portable code; gossip hashes
// every payload once or twice per node.)
Hash32 content_id(std::string_view topic, ByteView data) {
  crypto::Sha256 h;
  h.update(as_bytes(topic));
  const std::uint8_t sep = 0;
  h.update(ByteView(&sep, 1));
  h.update(data);
  return h.finish();
}

// Content seen-cache for gossip payloads (see Impl::seen_content): bounded by age and count.
class ContentSeen {
 public:
  ContentSeen(std::chrono::milliseconds ttl, std::size_t max) : ttl_(ttl), max_(max) {}
  /// True if `h` was not seen within the window (and records it).
  bool insert(const Hash32& h, Clock::time_point now) {
    while (!order_.empty() && (order_.front().first + ttl_ <= now || order_.size() >= max_)) {
      set_.erase(order_.front().second);
      order_.pop_front();
    }
    if (!set_.insert(h).second) return false;
    order_.emplace_back(now, h);
    return true;
  }

 private:
  std::chrono::milliseconds ttl_;
  std::size_t max_;
  std::deque<std::pair<Clock::time_point, Hash32>> order_;
  std::unordered_set<Hash32, crypto::Hash32Hasher> set_;
};

}  // namespace

// The outbound side of one validator channel: its send queue, the writer that drains it onto one
// long-lived stream, and the dialer that keeps the connection up.
struct Link {
  explicit Link(const asio::any_io_executor& ex) : conn_signal(ex), send_signal(ex), timer(ex) {}

  ValidatorIndex index = 0;
  PeerId peer;
  Multiaddr addr;                                  // with /p2p/<peer>
  std::deque<std::shared_ptr<const Bytes>> queue;  // encoded frames (length prefix included)
  std::size_t queued_bytes = 0;
  p2p::Signal conn_signal;   // dialer: connection state changed, or closing
  p2p::Signal send_signal;   // writer: frames queued, connection state changed, or closing
  asio::steady_timer timer;  // dialer backoff
  StreamPtr stream;
  std::size_t attempt = 0;
  bool closed = false;
};

struct NetworkManager::Impl : std::enable_shared_from_this<NetworkManager::Impl> {
  Impl(asio::io_context& io_ctx, p2p::Identity id, Config cfg)
      : io(io_ctx),
        identity(std::move(id)),
        config(std::move(cfg)),
        tick_timer(io_ctx),
        partition_timer(io_ctx),
        rng(std::random_device{}()),
        seen_content(config.gossip.seen_ttl, std::max<std::size_t>(config.gossip.seen_max, 1)) {}

  asio::io_context& io;
  p2p::Identity identity;
  Config config;
  std::shared_ptr<p2p::Host> host;
  std::shared_ptr<p2p::gossipsub::Gossipsub> gossip;
  EventHandler handler;
  std::map<std::string, p2p::gossipsub::Gossipsub::Validator, std::less<>> gossip_validators;

  std::vector<std::optional<ValidatorPeer>> validators;  // the set, by index (self included)
  std::vector<std::shared_ptr<Link>> links;              // by index; null for self and gaps
  std::unordered_map<PeerId, ValidatorIndex> validator_of;
  std::optional<ValidatorIndex> self;

  std::unordered_set<PeerId> connected;  // as reported to the application
  std::unordered_map<PeerId, InboundLimiter> limiters;
  std::unordered_map<PeerId, Clock::time_point> banned;             // until
  std::unordered_map<PeerId, std::vector<Multiaddr>> address_book;  // from identify
  std::unordered_map<PeerId, Clock::time_point> next_discovery_dial;
  std::vector<Multiaddr> bootstrap;

  asio::steady_timer tick_timer;
  asio::steady_timer partition_timer;
  std::mt19937_64 rng;
  // Gossip payloads are content-addressed at the application level: the envelope's timestamp
  // makes gossipsub's content id differ between two publications of the same data, so this cache
  // (content_id: SHA-256 of topic and data; gossipsub's seen window and bound) keeps "one payload,
  // one message".
  ContentSeen seen_content;
  bool started = false, stopped = false;
  bool partitioned = false;  // io thread's view; stats.partitioned mirrors it

  mutable std::mutex mu;  // guards stats and the propagation samples
  Health stats;
  std::vector<double> samples;
  std::size_t next_sample = 0;

  // ---- io thread ----------------------------------------------------------------------------

  void emit(const Event& e) {
    if (handler) handler(e);
  }
  template <typename F>
  void update(F&& f) {
    std::lock_guard lock(mu);
    f(stats);
  }

  std::optional<ValidatorIndex> validator_index(const PeerId& p) const {
    auto it = validator_of.find(p);
    if (it == validator_of.end()) return std::nullopt;
    return it->second;
  }
  bool is_banned(const PeerId& p) {
    auto it = banned.find(p);
    return it != banned.end() && it->second > Clock::now();
  }
  std::size_t connected_validators() const {
    std::size_t n = 0;
    for (const auto& l : links) n += l && connected.contains(l->peer);
    return n;
  }
  void refresh_peer_counts() {
    const std::size_t peers = connected.size(), vals = connected_validators();
    update([&](Health& h) {
      h.connected_peers = peers;
      h.validator_peers = vals;
    });
  }

  InboundLimiter& limiter(const PeerId& p) {
    auto it = limiters.find(p);
    if (it == limiters.end()) {
      it = limiters
               .emplace(p, InboundLimiter(config.peer_max_msgs_per_sec,
                                          config.peer_max_bytes_per_sec, Clock::now()))
               .first;
    }
    return it->second;
  }
  /// Charges one inbound message to `p`'s buckets; false (counted) if over its limits.
  bool admit(const PeerId& p, std::size_t size, std::size_t msgs = 1) {
    if (limiter(p).admit(size, Clock::now(), msgs)) return true;
    update([](Health& h) { ++h.rate_limited; });
    return false;
  }

  void ban(const PeerId& p, const std::string& why) {
    spdlog::warn("network: banning {} for {} ms: {}", p.to_string(), config.ban_duration.count(),
                 why);
    banned[p] = Clock::now() + config.ban_duration;
    limiters.erase(p);
    update([](Health& h) { ++h.bans; });
    host->disconnect(p);
  }

  // -- validator set --

  void install_validator(ValidatorIndex index, ValidatorPeer peer) {
    if (validators.size() <= index) {
      validators.resize(index + 1);
      links.resize(index + 1);
    }
    drop_validator(index);
    const PeerId id = PeerId::from_public_key(peer.key);
    validators[index] = peer;
    validator_of[id] = index;
    if (id == identity.peer_id) {
      self = index;
      return;
    }
    auto link = std::make_shared<Link>(io.get_executor());
    link->index = index;
    link->peer = id;
    link->addr = peer.address.with_peer_id(id);
    links[index] = link;
    if (started && !stopped) spawn_link(link);
  }

  void drop_validator(ValidatorIndex index) {
    if (index >= validators.size() || !validators[index]) return;
    const PeerId id = PeerId::from_public_key(validators[index]->key);
    validator_of.erase(id);
    if (self == index) self.reset();
    validators[index].reset();
    if (auto link = std::exchange(links[index], nullptr)) close_link(*link);
  }

  void close_link(Link& link) {
    link.closed = true;
    link.timer.cancel();
    if (link.stream) link.stream->reset();
    link.stream = nullptr;
    link.queue.clear();
    link.queued_bytes = 0;
    link.conn_signal.notify();
    link.send_signal.notify();
  }

  void spawn_link(const std::shared_ptr<Link>& link) {
    auto self_ptr = shared_from_this();
    asio::co_spawn(io, dial_loop(self_ptr, link), asio::detached);
    asio::co_spawn(io, write_loop(self_ptr, link), asio::detached);
  }

  /// Keeps the connection to a validator up: dials when it is down, backing off exponentially
  /// (with jitter) after failed dials and after connections that did not last.
  static Task<void> dial_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> link) {
    bool back_off = false, yield_first = true;
    while (!self->stopped && !link->closed) {
      if (self->host->is_connected(link->peer)) {
        const auto since = Clock::now();
        co_await link->conn_signal.wait();
        if (!self->host->is_connected(link->peer)) {
          // A connection that lasted redials at once; one that did not (the remote accepts and
          // then drops us) backs off like a failed dial.
          const bool stable = Clock::now() - since >= kStableConnection;
          if (stable) link->attempt = 0;
          back_off = !stable;
          yield_first = stable;
        }
        continue;
      }
      if (back_off) {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        const auto d = redial_delay(self->config.redial_base, self->config.redial_cap,
                                    link->attempt++, u(self->rng));
        co_await sleep_on(link->timer, d);
        back_off = false;
        continue;
      }
      if (auto it = self->banned.find(link->peer);
          it != self->banned.end() && it->second > Clock::now()) {
        co_await sleep_on(link->timer, it->second - Clock::now());
        continue;
      }
      if (yield_first && self->identity.peer_id > link->peer) {
        // Both validators dial each other; the Host keeps the connection dialled by the smaller
        // PeerId. Letting that one go first avoids a swap, which loses the frames already
        // written on the connection that is dropped.
        yield_first = false;
        co_await sleep_on(link->timer, self->config.redial_base);
        continue;
      }
      yield_first = false;
      auto r = co_await self->host->dial(link->addr);
      if (!r) {
        spdlog::debug("network: dial validator {} failed: {}", link->index, r.error().to_string());
        back_off = true;
      }
    }
  }

  /// Drains a validator's send queue onto one long-lived outbound stream. Only this coroutine
  /// waits on the peer, so a slow validator holds up nothing but its own queue.
  static Task<void> write_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> link) {
    while (!self->stopped && !link->closed) {
      if (link->queue.empty() || !self->host->is_connected(link->peer)) {
        co_await link->send_signal.wait();
        continue;
      }
      if (!link->stream || link->stream->is_reset()) {
        auto s = co_await self->host->new_stream(link->peer, consensus_protocols());
        if (self->stopped || link->closed) {
          if (s) (*s)->reset();
          break;
        }
        if (!s) {
          // Connected but the stream failed (connection just replaced or closing, or the peer is
          // not serving the protocol yet): retry shortly; a disconnect parks us above.
          spdlog::debug("network: stream to validator {} failed: {}", link->index,
                        s.error().to_string());
          co_await sleep_on(link->timer, self->config.redial_base);
          continue;
        }
        link->stream = *s;
      }
      // Coalesce queued frames into one write. Frames stay queued until written, so a failed
      // write is retried on a new stream (at-least-once across a connection swap, in order).
      std::size_t count = 0, bytes = 0;
      std::shared_ptr<const Bytes> single;
      Bytes batch;
      if (link->queue.front()->size() >= kWriteBatch) {
        single = link->queue.front();
        count = 1;
        bytes = single->size();
      } else {
        for (const auto& f : link->queue) {
          if (count > 0 && bytes + f->size() > kWriteBatch) break;
          append(batch, *f);
          bytes += f->size();
          ++count;
        }
      }
      auto stream = link->stream;
      // Not a conditional expression inside co_await: GCC 12 mis-compiles those.
      ByteView out(batch);
      if (single) out = ByteView(*single);
      auto st = co_await stream->write(out);
      if (link->closed) break;
      if (!st) {
        stream->reset();
        if (link->stream == stream) link->stream = nullptr;
        continue;
      }
      count = std::min(count, link->queue.size());
      for (std::size_t i = 0; i < count; ++i) {
        link->queued_bytes -= link->queue.front()->size();
        link->queue.pop_front();
      }
      const std::uint64_t payload = bytes - count * kFrameHeader;
      self->update([&](Health& h) {
        h.messages_sent += count;
        h.bytes_sent += payload;
      });
    }
    if (link->stream) (void)link->stream->close_write();
    link->stream = nullptr;
  }

  void enqueue(ValidatorIndex to, const std::shared_ptr<const Bytes>& frame) {
    if (stopped || to >= links.size() || !links[to]) return;
    Link& link = *links[to];
    if (link.queued_bytes + frame->size() > config.max_send_queue_bytes) {
      update([](Health& h) { ++h.send_dropped; });
      return;
    }
    link.queue.push_back(frame);
    link.queued_bytes += frame->size();
    link.send_signal.notify();
  }
  std::shared_ptr<const Bytes> make_frame(const Bytes& data) {
    if (data.size() > config.max_frame_size) {
      spdlog::warn("network: direct frame of {} bytes above the bound {}", data.size(),
                   config.max_frame_size);
      update([](Health& h) { ++h.send_dropped; });
      return nullptr;
    }
    return std::make_shared<const Bytes>(encode_frame(data));
  }

  // -- inbound direct frames --

  static Task<void> serve_direct(std::weak_ptr<Impl> weak, StreamPtr s) {
    auto self = weak.lock();
    if (!self || self->stopped) {
      s->reset();
      co_return;
    }
    const PeerId peer = s->remote_peer();
    FrameBuffer frames(self->config.max_frame_size);
    Bytes chunk(kReadChunk);
    for (;;) {
      for (;;) {
        const auto state = frames.next();
        if (state == FrameBuffer::State::need_more) break;
        if (state == FrameBuffer::State::oversized) {
          spdlog::warn("network: {} sent a direct frame above {} bytes; closing the connection",
                       peer.to_string(), self->config.max_frame_size);
          self->update([](Health& h) { ++h.direct_dropped; });
          s->reset();
          self->host->disconnect(peer);
          co_return;
        }
        self->on_frame(peer, frames.frame());
        frames.pop();
        if (self->stopped || self->is_banned(peer)) {
          s->reset();
          co_return;
        }
      }
      auto n = co_await s->read_some(chunk);
      if (!n || *n == 0 || self->stopped) co_return;
      frames.append(ByteView(chunk.data(), *n));
    }
  }

  void on_frame(const PeerId& peer, ByteView frame) {
    if (!admit(peer, frame.size())) return;
    const auto from = validator_index(peer);
    if (!from || from == self || (config.frame_check && !config.frame_check(frame))) {
      update([](Health& h) { ++h.direct_dropped; });
      return;
    }
    update([&](Health& h) {
      ++h.messages_received;
      h.bytes_received += frame.size();
    });
    emit(DirectReceived{*from, to_bytes(frame)});
  }

  // -- connections and discovery --

  void on_connection(const p2p::ConnectionEvent& e) {
    if (stopped) return;
    const auto v = validator_index(e.peer);
    const auto link = v && *v < links.size() ? links[*v] : nullptr;
    if (e.kind == p2p::ConnectionEvent::Kind::connected) {
      if (is_banned(e.peer)) {
        // Refused after the handshake (the Host cannot tell who it is before): close at once.
        asio::post(io, [self = shared_from_this(), p = e.peer] { self->host->disconnect(p); });
        return;
      }
      if (link) {
        if (link->stream) link->stream->reset();  // a swap: the old connection is closing
        link->stream = nullptr;
        link->conn_signal.notify();
        link->send_signal.notify();
      }
      if (!connected.insert(e.peer).second) return;  // a simultaneous-dial swap: same peer
      refresh_peer_counts();
      emit(PeerConnected{e.peer, v});
      asio::co_spawn(io, learn_addresses(shared_from_this(), e.peer), asio::detached);
    } else {
      if (link) {
        if (link->stream) link->stream->reset();
        link->stream = nullptr;
        link->conn_signal.notify();
        link->send_signal.notify();
      }
      if (!connected.erase(e.peer)) return;
      refresh_peer_counts();
      emit(PeerDisconnected{e.peer, v, e.reason});
    }
  }

  /// Identify: remember the peer's listen addresses so it can be dialled again later (an inbound
  /// connection's remote address is an ephemeral port).
  static Task<void> learn_addresses(std::shared_ptr<Impl> self, PeerId peer) {
    auto info = co_await self->host->identify(peer);
    if (!info || self->stopped) co_return;
    std::vector<Multiaddr> addrs;
    for (const auto& a : info->listen_addrs) {
      if (addrs.size() >= kMaxAddrsPerPeer) break;
      if (a.tcp_target()) addrs.push_back(a.without_peer_id().with_peer_id(peer));
    }
    if (addrs.empty()) co_return;
    if (self->address_book.size() >= kMaxAddressBook && !self->address_book.contains(peer)) {
      co_return;
    }
    self->address_book[peer] = std::move(addrs);
  }

  bool room_for_peers() const { return connected.size() < config.max_peers; }

  static Task<void> dial_peer(std::shared_ptr<Impl> self, Multiaddr addr) {
    if (self->stopped || !self->room_for_peers()) co_return;
    auto r = co_await self->host->dial(addr);
    if (!r) spdlog::debug("network: dial {} failed: {}", addr.to_string(), r.error().to_string());
  }

  bool dialable(const PeerId& p) {
    return p != identity.peer_id && !connected.contains(p) && !is_banned(p) &&
           !validator_of.contains(p);  // validators have their own dialers
  }

  /// Peers learned by gossipsub peer exchange: dial those whose addresses we know.
  void on_peer_exchange(const std::vector<PeerId>& peers) {
    for (const auto& p : peers) {
      if (!room_for_peers()) return;
      auto it = address_book.find(p);
      if (it == address_book.end() || !dialable(p)) continue;
      asio::co_spawn(io, dial_peer(shared_from_this(), it->second.front()), asio::detached);
    }
  }

  /// Below max_peers: redial bootstrap peers we are not connected to and a few known addresses.
  void discover() {
    if (!room_for_peers()) return;
    const auto now = Clock::now();
    std::size_t dials = 0;
    auto try_dial = [&](const PeerId& p, const Multiaddr& addr) {
      auto& next = next_discovery_dial[p];
      if (next > now) return;
      next = now + std::max(config.redial_cap, std::chrono::milliseconds(kTick));
      ++dials;
      asio::co_spawn(io, dial_peer(shared_from_this(), addr), asio::detached);
    };
    for (const auto& addr : bootstrap) {
      if (dials >= kDialsPerTick) return;
      const auto p = addr.peer_id();
      if (p && !dialable(*p)) continue;
      if (!p) {
        // Without /p2p we cannot tell whether we are connected; dial only when alone.
        if (!connected.empty()) continue;
        try_dial(PeerId(), addr);
        continue;
      }
      try_dial(*p, addr);
    }
    for (const auto& [p, addrs] : address_book) {
      if (dials >= kDialsPerTick || !room_for_peers()) return;
      if (dialable(p)) try_dial(p, addrs.front());
    }
  }

  static Task<void> tick_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      co_await sleep_on(self->tick_timer, kTick);
      if (self->stopped) break;
      self->tick();
    }
  }

  void tick() {
    const auto now = Clock::now();
    std::vector<PeerId> offenders;
    for (auto it = limiters.begin(); it != limiters.end();) {
      if (it->second.end_window() >= config.violations_before_ban) offenders.push_back(it->first);
      if (it->second.idle() && !connected.contains(it->first)) {
        it = limiters.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& p : offenders) {
      ban(p, "over its inbound rate limit for " + std::to_string(config.violations_before_ban) +
                 " s in a row");
    }
    std::erase_if(banned, [&](const auto& kv) { return kv.second <= now; });
    std::erase_if(next_discovery_dial, [&](const auto& kv) { return kv.second <= now; });
    discover();
  }

  static Task<void> partition_loop(std::shared_ptr<Impl> self) {
    // The first check waits for the initial dials (up to connection_timeout) so a starting node
    // does not report the partition of having no connections yet.
    co_await sleep_on(self->partition_timer,
                      std::max(self->config.partition_check, self->config.connection_timeout));
    while (!self->stopped) {
      self->check_partition();
      co_await sleep_on(self->partition_timer, self->config.partition_check);
    }
  }

  bool check_partition() {
    std::size_t n = 0;
    for (const auto& v : validators) n += v.has_value();
    if (n == 0) return false;
    const std::size_t f = (n - 1) / 3, required = n - f;
    const std::size_t have = connected_validators() + (self ? 1 : 0);
    const bool now_partitioned = have < required;
    if (now_partitioned != partitioned) {
      partitioned = now_partitioned;
      update([&](Health& h) { h.partitioned = now_partitioned; });
      if (now_partitioned) {
        spdlog::warn("network: partition: {} of {} validators reachable, {} required", have, n,
                     required);
        emit(PartitionDetected{have, required});
      } else {
        spdlog::info("network: partition healed: {} of {} validators reachable", have, n);
        emit(PartitionHealed{have});
      }
    }
    return now_partitioned;
  }

  // -- gossip --

  void publish(const std::string& topic, const Bytes& data) {
    if (stopped) return;
    if (!seen_content.insert(content_id(topic, data), Clock::now())) return;  // published before
    auto r = gossip->publish(topic, wrap_gossip(data, wall_ms()));
    if (!r) {
      // Errc::state: gossipsub saw the same envelope already (not an error for the caller).
      if (r.error().code != Errc::state) {
        spdlog::warn("network: publish on {} failed: {}", topic, r.error().to_string());
      }
      return;
    }
    update([&](Health& h) {
      ++h.messages_sent;
      h.bytes_sent += data.size();
    });
  }

  p2p::gossipsub::ValidationResult validate_gossip(const p2p::gossipsub::Message& m) {
    using p2p::gossipsub::ValidationResult;
    // Already charged, with the RPC that carried it (set_rpc_filter below).
    const auto env = unwrap_gossip(m.data);
    if (!env) return ValidationResult::reject;
    auto it = gossip_validators.find(m.topic);
    if (it == gossip_validators.end() || !it->second) return ValidationResult::accept;
    p2p::gossipsub::Message inner = m;  // the application validates its own payload
    inner.data = to_bytes(env->data);
    return it->second(inner);
  }

  void on_gossip(const p2p::gossipsub::Message& m) {
    if (stopped || m.from == identity.peer_id) return;  // own messages are not echoed back
    const auto env = unwrap_gossip(m.data);
    if (!env) return;
    if (!seen_content.insert(content_id(m.topic, env->data), Clock::now())) return;
    const double ms = static_cast<double>(std::max<std::int64_t>(
        0, static_cast<std::int64_t>(wall_ms()) - static_cast<std::int64_t>(env->publish_ms)));
    {
      std::lock_guard lock(mu);
      ++stats.messages_received;
      stats.bytes_received += env->data.size();
      if (samples.size() < kPropagationSamples) {
        samples.push_back(ms);
      } else {
        samples[next_sample] = ms;
        next_sample = (next_sample + 1) % kPropagationSamples;
      }
    }
    emit(GossipReceived{m.topic, to_bytes(env->data), m.from});
  }

  // -- lifecycle --

  Result<Multiaddr> start() {
    if (started) return make_error(Errc::state, "network already started");
    if (stopped) return make_error(Errc::state, "network stopped");
    std::weak_ptr<Impl> weak = weak_from_this();
    host->set_handler(std::string(kConsensusProtocol),
                      [weak](StreamPtr s) { return serve_direct(weak, std::move(s)); });
    host->on_event([weak](const p2p::ConnectionEvent& e) {
      if (auto self = weak.lock()) self->on_connection(e);
    });
    OL_TRY_ASSIGN(auto bound, host->listen(config.listen));
    started = true;

    start_gossip();

    for (const auto& l : links) {
      if (l) spawn_link(l);
    }
    bootstrap = config.bootstrap;
    for (const auto& addr : bootstrap) {
      asio::co_spawn(io, dial_peer(shared_from_this(), addr), asio::detached);
    }
    asio::co_spawn(io, tick_loop(shared_from_this()), asio::detached);
    asio::co_spawn(io, partition_loop(shared_from_this()), asio::detached);
    return bound.with_peer_id(identity.peer_id);
  }

  void start_gossip() {
    std::weak_ptr<Impl> weak = weak_from_this();
    for (std::string_view t : {kBlocksTopic, kTransactionsTopic, kQcsTopic}) {
      const std::string topic(t);
      // Transactions and commit notices authenticate themselves (user signatures, QCs), so
      // they travel unsigned (StrictNoSign); blocks keep their author's gossip signature.
      if (t == kBlocksTopic) {
        gossip->set_content_addressed(topic);
      } else {
        gossip->set_unsigned(topic);
      }
      gossip->set_validator(topic, [weak](const p2p::gossipsub::Message& m) {
        auto self = weak.lock();
        return self ? self->validate_gossip(m) : p2p::gossipsub::ValidationResult::ignore;
      });
      if (std::find(config.publish_only.begin(), config.publish_only.end(), topic) !=
          config.publish_only.end()) {
        continue;
      }
      gossip->subscribe(topic, [weak](const p2p::gossipsub::Message& m) {
        if (auto self = weak.lock()) self->on_gossip(m);
      });
    }
    // Each gossip RPC is charged its bytes and its messages (at least one: an RPC of control or
    // junk costs us too) before it is decoded.
    gossip->set_rpc_filter([weak](const PeerId& peer, std::size_t size, std::size_t messages) {
      auto self = weak.lock();
      return self && !self->stopped && self->admit(peer, size, std::max<std::size_t>(messages, 1));
    });
    gossip->on_peer_exchange([weak](const std::vector<PeerId>& peers) {
      if (auto self = weak.lock()) self->on_peer_exchange(peers);
    });
    gossip->start();
  }

  void shutdown() {
    if (stopped) return;
    stopped = true;
    tick_timer.cancel();
    partition_timer.cancel();
    for (auto& l : links) {
      if (l) close_link(*l);
    }
    if (started) gossip->stop();
    host->close();
    connected.clear();
    refresh_peer_counts();
  }
};

std::shared_ptr<NetworkManager> NetworkManager::create(p2p::asio::io_context& io,
                                                       p2p::Identity identity, Config config) {
  return std::shared_ptr<NetworkManager>(
      new NetworkManager(io, std::move(identity), std::move(config)));
}

NetworkManager::NetworkManager(p2p::asio::io_context& io, p2p::Identity identity, Config config)
    : impl_(std::make_shared<Impl>(io, std::move(identity), std::move(config))) {
  auto& c = impl_->config;
  p2p::HostConfig hc;
  hc.agent_version = c.agent_version;
  // Validators always get a slot: max_peers bounds discovery, not the validator set.
  hc.max_peers = std::max(c.max_peers, c.validators.size()) + 8;
  hc.max_inbound = hc.max_peers;
  hc.max_outbound = hc.max_peers;
  hc.dial_timeout = c.connection_timeout;
  hc.handshake_timeout = c.connection_timeout;
  impl_->host = p2p::Host::create(io, impl_->identity, hc);
  p2p::gossipsub::Config gc = c.gossip;
  if (!gc.content_sha256) gc.content_sha256 = crypto::sha256;
  impl_->gossip = p2p::gossipsub::Gossipsub::create(impl_->host, impl_->identity, gc);
  for (std::size_t i = 0; i < c.validators.size(); ++i) {
    impl_->install_validator(static_cast<ValidatorIndex>(i), c.validators[i]);
  }
}

NetworkManager::~NetworkManager() {
  stop();
}

Result<p2p::Multiaddr> NetworkManager::start() {
  return impl_->start();
}

void NetworkManager::stop() {
  auto impl = impl_;
  if (impl->io.get_executor().running_in_this_thread()) {
    impl->shutdown();
  } else {
    asio::post(impl->io, [impl] { impl->shutdown(); });
  }
}

void NetworkManager::on_event(EventHandler handler) {
  impl_->handler = std::move(handler);
}

void NetworkManager::set_gossip_validator(std::string_view topic,
                                          p2p::gossipsub::Gossipsub::Validator v) {
  impl_->gossip_validators[std::string(topic)] = std::move(v);
}

void NetworkManager::broadcast(std::string_view topic, Bytes data) {
  asio::post(impl_->io, [impl = impl_, topic = std::string(topic), data = std::move(data)] {
    impl->publish(topic, data);
  });
}

void NetworkManager::send_to_peer(ValidatorIndex to, Bytes frame) {
  asio::post(impl_->io, [impl = impl_, to, frame = std::move(frame)] {
    if (impl->self == to) return;
    if (auto f = impl->make_frame(frame)) impl->enqueue(to, f);
  });
}

void NetworkManager::send_to_validators(Bytes frame) {
  asio::post(impl_->io, [impl = impl_, frame = std::move(frame)] {
    auto f = impl->make_frame(frame);
    if (!f) return;
    for (const auto& l : impl->links) {
      if (l) impl->enqueue(l->index, f);
    }
  });
}

void NetworkManager::add_validator(ValidatorIndex index, ValidatorPeer peer) {
  impl_->install_validator(index, std::move(peer));
}

void NetworkManager::remove_validator(ValidatorIndex index) {
  impl_->drop_validator(index);
}

Health NetworkManager::health() const {
  std::lock_guard lock(impl_->mu);
  Health h = impl_->stats;
  if (!impl_->samples.empty()) {
    std::vector<double> s = impl_->samples;
    double sum = 0;
    for (double x : s) sum += x;
    h.avg_propagation_ms = sum / static_cast<double>(s.size());
    const std::size_t k = std::min(s.size() - 1, (s.size() * 99) / 100);
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    h.p99_propagation_ms = s[k];
  }
  return h;
}

bool NetworkManager::check_partition() {
  return impl_->check_partition();
}

std::optional<ValidatorIndex> NetworkManager::self_index() const {
  return impl_->self;
}

const p2p::PeerId& NetworkManager::peer_id() const {
  return impl_->identity.peer_id;
}

std::shared_ptr<p2p::Host> NetworkManager::host() const {
  return impl_->host;
}

std::shared_ptr<p2p::gossipsub::Gossipsub> NetworkManager::gossip() const {
  return impl_->gossip;
}

}  // namespace ol::network
