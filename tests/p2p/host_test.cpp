// Hosts over real sockets on 127.0.0.1: connection upgrade, protocols, limits, and hostile input.
#include <gtest/gtest.h>

#include "p2p/host.h"
#include "p2p/multistream.h"
#include "p2p/run.h"
#include "p2p/secure_channel.h"

namespace ol::p2p {
namespace {

using test::run;
using test::run_until;
using StreamPtr = Host::StreamPtr;

// Builds a protocol list outside coroutine bodies: GCC 12 mis-compiles braced lists inside them.
template <typename... S>
std::vector<std::string> protos(S... names) {
  std::vector<std::string> v;
  (v.emplace_back(names), ...);
  return v;
}

Multiaddr loopback() {
  return *Multiaddr::parse("/ip4/127.0.0.1/tcp/0");
}

class HostTest : public ::testing::Test {
 protected:
  std::shared_ptr<Host> make_host(HostConfig cfg = {}) {
    auto h = Host::create(io, Identity::generate(), cfg);
    h->set_handler(std::string(kEchoProtocol), serve_echo);
    EXPECT_TRUE(h->listen(loopback()).ok());
    hosts.push_back(h);
    return h;
  }
  Multiaddr addr_of(const std::shared_ptr<Host>& h) {
    return h->listen_addrs().at(0).with_peer_id(h->peer_id());
  }
  void TearDown() override {
    for (auto& h : hosts) h->close();
    io.run_for(std::chrono::milliseconds(50));
  }

  // Dials `target` by hand up to an established Noise channel, as a (possibly hostile) peer would.
  std::shared_ptr<SecureChannel> raw_secure_channel(const std::shared_ptr<Host>& target,
                                                    const noise::LocalKeys& keys) {
    return run(io, [&]() -> Task<std::shared_ptr<SecureChannel>> {
      auto chan = std::make_shared<SecureChannel>(tcp::socket(io));
      auto t = *target->listen_addrs()[0].tcp_target();
      co_await chan->socket().async_connect(tcp::endpoint(asio::ip::make_address(t.host), t.port),
                                            asio::use_awaitable);
      auto sel = co_await multistream::select(*chan, protos("/noise"));
      EXPECT_TRUE(sel.ok());
      auto hs = co_await chan->handshake(true, keys, target->peer_id());
      EXPECT_TRUE(hs.ok());
      co_return chan;
    }());
  }

  // Reads until the remote closes the connection; true if it did (EOF or reset).
  bool remote_closes(ByteStream& s) {
    return run(io, [&]() -> Task<bool> {
      std::uint8_t buf[4096];
      for (;;) {
        auto n = co_await s.read_some(buf);
        if (!n || *n == 0) co_return true;
      }
    }());
  }

  // The host still serves a well-behaved peer.
  void expect_healthy(const std::shared_ptr<Host>& h) {
    auto probe = Host::create(io, Identity::generate());
    hosts.push_back(probe);
    auto peer = run(io, probe->dial(addr_of(h)));
    ASSERT_TRUE(peer.ok()) << peer.error().to_string();
    EXPECT_TRUE(run(io, probe->ping(*peer)).ok());
  }

