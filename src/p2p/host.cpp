#include "p2p/host.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "p2p/multistream.h"

namespace ol::p2p {
namespace {

constexpr std::size_t kPingSize = 32;

std::optional<Multiaddr> endpoint_addr(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return std::nullopt;
  auto ma = Multiaddr::from_ip_port(ep.address().to_string(), ep.port());
  if (!ma) return std::nullopt;
  return *ma;
}

// Closes the channel when the deadline passes; cancelled once the guarded work is done.
class Deadline {
 public:
  Deadline(asio::io_context& io, std::chrono::milliseconds after,
           std::shared_ptr<SecureChannel> chan, std::shared_ptr<tcp::resolver> resolver = nullptr)
      : timer_(io, after), expired_(std::make_shared<bool>(false)) {
    timer_.async_wait([chan, resolver, expired = expired_](const boost::system::error_code& ec) {
      if (!ec) {
        *expired = true;
        chan->close();
        if (resolver) resolver->cancel();
      }
    });
  }
  ~Deadline() { timer_.cancel(); }
  bool expired() const { return *expired_; }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> expired_;
};

// Connection-level negotiation: the dialer proposes exactly `proto`; the listener accepts only it.
Task<Result<std::string>> negotiate(ByteStream& s, std::string_view proto, bool initiator) {
  std::vector<std::string> wants;  // not a braced list: GCC 12 mis-compiles those in coroutines
  wants.emplace_back(proto);
  const std::string& want = wants[0];
  if (initiator) co_return co_await multistream::select(s, wants);
  co_return co_await multistream::handle(s, [&want](std::string_view p) { return p == want; });
}

Task<void> serve_ping(Host::StreamPtr s) {
  std::uint8_t buf[kPingSize];
  for (;;) {
    auto n = co_await s->read_some(std::span(buf, 1));
    if (!n || *n == 0) co_return;
    if (!co_await read_exact(*s, std::span(buf + 1, kPingSize - 1))) co_return;
    if (!co_await s->write(ByteView(buf, kPingSize))) co_return;
  }
}

}  // namespace

Task<void> serve_echo(Host::StreamPtr s) {
  std::vector<std::uint8_t> buf(64 * 1024);
  for (;;) {
    auto n = co_await s->read_some(buf);
    if (!n || *n == 0) co_return;
    if (!co_await s->write(ByteView(buf.data(), *n))) co_return;
  }
}

std::shared_ptr<Host> Host::create(asio::io_context& io, Identity identity, HostConfig config) {
  auto h = std::shared_ptr<Host>(new Host(io, std::move(identity), std::move(config)));
  std::weak_ptr<Host> weak = h;
  h->set_handler(std::string(kPingProtocol), serve_ping);
  h->set_handler(std::string(identify::kProtocolId), [weak](StreamPtr s) -> Task<void> {
    auto self = weak.lock();
    if (!self) co_return;
    identify::Info info;
    info.protocol_version = "ipfs/0.1.0";
    info.agent_version = self->config_.agent_version;
    info.public_key = marshal_public_key(self->identity_.key.public_key());
    info.listen_addrs = self->listen_addrs_;
    info.protocols = self->protocols();
    if (auto c = self->conns_.find(s->remote_peer()); c != self->conns_.end()) {
      info.observed_addr = c->second.remote_addr;
    }
    (void)co_await write_length_prefixed(*s, identify::encode(info));
  });
  return h;
}

Host::Host(asio::io_context& io, Identity identity, HostConfig config)
    : io_(io),
      identity_(std::move(identity)),
      config_(std::move(config)),
      noise_keys_(noise::LocalKeys::create(identity_)) {}

Host::~Host() {
  // Connections do not keep their host alive (see add_connection): one dropped without close()
  // closes its connections rather than leave them open with nobody to serve them.
  for (auto& [peer, c] : conns_) c.session->close();
}

Result<Multiaddr> Host::listen(const Multiaddr& addr) {
  auto t = addr.tcp_target();
  if (!t || t->dns)
    return make_error(Errc::invalid_argument,
                      "listen needs /ip4|ip6/<addr>/tcp/<port>: " + addr.to_string());
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(t->host, ec);
  if (ec) return make_error(Errc::invalid_argument, "bad listen address " + t->host);
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  const tcp::endpoint ep(ip, t->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, "listen on " + addr.to_string() + ": " + ec.message());
  const auto bound = acceptor->local_endpoint(ec);
  OL_TRY_ASSIGN(auto ma, Multiaddr::from_ip_port(bound.address().to_string(), bound.port()));
  acceptors_.push_back(acceptor);
  listen_addrs_.push_back(ma);
  asio::co_spawn(
      io_, [self = shared_from_this(), acceptor]() { return self->accept_loop(acceptor); },
      asio::detached);
  return ma;
}

void Host::set_handler(std::string protocol, Handler handler) {
  handlers_[std::move(protocol)] = std::move(handler);
}

void Host::remove_handler(const std::string& protocol) {
  handlers_.erase(protocol);
}

std::vector<std::string> Host::protocols() const {
  std::vector<std::string> out;
  for (const auto& [p, h] : handlers_) out.push_back(p);
  return out;
}

std::vector<PeerId> Host::peers() const {
  std::vector<PeerId> out;
  for (const auto& [p, c] : conns_) out.push_back(p);
  return out;
}

std::optional<Multiaddr> Host::remote_addr(const PeerId& peer) const {
  auto it = conns_.find(peer);
  if (it == conns_.end()) return std::nullopt;
  return it->second.remote_addr;
}

std::size_t Host::count(Direction d) const {
  std::size_t n = d == Direction::inbound ? pending_inbound_ : pending_outbound_;
  for (const auto& [p, c] : conns_) n += c.direction == d;
  return n;
}

void Host::emit(const ConnectionEvent& e) {
  for (const auto& h : event_handlers_) h(e);
}

void Host::disconnect(const PeerId& peer) {
  if (auto it = conns_.find(peer); it != conns_.end()) it->second.session->close();
}

void Host::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  acceptors_.clear();
  auto conns = conns_;  // sessions remove themselves from conns_ as they close
  for (auto& [p, c] : conns) c.session->close();
}

