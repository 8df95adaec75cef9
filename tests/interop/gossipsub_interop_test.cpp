// gossipsub interop with js-libp2p + @libp2p/gossipsub 17.1.1 (tests/interop/js_gossip_peer.mjs):
// both nodes join one topic, the mesh forms (GRAFT seen on both sides), and signed messages are
// delivered both ways. Run once with js dialling us and once with us dialling js.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "p2p/child_process.h"
#include "p2p/gossipsub.h"
#include "p2p/host.h"

namespace ol::p2p::gossipsub {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kTopic = "openliquid/interop/1.0.0";

// The js peer's JSON lines, collected by a reader thread so the test can wait with a deadline.
class JsGossipPeer {
 public:
  explicit JsGossipPeer(std::vector<std::string> args) {
    const std::string dir = OL_INTEROP_DIR;
    if (!std::filesystem::exists(dir + "/node_modules/@libp2p/gossipsub")) {
      ADD_FAILURE() << "@libp2p/gossipsub not installed: run `npm ci` in " << dir;
      return;
    }
    std::vector<std::string> argv = {OL_NODE_EXECUTABLE, "--import", "./polyfill.mjs",
                                     "js_gossip_peer.mjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_.emplace(argv, dir);
    reader_ = std::thread([this] {
      while (auto line = child_->next_line()) {
        auto j = json::parse(*line, nullptr, false);
        if (j.is_discarded()) j = json{{"type", "unparsed"}, {"line", *line}};
        std::lock_guard lock(mu_);
        events_.push_back(std::move(j));
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~JsGossipPeer() {
    if (!child_) return;
    child_->close_stdin();
    child_->wait();
    reader_.join();
  }
  bool started() const { return child_ && child_->started(); }

  /// The first event (in arrival order) satisfying `pred`, waiting up to `timeout`.
  std::optional<json> wait(const std::function<bool(const json&)>& pred,
                           std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) {
        if (pred(e)) {
          found = e;
          return true;
        }
      }
      return ended_;  // the peer exited: nothing more will come
    });
    return found;
  }
  std::vector<json> all() {
    std::lock_guard lock(mu_);
    return std::vector<json>(events_.begin(), events_.end());
  }

 private:
  std::optional<test::ChildProcess> child_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<json> events_;
  bool ended_ = false;
};

// Our node on its own io thread; the test thread talks to it through post().
class OurNode {
 public:
  OurNode() {
    spdlog::set_level(spdlog::level::warn);
    const Identity id = Identity::generate();
    host_ = Host::create(io_, id);
    addr_ = host_->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"))->with_peer_id(id.peer_id);
    Config cfg;
    cfg.heartbeat = 500ms;
    gs_ = Gossipsub::create(host_, id, cfg);
    gs_->start();
    gs_->subscribe(kTopic, [this](const Message& m) {
      std::lock_guard lock(mu_);
      received_.push_back(m);
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  template <typename F>
  auto on_io(F f) {
    std::promise<decltype(f())> p;
    asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }
  ~OurNode() {
    on_io([this] {
      gs_->stop();
      host_->close();
      guard_.reset();
      return 0;
    });
    thread_.join();
  }

  Result<PeerId> dial(const std::string& addr) {
    std::promise<Result<PeerId>> p;
    auto ma = Multiaddr::parse(addr);
    if (!ma) return ma.error();
    asio::co_spawn(
        io_, [&]() -> Task<void> { p.set_value(co_await host_->dial(*ma)); }, asio::detached);
    return p.get_future().get();
  }

  // Polls (with sleeps) until `pred` holds on the io thread, or the deadline.
  template <typename F>
  bool wait_for(F pred, std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!on_io(pred)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  std::vector<Message> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

  const Multiaddr& addr() const { return addr_; }
  Gossipsub& gs() { return *gs_; }
  const PeerId& peer_id() const { return host_->peer_id(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::shared_ptr<Host> host_;
  std::shared_ptr<Gossipsub> gs_;
  Multiaddr addr_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Message> received_;
};

void exchange_messages(OurNode& ours, JsGossipPeer& js, const std::string& js_id) {
  const std::string our_id = ours.peer_id().to_string();
  // The mesh forms on both sides: js reports a GRAFT with us, we count GRAFTs and list js.
  auto graft = js.wait([&](const json& e) { return e["type"] == "graft" && e["peer"] == our_id; });
  ASSERT_TRUE(graft) << "js never grafted us";
  ASSERT_TRUE(ours.wait_for([&] {
    for (const auto& p : ours.gs().mesh_peers(kTopic)) {
      if (p.to_string() == js_id) return true;
    }
    return false;
  })) << "js never entered our mesh";
  const auto st = ours.on_io([&] { return ours.gs().stats(); });
  EXPECT_GE(st.grafts_in + st.grafts_out, 1u);
  EXPECT_TRUE(js.wait([&](const json& e) {
    return e["type"] == "mesh" &&
           std::find(e["peers"].begin(), e["peers"].end(), our_id) != e["peers"].end();
  }));

  // C++ -> js.
  auto id = ours.on_io([&] {
    return ours.gs().publish(kTopic, Bytes{'f', 'r', 'o', 'm', '-', 'c'});
  });
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  auto got =
      js.wait([&](const json& e) { return e["type"] == "message" && e["data"] == "from-c"; });
  ASSERT_TRUE(got) << "js did not receive our message";
  EXPECT_EQ((*got)["from"], our_id);
  EXPECT_EQ((*got)["topic"], kTopic);

  // js -> C++ (js publishes "from-js <n>" every 500 ms once its mesh is up).
  ASSERT_TRUE(ours.wait_for([&] { return ours.gs().stats().messages_delivered >= 2; }));
  bool from_js = false;
  for (const auto& m : ours.received()) {
    if (std::string(m.data.begin(), m.data.end()).starts_with("from-js ")) {
      from_js = true;
      EXPECT_EQ(m.from.to_string(), js_id);
      EXPECT_EQ(m.topic, kTopic);
    }
  }
  EXPECT_TRUE(from_js);
  const auto after = ours.on_io([&] { return ours.gs().stats(); });
  EXPECT_EQ(after.invalid, 0u);
  for (const auto& e : js.all()) EXPECT_NE(e["type"], "error") << e.dump();
}

TEST(GossipsubInterop, WeDialJsAndExchangeMessages) {
  OurNode ours;
  JsGossipPeer js({kTopic});
  ASSERT_TRUE(js.started());
  auto listening = js.wait([](const json& e) { return e["type"] == "listening"; });
  ASSERT_TRUE(listening);
  const std::string js_id = (*listening)["peerId"];
  const std::string js_addr = (*listening)["addrs"][0];
  auto peer = ours.dial(js_addr);
  ASSERT_TRUE(peer.ok()) << peer.error().to_string();
  exchange_messages(ours, js, js_id);
}

TEST(GossipsubInterop, JsDialsUsAndExchangesMessages) {
  OurNode ours;
  JsGossipPeer js({kTopic, ours.addr().to_string()});
  ASSERT_TRUE(js.started());
  auto listening = js.wait([](const json& e) { return e["type"] == "listening"; });
  ASSERT_TRUE(listening);
  exchange_messages(ours, js, (*listening)["peerId"]);
}

}  // namespace
}  // namespace ol::p2p::gossipsub
