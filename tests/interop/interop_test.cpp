// Interop with js-libp2p (tests/interop/js_peer.mjs), in both directions: handshake and PeerIds,
// identify, ping, and an echo protocol moving 10 MiB each way on each of several concurrent
// streams through yamux flow control.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/hash.h"
#include "p2p/child_process.h"
#include "p2p/host.h"
#include "p2p/run.h"

namespace ol::p2p {
namespace {

constexpr int kStreams = 4;
constexpr std::size_t kBytesPerStream = 10 << 20;

// A js_peer.mjs process: closing its stdin stops a listener; its stdout is JSON lines.
class JsPeer {
 public:
  explicit JsPeer(const std::vector<std::string>& args) {
    const std::string dir = OL_INTEROP_DIR;
    if (!std::filesystem::exists(dir + "/node_modules/libp2p")) {
      ADD_FAILURE() << "js-libp2p not installed: run `npm ci` in " << dir
                    << " (scripts/install-deps.sh does this)";
      return;
    }
    std::vector<std::string> argv = {OL_NODE_EXECUTABLE, "--import", "./polyfill.mjs",
                                     "js_peer.mjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_.emplace(argv, dir);
  }
  bool started() const { return child_ && child_->started(); }
  /// Next JSON line from the peer; nullopt at end of output.
  std::optional<nlohmann::json> next() {
    auto line = child_->next_line();
    if (!line) return std::nullopt;
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (j.is_discarded()) return nlohmann::json{{"type", "unparsed"}, {"line", *line}};
    return j;
  }
  void close_stdin() { child_->close_stdin(); }
  int wait() { return child_->wait(); }

 private:
  std::optional<test::ChildProcess> child_;
};

bool contains(const nlohmann::json& arr, const std::string& v) {
  for (const auto& e : arr) {
    if (e == v) return true;
  }
  return false;
}

// js dials our host; it identifies, pings and echoes through our handlers.
TEST(Interop, JsLibp2pDialsUs) {
  asio::io_context io;
  auto host = Host::create(io, Identity::generate());
  host->set_handler(std::string(kEchoProtocol), serve_echo);
  auto bound = host->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"));
  ASSERT_TRUE(bound.ok());
  std::vector<ConnectionEvent> events;
  host->on_event([&](const ConnectionEvent& e) { events.push_back(e); });
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  JsPeer js({"dial", bound->with_peer_id(host->peer_id()).to_string(), std::to_string(kStreams),
             std::to_string(kBytesPerStream)});
  ASSERT_TRUE(js.started());
  std::optional<nlohmann::json> result;
  while (auto line = js.next()) {
    if ((*line)["type"] == "result") result = *line;
    if ((*line)["type"] == "error") ADD_FAILURE() << "js: " << (*line)["message"];
  }
  const int status = js.wait();
  asio::post(io, [&] {
    host->close();
    guard.reset();
  });
  io_thread.join();

  EXPECT_EQ(status, 0);
  ASSERT_TRUE(result.has_value());
  const auto& r = *result;
  EXPECT_EQ(r["remotePeer"], host->peer_id().to_string());  // js authenticated our PeerId
  EXPECT_EQ(r["identify"]["agentVersion"], "openliquid/0.1.0");
  for (auto p : {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/echo/1.0.0"}) {
    EXPECT_TRUE(contains(r["identify"]["protocols"], p)) << p;
  }
  EXPECT_TRUE(contains(r["identify"]["listenAddrs"], bound->to_string()));
  EXPECT_TRUE(r["pingRtt"].is_number());
  EXPECT_EQ(r["echo"]["ok"], true);
  EXPECT_EQ(r["echo"]["streams"], kStreams);
  // We authenticated js's PeerId.
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].kind, ConnectionEvent::Kind::connected);
  EXPECT_EQ(events[0].peer.to_string(), r["self"]);
  EXPECT_EQ(events[0].direction, Direction::inbound);
}

Task<void> write_all(Host::StreamPtr s, std::shared_ptr<Bytes> data, std::shared_ptr<bool> ok) {
  *ok = (co_await s->write(*data)).ok() && s->close_write().ok();
}

// Sends kBytesPerStream on a new echo stream while reading the echo back; true if it matches.
Task<bool> echo_stream(asio::io_context& io, Host& host, PeerId peer, int seed) {
  auto s = co_await host.new_stream(peer, std::vector<std::string>(1, std::string(kEchoProtocol)));
  if (!s) co_return false;
  auto data = std::make_shared<Bytes>(kBytesPerStream);
  std::uint32_t x = 0x9e3779b9u * static_cast<std::uint32_t>(seed + 1);
  for (auto& b : *data) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  auto wrote = std::make_shared<bool>(false);
  asio::co_spawn(io, write_all(*s, data, wrote), asio::detached);
  crypto::Sha256 h;
  std::size_t got = 0;
  std::vector<std::uint8_t> buf(64 * 1024);
  for (;;) {
    auto n = co_await (*s)->read_some(buf);
    if (!n || *n == 0) break;
    h.update(ByteView(buf.data(), *n));
    got += *n;
  }
  co_return *wrote&& got == data->size() && h.finish() == crypto::sha256(*data);
}

Task<int> echo_all(asio::io_context& io, Host& host, PeerId peer) {
  auto ok = std::make_shared<int>(0);
  auto done = std::make_shared<int>(0);
  auto signal = std::make_shared<Signal>(io.get_executor());
  for (int i = 0; i < kStreams; ++i) {
    asio::co_spawn(io, echo_stream(io, host, peer, i), [=](std::exception_ptr, bool r) {
      *ok += r;
      ++*done;
      signal->notify();
    });
  }
  while (*done < kStreams) co_await signal->wait();
  co_return *ok;
}

// Our host dials a js-libp2p listener.
TEST(Interop, WeDialJsLibp2p) {
  JsPeer js({"listen"});
  ASSERT_TRUE(js.started());
  auto first = js.next();
  ASSERT_TRUE(first && (*first)["type"] == "listening") << (first ? first->dump() : "no output");
  const std::string js_id = (*first)["peerId"];
  const std::string js_addr = (*first)["addrs"][0];

  asio::io_context io;
  auto host = Host::create(io, Identity::generate());
  host->set_handler(std::string(kEchoProtocol), serve_echo);

  // A /p2p component naming someone else fails the handshake.
  auto wrong = Multiaddr::parse(js_addr)->with_peer_id(Identity::generate().peer_id);
  auto bad = test::run(io, host->dial(wrong));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::verify);