  asio::io_context io;
  std::vector<std::shared_ptr<Host>> hosts;
};

TEST_F(HostTest, DialAuthenticatesBothSidesAndReportsEvents) {
  auto a = make_host(), b = make_host();
  std::vector<ConnectionEvent> events_b;
  b->on_event([&](const ConnectionEvent& e) { events_b.push_back(e); });

  auto peer = run(io, a->dial(addr_of(b)));
  ASSERT_TRUE(peer.ok()) << peer.error().to_string();
  EXPECT_EQ(*peer, b->peer_id());
  run_until(io, [&] { return b->is_connected(a->peer_id()); });
  ASSERT_EQ(events_b.size(), 1u);
  EXPECT_EQ(events_b[0].kind, ConnectionEvent::Kind::connected);
  EXPECT_EQ(events_b[0].peer, a->peer_id());
  EXPECT_EQ(events_b[0].direction, Direction::inbound);

  a->disconnect(b->peer_id());
  run_until(io, [&] { return !b->is_connected(a->peer_id()) && !a->is_connected(b->peer_id()); });
  ASSERT_EQ(events_b.size(), 2u);
  EXPECT_EQ(events_b[1].kind, ConnectionEvent::Kind::disconnected);
}

// Connections do not keep their host alive: a dial-only host whose last reference is dropped,
// with its connection open, is destroyed at once, and the peer sees the connection close.
TEST_F(HostTest, ADroppedHostIsDestroyedAndItsConnectionsClose) {
  auto b = make_host();
  auto a = Host::create(io, Identity::generate());  // dials only: no accept loop holds it
  const PeerId a_id = a->peer_id();
  ASSERT_TRUE(run(io, a->dial(addr_of(b))).ok());
  run_until(io, [&] { return b->is_connected(a_id); });
  std::weak_ptr<Host> weak = a;
  a.reset();
  EXPECT_TRUE(weak.expired()) << "its connection kept the dropped host alive";
  run_until(io, [&] { return !b->is_connected(a_id); });
}

TEST_F(HostTest, PingAndIdentify) {
  auto a = make_host(), b = make_host();
  auto peer = *run(io, a->dial(addr_of(b)));
  auto rtt = run(io, a->ping(peer));
  ASSERT_TRUE(rtt.ok()) << rtt.error().to_string();

  auto info = run(io, a->identify(peer));
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_EQ(info->agent_version, "openliquid/0.1.0");
  EXPECT_EQ(info->listen_addrs, b->listen_addrs());
  const auto& ps = info->protocols;
  for (auto p : {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/echo/1.0.0"}) {
    EXPECT_NE(std::find(ps.begin(), ps.end(), p), ps.end()) << p;
  }
  ASSERT_TRUE(info->observed_addr);
  EXPECT_EQ(info->observed_addr->tcp_target()->host, "127.0.0.1");
}

// Echo 1 MiB both ways on 4 concurrent streams: several times the 256 KiB window, so the
// transfer only completes if window updates flow and back-pressure releases.
TEST_F(HostTest, EchoManyConcurrentStreamsThroughFlowControl) {
  auto a = make_host(), b = make_host();
  auto peer = *run(io, a->dial(addr_of(b)));
  constexpr std::size_t kSize = 1 << 20;
  constexpr int kStreams = 4;
  int done = 0, ok = 0;
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> Task<void> {
          Bytes data(kSize);
          for (std::size_t j = 0; j < kSize; ++j) data[j] = static_cast<std::uint8_t>(j * 31 + i);
          auto s = co_await a->new_stream(peer, protos("/echo/1.0.0"));
          if (!s) {
            ++done;
            co_return;
          }
          // Write and read concurrently: the echo side cannot buffer the whole payload.
          bool wrote = false;
          asio::co_spawn(
              io,
              [&, s = *s]() -> Task<void> {
                wrote = (co_await s->write(data)).ok() && s->close_write().ok();
              },
              asio::detached);
          Bytes back;
          std::vector<std::uint8_t> buf(65536);
          for (;;) {
            auto n = co_await (*s)->read_some(buf);
            if (!n || *n == 0) break;
            back.insert(back.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
          }
          ok += (back == data && wrote);
          ++done;
        },
        asio::detached);
  }
  run_until(io, [&] { return done == kStreams; });
  EXPECT_EQ(ok, kStreams);
}

// A reader that does not read stalls the writer after one window: the receiver never buffers
// more than 256 KiB, and the writer resumes once the reader drains.
TEST_F(HostTest, SlowReaderPushesBackOnWriter) {
  auto a = make_host(), b = make_host();
  StreamPtr held;
  b->set_handler("/hold/1.0.0", [&](StreamPtr s) -> Task<void> {
    held = s;
    co_return;
  });
  auto peer = *run(io, a->dial(addr_of(b)));
  auto s = *run(io, a->new_stream(peer, protos("/hold/1.0.0")));
  const Bytes data(4 * yamux::kInitialWindow, 7);
  bool written = false;
  asio::co_spawn(
      io, [&]() -> Task<void> { written = (co_await s->write(data)).ok(); }, asio::detached);
  // The window also covered the multistream messages the handler consumed before us.
  const std::size_t full = yamux::kInitialWindow - 64;
  run_until(io, [&] { return held && held->buffered() >= full; });
  io.run_for(std::chrono::milliseconds(50));  // give an unbounded sender time to overrun
  EXPECT_FALSE(written);
  EXPECT_LE(held->buffered(), yamux::kInitialWindow);
  std::size_t got = 0;
  std::vector<std::uint8_t> buf(65536);
  while (got < data.size()) {
    auto n = run(io, held->read_some(buf));
    ASSERT_TRUE(n.ok() && *n > 0);
    got += *n;
    EXPECT_LE(held->buffered(), yamux::kInitialWindow);
  }
  run_until(io, [&] { return written; });
}

TEST_F(HostTest, UnsupportedProtocolIsRefused) {
  auto a = make_host(), b = make_host();
  auto peer = *run(io, a->dial(addr_of(b)));
  auto s = run(io, a->new_stream(peer, protos("/nope/1.0.0")));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  // falls back to the next proposal
  auto s2 = run(io, a->new_stream(peer, protos("/nope/1.0.0", "/echo/1.0.0")));
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ((*s2)->protocol(), "/echo/1.0.0");
}

TEST_F(HostTest, DialWithWrongPeerIdFails) {
  auto a = make_host(), b = make_host();
  auto wrong = b->listen_addrs()[0].with_peer_id(Identity::generate().peer_id);
  auto r = run(io, a->dial(wrong));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::verify);
  EXPECT_EQ(a->connection_count(), 0u);
  expect_healthy(b);
}

TEST_F(HostTest, DialUnreachableFails) {
  auto a = make_host();
  asio::io_context other;
  tcp::acceptor closed_port(other, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = closed_port.local_endpoint().port();
  closed_port.close();
  auto r = run(io, a->dial(*Multiaddr::from_ip_port("127.0.0.1", port)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
}

TEST_F(HostTest, DialTimesOutOnSilentListener) {
  HostConfig cfg;
  cfg.dial_timeout = std::chrono::milliseconds(200);
  auto a = make_host(cfg);
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));  // never answers
  auto r = run(io, a->dial(*Multiaddr::from_ip_port("127.0.0.1", silent.local_endpoint().port())));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
}

TEST_F(HostTest, OneConnectionPerPeerEvenWhenBothDial) {
  auto a = make_host(), b = make_host();
  int done = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        (void)co_await a->dial(addr_of(b));
        ++done;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        (void)co_await b->dial(addr_of(a));
        ++done;
      },
      asio::detached);
  run_until(io, [&] { return done == 2; });
  io.run_for(std::chrono::milliseconds(100));  // let the losing connection close
  EXPECT_EQ(a->connection_count(), 1u);
  EXPECT_EQ(b->connection_count(), 1u);
  EXPECT_TRUE(run(io, a->ping(b->peer_id())).ok());
  // Dialling again reuses the connection.
  EXPECT_TRUE(run(io, a->dial(addr_of(b))).ok());
  EXPECT_EQ(a->connection_count(), 1u);
}