Task<void> Host::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  auto self = shared_from_this();
  while (!closed_) {
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (closed_ || ec == asio::error::operation_aborted) break;
    if (ec) {
      // e.g. out of file descriptors: back off instead of spinning on the error
      spdlog::warn("p2p: accept failed: {}", ec.message());
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (count(Direction::inbound) >= config_.max_inbound ||
        conns_.size() + pending_inbound_ + pending_outbound_ >= config_.max_peers) {
      spdlog::info("p2p: refusing inbound connection: connection limit reached");
      sock.close(ec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);  // small frames (handshake, pings) go out at once
    asio::co_spawn(io_, handle_inbound(std::move(sock)), asio::detached);
  }
}

Task<void> Host::handle_inbound(tcp::socket socket) {
  auto self = shared_from_this();
  ++pending_inbound_;
  auto remote = endpoint_addr(socket).value_or(Multiaddr());
  auto chan = std::make_shared<SecureChannel>(std::move(socket));
  Result<std::shared_ptr<yamux::Session>> session = make_error(Errc::internal, "");
  {
    Deadline deadline(io_, config_.handshake_timeout, chan);
    session = co_await upgrade(chan, Direction::inbound, std::nullopt);
    if (!session && deadline.expired()) session = make_error(Errc::timeout, "handshake timed out");
  }
  --pending_inbound_;
  if (!session) {
    spdlog::info("p2p: inbound connection from {} failed: {}", remote.to_string(),
                 session.error().to_string());
    chan->close();
    co_return;
  }
  if (auto st = add_connection(*session, Direction::inbound, remote); !st) {
    spdlog::info("p2p: inbound connection from {} dropped: {}", remote.to_string(),
                 st.error().to_string());
  }
}

Task<Result<PeerId>> Host::dial(const Multiaddr& addr) {
  auto self = shared_from_this();
  if (closed_) co_return make_error(Errc::state, "host closed");
  auto target = addr.tcp_target();
  if (!target)
    co_return make_error(Errc::invalid_argument, "not a TCP multiaddr: " + addr.to_string());
  const auto expected = addr.peer_id();
  if (expected && *expected == peer_id())
    co_return make_error(Errc::invalid_argument, "cannot dial self");
  if (expected && is_connected(*expected)) co_return *expected;
  if (count(Direction::outbound) >= config_.max_outbound ||
      conns_.size() + pending_inbound_ + pending_outbound_ >= config_.max_peers) {
    co_return make_error(Errc::limit, "connection limit reached");
  }
  ++pending_outbound_;
  auto chan = std::make_shared<SecureChannel>(tcp::socket(io_));
  Result<std::shared_ptr<yamux::Session>> session = make_error(Errc::internal, "");
  Multiaddr remote = addr.without_peer_id();
  {
    auto resolver = std::make_shared<tcp::resolver>(io_);
    Deadline deadline(io_, config_.dial_timeout, chan, resolver);
    boost::system::error_code ec;
    // /dns4 and /dns6 name the address family; IP literals resolve to themselves.
    const auto family = target->family == Multiaddr::Family::v6 ? tcp::v6() : tcp::v4();
    auto endpoints =
        co_await resolver->async_resolve(family, target->host, std::to_string(target->port),
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      session = make_error(Errc::io, "cannot resolve " + target->host + ": " + ec.message());
    } else {
      co_await asio::async_connect(chan->socket(), endpoints,
                                   asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        session = make_error(Errc::io, "connect to " + remote.to_string() + ": " + ec.message());
      } else {
        chan->socket().set_option(tcp::no_delay(true), ec);
        if (auto ep = endpoint_addr(chan->socket())) remote = *ep;
        session = co_await upgrade(chan, Direction::outbound, expected);
      }
    }
    if (!session && deadline.expired()) {
      session = make_error(Errc::timeout, "dial " + addr.to_string() + " timed out");
    }
  }
  --pending_outbound_;
  if (!session) {
    chan->close();
    co_return session.error();
  }
  const PeerId remote_peer = (*session)->remote_peer();
  OL_CO_TRY(add_connection(*session, Direction::outbound, remote));
  co_return remote_peer;
}

Task<Result<std::shared_ptr<yamux::Session>>> Host::upgrade(std::shared_ptr<SecureChannel> chan,
                                                            Direction dir,
                                                            std::optional<PeerId> expected) {
  const bool initiator = dir == Direction::outbound;
  OL_CO_TRY(co_await negotiate(*chan, noise::kProtocolId, initiator));
  OL_CO_TRY(co_await chan->handshake(initiator, noise_keys_, expected));
  if (chan->remote_peer() == peer_id()) co_return make_error(Errc::verify, "connected to self");
  OL_CO_TRY(co_await negotiate(*chan, yamux::kProtocolId, initiator));
  co_return std::make_shared<yamux::Session>(chan, initiator, config_.yamux);
}

Status Host::add_connection(std::shared_ptr<yamux::Session> session, Direction dir,
                            Multiaddr remote) {
  const PeerId peer = session->remote_peer();
  if (closed_) {
    session->close();
    return make_error(Errc::state, "host closed");
  }
  if (auto it = conns_.find(peer); it != conns_.end()) {
    // One connection per peer. When both sides dialled at once, each must keep the same one:
    // the connection dialled by the smaller PeerId wins; otherwise the older connection stays.
    auto dialer = [&](Direction d) { return d == Direction::outbound ? peer_id() : peer; };
    const bool keep_new =
        dialer(dir) != dialer(it->second.direction) && dialer(dir) == std::min(peer_id(), peer);
    if (!keep_new) {
      session->start(nullptr, nullptr);
      session->close();
      return make_error(Errc::state, "already connected to " + peer.to_string());
    }
    auto old = it->second.session;
    conns_.erase(it);
    old->close();
  } else if (conns_.size() >= config_.max_peers) {
    session->start(nullptr, nullptr);
    session->close();
    return make_error(Errc::limit, "max peers reached");
  }
  conns_[peer] = Connection{session, dir, remote};
  std::weak_ptr<yamux::Session> weak_session = session;
  // The session's callbacks hold the host weakly: the host holds the session, and a strong
  // reference back would keep both alive until the connection has finished closing (forever, if
  // the io_context stops first).
  std::weak_ptr<Host> weak_host = weak_from_this();
  session->start(
      [weak_host](StreamPtr s) {
        auto self = weak_host.lock();
        if (!self) return s->reset();
        asio::co_spawn(self->io_, self->serve_stream(std::move(s)), asio::detached);
      },
      [weak_host, peer, dir, remote, weak_session](const Error& e) {
        auto self = weak_host.lock();
        if (!self) return;
        auto it = self->conns_.find(peer);
        if (it == self->conns_.end() || it->second.session != weak_session.lock()) return;
        self->conns_.erase(it);
        self->emit({ConnectionEvent::Kind::disconnected, peer, dir, remote, e.message});
      });
  emit({ConnectionEvent::Kind::connected, peer, dir, remote, ""});
  return ok_status();
}

Task<void> Host::serve_stream(StreamPtr s) {
  auto self = shared_from_this();
  auto proto = co_await multistream::handle(
      *s, [this](std::string_view p) { return handlers_.find(p) != handlers_.end(); });
  if (!proto) {
    spdlog::debug("p2p: stream from {} not negotiated: {}", s->remote_peer().to_string(),
                  proto.error().to_string());
    s->reset();
    co_return;
  }
  s->set_protocol(*proto);
  auto it = handlers_.find(*proto);
  if (it == handlers_.end()) {
    s->reset();
    co_return;
  }
  auto handler = it->second;  // copy: the handler may be replaced while it runs
  co_await handler(s);
  (void)s->close_write();
}

Task<Result<Host::StreamPtr>> Host::new_stream(const PeerId& peer,
                                               std::vector<std::string> protocols) {
  auto self = shared_from_this();
  auto it = conns_.find(peer);
  if (it == conns_.end())
    co_return make_error(Errc::not_found, "not connected to " + peer.to_string());
  auto session = it->second.session;
  OL_CO_TRY_ASSIGN(auto s, session->open_stream());
  auto proto = co_await multistream::select(*s, protocols);
  if (!proto) {
    s->reset();
    co_return proto.error();
  }
  s->set_protocol(*proto);
  co_return s;
}

Task<Result<identify::Info>> Host::identify(const PeerId& peer) {
  OL_CO_TRY_ASSIGN(auto s, co_await new_stream(peer, std::vector<std::string>(
                                                         1, std::string(identify::kProtocolId))));
  auto msg = co_await read_length_prefixed(*s, identify::kMaxMessage);
  (void)s->close_write();
  if (!msg) {
    s->reset();
    co_return msg.error();
  }
  OL_CO_TRY_ASSIGN(auto info, identify::decode(*msg));
  if (!info.public_key.empty()) {
    OL_CO_TRY_ASSIGN(auto key, unmarshal_public_key(info.public_key));
    if (PeerId::from_public_key(key) != peer) {
      co_return make_error(Errc::verify, "identify: public key does not match the peer id");
    }
  }
  co_return info;
}

Task<Result<Clock::duration>> Host::ping(const PeerId& peer) {
  OL_CO_TRY_ASSIGN(
      auto s, co_await new_stream(peer, std::vector<std::string>(1, std::string(kPingProtocol))));
  std::uint8_t out[kPingSize], in[kPingSize];
  randombytes_buf(out, sizeof out);
  const auto start = Clock::now();
  OL_CO_TRY(co_await s->write(ByteView(out, kPingSize)));
  auto st = co_await read_exact(*s, std::span(in, kPingSize));
  const auto rtt = Clock::now() - start;
  (void)s->close_write();
  if (!st) co_return st.error();
  if (std::memcmp(in, out, kPingSize) != 0)
    co_return make_error(Errc::verify, "ping: payload mismatch");
  co_return rtt;
}

}  // namespace ol::p2p