  auto peer = test::run(io, host->dial(*Multiaddr::parse(js_addr)));
  ASSERT_TRUE(peer.ok()) << peer.error().to_string();
  EXPECT_EQ(peer->to_string(), js_id);

  auto info = test::run(io, host->identify(*peer));
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_TRUE(info->agent_version.starts_with("js-libp2p/")) << info->agent_version;
  for (auto p : {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/echo/1.0.0"}) {
    EXPECT_NE(std::find(info->protocols.begin(), info->protocols.end(), p), info->protocols.end())
        << p;
  }
  const auto js_listen = Multiaddr::parse(js_addr)->without_peer_id();
  EXPECT_NE(std::find(info->listen_addrs.begin(), info->listen_addrs.end(), js_listen),
            info->listen_addrs.end());

  auto rtt = test::run(io, host->ping(*peer));
  EXPECT_TRUE(rtt.ok()) << rtt.error().to_string();

  EXPECT_EQ(test::run(io, echo_all(io, *host, *peer)), kStreams);

  // js saw our PeerId and, through identify, our protocols.
  js.close_stdin();
  bool saw_connect = false, saw_identify = false;
  asio::post(io, [&] { host->close(); });
  std::thread io_thread([&] { io.run(); });
  while (auto line = js.next()) {
    if ((*line)["type"] == "connect" && (*line)["peer"] == host->peer_id().to_string())
      saw_connect = true;
    if ((*line)["type"] == "identify" && (*line)["peer"] == host->peer_id().to_string()) {
      saw_identify = contains((*line)["protocols"], "/echo/1.0.0") &&
                     (*line)["agentVersion"] == "openliquid/0.1.0";
    }
  }
  io_thread.join();
  EXPECT_TRUE(saw_connect);
  EXPECT_TRUE(saw_identify);
  EXPECT_EQ(js.wait(), 0);
}

}  // namespace
}  // namespace ol::p2p