TEST_F(HostTest, InboundLimitRefusesExtraPeers) {
  HostConfig cfg;
  cfg.max_inbound = 1;
  auto server = make_host(cfg);
  auto c1 = make_host(), c2 = make_host();
  ASSERT_TRUE(run(io, c1->dial(addr_of(server))).ok());
  run_until(io, [&] { return server->connection_count() == 1; });
  EXPECT_FALSE(run(io, c2->dial(addr_of(server))).ok());
  EXPECT_EQ(server->connection_count(), 1u);
  EXPECT_TRUE(server->is_connected(c1->peer_id()));
}

TEST_F(HostTest, OutboundLimitRefusesExtraDials) {
  HostConfig cfg;
  cfg.max_outbound = 1;
  auto a = make_host(cfg), b = make_host(), c = make_host();
  ASSERT_TRUE(run(io, a->dial(addr_of(b))).ok());
  auto r = run(io, a->dial(addr_of(c)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
  EXPECT_TRUE(run(io, a->dial(addr_of(b))).ok());  // the existing peer is still reachable
}

TEST_F(HostTest, DialsDnsAddresses) {
  auto a = make_host(), b = make_host();
  const auto port = b->listen_addrs()[0].tcp_target()->port;
  auto peer = run(io, a->dial(*Multiaddr::parse("/dns4/localhost/tcp/" + std::to_string(port) +
                                                "/p2p/" + b->peer_id().to_string())));
  ASSERT_TRUE(peer.ok()) << peer.error().to_string();
  EXPECT_EQ(*peer, b->peer_id());
}

TEST_F(HostTest, GarbageBeforeHandshakeClosesConnection) {
  auto b = make_host();
  auto t = *b->listen_addrs()[0].tcp_target();
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address(t.host), t.port));
  Bytes junk(5000, 0xff);  // not a multistream varint
  asio::write(s, asio::buffer(junk));
  SecureChannel chan(std::move(s));
  EXPECT_TRUE(remote_closes(chan));
  expect_healthy(b);
}

TEST_F(HostTest, OversizedMultistreamMessageClosesConnection) {
  auto b = make_host();
  auto t = *b->listen_addrs()[0].tcp_target();
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address(t.host), t.port));
  Bytes msg = multistream::encode_message(std::string(5000, 'a'));
  asio::write(s, asio::buffer(multistream::encode_message("/multistream/1.0.0")));
  asio::write(s, asio::buffer(msg));
  SecureChannel chan(std::move(s));
  EXPECT_TRUE(remote_closes(chan));
  expect_healthy(b);
}

TEST_F(HostTest, HandshakeWithForeignSignatureIsRejected) {
  auto b = make_host();
  const auto me = Identity::generate();
  auto keys = noise::LocalKeys::create(me);
  keys.payload = noise::LocalKeys::create(me).payload;  // signature over another static key
  auto chan = std::make_shared<SecureChannel>(tcp::socket(io));
  auto t = *b->listen_addrs()[0].tcp_target();
  chan->socket().connect(tcp::endpoint(asio::ip::make_address(t.host), t.port));
  auto st = run(io, [&]() -> Task<Status> {
    OL_CO_TRY(co_await multistream::select(*chan, protos("/noise")));
    OL_CO_TRY(co_await chan->handshake(true, keys, b->peer_id()));
    co_return ok_status();
  }());
  ASSERT_TRUE(st.ok());  // our side is satisfied; the listener verifies message 3 and hangs up
  EXPECT_TRUE(remote_closes(*chan));
  EXPECT_EQ(b->connection_count(), 0u);
  expect_healthy(b);
}

// Bad yamux input after a valid handshake. Each closes that connection only.
class YamuxAbuseTest : public HostTest {
 protected:
  std::shared_ptr<SecureChannel> yamux_client(const std::shared_ptr<Host>& b) {
    auto chan = raw_secure_channel(b, keys);
    auto sel = run(io, multistream::select(*chan, protos("/yamux/1.0.0")));
    EXPECT_TRUE(sel.ok());
    return chan;
  }
  Status send(SecureChannel& chan, const yamux::Header& h, ByteView payload = {}) {
    std::uint8_t hdr[yamux::kHeaderSize];
    yamux::encode_header(h, hdr);
    return run(io, chan.write(concat(ByteView(hdr, 12), payload)));
  }
  Identity me = Identity::generate();
  noise::LocalKeys keys = noise::LocalKeys::create(me);
};

TEST_F(YamuxAbuseTest, FrameForUnknownStreamClosesConnection) {
  auto b = make_host();
  auto chan = yamux_client(b);
  ASSERT_TRUE(send(*chan, {yamux::Type::data, 0, 41, 3}, as_bytes("abc")).ok());
  EXPECT_TRUE(remote_closes(*chan));
  expect_healthy(b);
}

TEST_F(YamuxAbuseTest, WindowOverrunClosesConnection) {
  auto b = make_host();
  auto chan = yamux_client(b);
  ASSERT_TRUE(send(*chan, {yamux::Type::window_update, yamux::kSyn, 1, 0}).ok());
  // One frame larger than the 256 KiB window the stream was granted.
  const std::uint32_t len = yamux::kInitialWindow + 1;
  (void)send(*chan, {yamux::Type::data, 0, 1, len}, Bytes(len, 'x'));
  EXPECT_TRUE(remote_closes(*chan));
  expect_healthy(b);
}

TEST_F(YamuxAbuseTest, StreamFloodClosesConnection) {
  HostConfig cfg;
  cfg.yamux.max_streams = 8;
  auto b = make_host(cfg);
  auto chan = yamux_client(b);
  for (std::uint32_t id = 1; id < 2 * 200; id += 2) {
    if (!send(*chan, {yamux::Type::window_update, yamux::kSyn, id, 0}).ok()) break;
  }
  EXPECT_TRUE(remote_closes(*chan));
  expect_healthy(b);
}

TEST_F(YamuxAbuseTest, BadHeaderClosesConnection) {
  auto b = make_host();
  auto chan = yamux_client(b);
  ASSERT_TRUE(run(io, chan->write(Bytes(12, 0x07))).ok());
  EXPECT_TRUE(remote_closes(*chan));
  expect_healthy(b);
}

TEST_F(YamuxAbuseTest, PingIsAnswered) {
  auto b = make_host();
  auto chan = yamux_client(b);
  ASSERT_TRUE(send(*chan, {yamux::Type::ping, yamux::kSyn, 0, 1234}).ok());
  auto reply = run(io, [&]() -> Task<Result<yamux::Header>> {
    std::uint8_t hdr[12];
    OL_CO_TRY(co_await read_exact(*chan, std::span(hdr, 12)));
    co_return yamux::decode_header(ByteView(hdr, 12));
  }());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->type, yamux::Type::ping);
  EXPECT_EQ(reply->flags, yamux::kAck);
  EXPECT_EQ(reply->length, 1234u);
}

}  // namespace
}  // namespace ol::p2p
