// Four Node instances in one process, joined by an in-process hub instead of p2p, served over
// their real HTTP RPC: transfers commit and agree, a node reopened from its store resumes where
// it stopped, the consensus-only benchmark mode orders commands and long-polls commits, and a
// Byzantine leader (the hub rewrites and re-signs its proposals) cannot get a wrong execution
// anchor or a replayed transaction certified; a gossiped transaction batch admits its good
// transactions and nothing from a malformed batch.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>

#include "common/hex.h"
#include "consensus/messages.h"
#include "crypto/ed25519.h"
#include "crypto/secp256k1.h"
#include "node/config.h"
#include "node/harness.h"
#include "node/node.h"
#include "node/rpc_server.h"
#include "types/transaction.h"
#include "types/tx_batch.h"

namespace ol::node::test {
namespace {

/// Delivers frames between in-process nodes (what NetworkManager does between processes).
class Hub {
 public:
  explicit Hub(std::size_t n) : nodes_(n, nullptr) {}
  void attach(std::size_t i, Node* node) {
    std::lock_guard lock(mu_);
    nodes_[i] = node;
  }
  /// Rewrites frames in flight (a Byzantine sender): returns the frame to deliver instead, or
  /// nullopt to deliver the original. Set before the nodes start.
  using Tamper = std::function<std::optional<Bytes>(std::size_t from, const Bytes& frame)>;
  void set_tamper(Tamper t) {
    std::lock_guard lock(mu_);
    tamper_ = std::move(t);
  }
  /// Loses frames in flight: true = `frame` from `from` never reaches `to`.
  using Drop = std::function<bool(std::size_t from, std::size_t to, const Bytes& frame)>;
  void set_drop(Drop d) {
    std::lock_guard lock(mu_);
    drop_ = std::move(d);
  }
  void send(std::size_t from, std::size_t to, const Bytes& frame) {
    std::lock_guard lock(mu_);
    if (drop_ && drop_(from, to, frame)) return;
    if (to < nodes_.size() && nodes_[to] != nullptr) {
      std::optional<Bytes> rewritten = tamper_ ? tamper_(from, frame) : std::nullopt;
      nodes_[to]->on_consensus_frame(static_cast<types::ValidatorIndex>(from),
                                     rewritten ? *rewritten : frame);
    }
  }
  void send_all(std::size_t from, const Bytes& frame) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (i != from) send(from, i, frame);
    }
  }
  void gossip(std::size_t from, const Bytes& batch) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (i != from && nodes_[i] != nullptr) nodes_[i]->on_transaction_gossip(batch);
    }
  }

 private:
  std::mutex mu_;
  std::vector<Node*> nodes_;
  Tamper tamper_;
  Drop drop_;
};

class HubTransport final : public Transport {
 public:
  HubTransport(Hub& hub, std::size_t self) : hub_(hub), self_(self) {}
  void send_to(types::ValidatorIndex to, Bytes frame) override { hub_.send(self_, to, frame); }
  void send_to_validators(Bytes frame) override { hub_.send_all(self_, frame); }
  void publish_transaction(Bytes encoded) override {
    types::TxBatchBuilder batch;  // the real transport batches several; one is enough here
    EXPECT_TRUE(batch.add(encoded).ok());
    hub_.gossip(self_, batch.take());
  }
  NetworkStats stats() const override { return NetworkStats{3, 3, false, 0, 0, 0, 0}; }

 private:
  Hub& hub_;
  std::size_t self_;
};

class InProcessNetwork : public ::testing::Test {
 protected:
  void start_all(const std::string& payload = "transactions",
                 const std::function<void(NodeConfig&)>& edit = {}) {
    genesis_ = init_into(dir_.path(), 4);
    ASSERT_EQ(genesis_.validators.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
      auto home = dir_.path() / ("node" + std::to_string(i));
      auto config = load_config(home / "config.toml");
      ASSERT_TRUE(config.ok());
      config->rpc.listen = "127.0.0.1:0";
      config->consensus.payload = payload;
      if (edit) edit(*config);
      configs_.push_back(*config);
    }
    for (std::size_t i = 0; i < 4; ++i) open(i);
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void open(std::size_t i) {
    auto home = dir_.path() / ("node" + std::to_string(i));
    auto node = Node::open(home, configs_[i], io_, std::make_shared<HubTransport>(hub_, i));
    ASSERT_TRUE(node.ok()) << node.error().to_string();
    nodes_.resize(4);
    nodes_[i] = std::move(*node);
    hub_.attach(i, nodes_[i].get());
    // Start on the io thread (or before it runs).
    std::promise<Status> started;
    if (io_thread_.joinable()) {
      p2p::asio::post(io_, [&] { started.set_value(nodes_[i]->start()); });
    } else {
      started.set_value(nodes_[i]->start());
    }
    auto s = started.get_future().get();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
  }
  void close(std::size_t i) {
    hub_.attach(i, nullptr);
    nodes_[i]->stop();
    // Let the io thread finish the RPC server's closing work before the node goes.
    std::promise<void> drained;
    p2p::asio::post(io_, [&] { drained.set_value(); });
    drained.get_future().get();
    nodes_[i].reset();
  }
  void TearDown() override {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]) close(i);
    }
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }
  std::uint16_t port(std::size_t i) { return nodes_[i]->rpc_port(); }
  /// Makes validator `v` Byzantine: `mutate` may change the blocks it proposes (true = changed),
  /// which the hub then re-signs with v's key, so receivers see a validly signed proposal.
  void byzantine_proposer(std::size_t v, std::function<bool(types::Block&)> mutate) {
    auto key = crypto::load_ed25519_key_file(dir_.path() / ("node" + std::to_string(v)) /
                                             "validator_key.json");
    ASSERT_TRUE(key.ok()) << key.error().to_string();
    hub_.set_tamper([v, key = *key, mutate = std::move(mutate)](
                        std::size_t from, const Bytes& frame) -> std::optional<Bytes> {
      if (from != v) return std::nullopt;
      auto m = consensus::decode_message(frame);
      if (!m.ok()) return std::nullopt;
      auto* p = std::get_if<consensus::ProposalMsg>(&*m);
      if (p == nullptr || !mutate(p->block)) return std::nullopt;
      p->signature = key.sign(types::proposal_digest(p->block.compute_id()));
      return consensus::encode_message(*m);
    });
  }
  std::uint64_t metric(std::size_t i, const std::string& name) {
    const std::string text = call(port(i), "GET", "/metrics").raw;
    auto pos = text.find("\n" + name + " ");
    return pos == std::string::npos ? 0 : std::stoull(text.substr(pos + name.size() + 2));
  }
  void load_faucet() {
    auto key = crypto::load_secp256k1_key_file(dir_.path() / "faucet_key.json");
    ASSERT_TRUE(key.ok()) << key.error().to_string();
    faucet_.emplace(std::move(*key));
  }
  /// The canonical encoding of the faucet's transfer with nonce n (10 units to sink_).
  Bytes faucet_tx(std::uint64_t n) {
    return codec::encode(
        types::Transaction::sign(genesis_.app.chain_id, n, types::Transfer{sink_, 10}, *faucet_));
  }
  std::uint64_t nonce(std::size_t i, const crypto::Address& a) {
    auto j = call(port(i), "GET", "/account/" + a.to_checksum_hex()).body;
    return j.is_object() ? j.value("nonce", std::uint64_t{0}) : 0;
  }

  TempDir dir_;
  Genesis genesis_;
  std::optional<crypto::Secp256k1Key> faucet_;  // load_faucet()
  crypto::Address sink_ = crypto::Secp256k1Key::generate().address();
  std::vector<NodeConfig> configs_;
  Hub hub_{4};
  p2p::asio::io_context io_;
  p2p::asio::executor_work_guard<p2p::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// Each node's consensus and verifier threads carry names an operator can find with top -H.
TEST_F(InProcessNetwork, ANodesThreadsAreNamed) {
  start_all();
  std::map<std::string, int> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "comm");
    std::string name;
    if (std::getline(in, name)) ++names[name];
  }
  EXPECT_EQ(names["ol-core"], 4);
  EXPECT_EQ(names["ol-verify"], 4);
}

TEST_F(InProcessNetwork, TransfersCommitEverywhereAndSurviveAReopen) {
  start_all();
  auto faucet = crypto::load_secp256k1_key_file(dir_.path() / "faucet_key.json");
  ASSERT_TRUE(faucet.ok());
  const auto to = crypto::Secp256k1Key::generate().address();
  for (std::uint64_t n = 0; n < 5; ++n) {
    auto tx = types::Transaction::sign(genesis_.app.chain_id, n, types::Transfer{to, 10}, *faucet);
    auto r = call(port(n % 4), "POST", "/tx", json{{"tx", to_hex(codec::encode(tx), true)}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    // Resubmitting a pending transaction is harmless and answers the same hash.
    if (n == 0) {
      auto again =
          call(port(1), "POST", "/tx", json{{"tx", to_hex(codec::encode(tx), true)}}.dump());
      EXPECT_EQ(again.body, r.body);
    }
  }
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (nonce(i, faucet->address()) != 5) return false;
    }
    return true;
  }));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(call(port(i), "GET", "/account/" + to.to_checksum_hex()).body["balance"], "50");
  }
  auto metrics = call(port(0), "GET", "/metrics").raw;
  EXPECT_NE(metrics.find("openliquid_txs_committed_total 5"), std::string::npos) << metrics;

  // Reopened from its store, node 2 keeps its state and rejoins.
  const std::uint64_t before = nodes_[2]->status().height;
  close(2);
  open(2);
  EXPECT_GE(nodes_[2]->status().height, before);
  EXPECT_EQ(nonce(2, faucet->address()), 5u);
  ASSERT_TRUE(eventually([&] { return nodes_[2]->status().height > before + 3; }));
}

TEST_F(InProcessNetwork, BenchModeOrdersCommandsAndLongPollsCommits) {
  start_all("commands");
  Bytes body;
  for (std::uint8_t i = 0; i < 50; ++i) {
    Bytes cmd(32, 0);
    cmd[7] = 9;   // client id
    cmd[15] = i;  // sequence number
    append(body, cmd);
  }
  const std::string payload(body.begin(), body.end());
  // Sent to every node, as a libhotstuff client does; each command commits once.
  for (std::size_t i = 0; i < 4; ++i) {
    auto r = http_request("127.0.0.1", port(i), "POST", "/bench/commands?size=32", payload,
                          std::chrono::seconds(10), "application/octet-stream");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body)["accepted"], 50);
  }
  EXPECT_EQ(call(port(0), "POST", "/bench/commands?size=7", "abcdefg").status, 400);
  EXPECT_EQ(call(port(0), "POST", "/bench/commands?size=32", "short").status, 400);
  EXPECT_EQ(call(port(0), "GET", "/bench/commits?after=0&max_wait_ms=9000").status, 400);
  EXPECT_EQ(call(port(0), "POST", "/tx", R"({"tx":"0x00"})").status, 409);

  std::map<std::uint8_t, int> seen;
  std::uint64_t after = 0;
  ASSERT_TRUE(eventually([&] {
    auto r = http_request("127.0.0.1", port(1), "GET",
                          "/bench/commits?after=" + std::to_string(after) + "&max_wait_ms=2000");
    if (!r.ok() || r->status != 200) return false;
    const auto& b = r->body;
    std::size_t pos = 0;
    auto be = [&](std::size_t n) {
      std::uint64_t v = 0;
      for (std::size_t k = 0; k < n; ++k) v = (v << 8) | static_cast<std::uint8_t>(b[pos + k]);
      pos += n;
      return v;
    };
    while (pos + 20 <= b.size()) {
      const std::uint64_t height = be(8);
      EXPECT_GT(height, after);
      after = height;
      be(8);  // commit time
      const std::uint64_t count = be(4);
      for (std::uint64_t k = 0; k < count; ++k) {
        EXPECT_EQ(static_cast<std::uint8_t>(b[pos + 7]), 9);
        ++seen[static_cast<std::uint8_t>(b[pos + 15])];
        pos += 16;
      }
    }
    EXPECT_EQ(pos, b.size());
    return seen.size() == 50;
  }));
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << "command " << int(id);
  // Node 1 reported every command committed; node 0 may apply the same blocks a moment later.
  EXPECT_TRUE(
      eventually([&] { return call(port(0), "GET", "/status").body["mempool_size"] == 0; }));
}

// GET /block/<height>?max_wait_ms=W answers as soon as that height commits (the load generator
// follows the chain this way); a height still ahead at the deadline gets 404 "not committed yet",
// and malformed waits are refused.
TEST_F(InProcessNetwork, ABlockLongPollAnswersWhenItsHeightCommits) {
  start_all();
  EXPECT_EQ(call(port(0), "GET", "/block/1?max_wait_ms=9000").status, 400);
  EXPECT_EQ(call(port(0), "GET", "/block/1?max_wait_ms=soon").status, 400);
  const std::uint64_t ahead = nodes_[1]->status().height + 5;
  const std::string target = "/block/" + std::to_string(ahead);
  const Reply before = call(port(1), "GET", target);
  ASSERT_EQ(before.status, 404) << before.raw;
  EXPECT_NE(before.raw.find("not committed yet"), std::string::npos) << before.raw;
  const Reply waited = call(port(1), "GET", target + "?max_wait_ms=5000");
  ASSERT_EQ(waited.status, 200) << waited.raw;
  EXPECT_EQ(waited.body["height"], ahead);

  const auto start = std::chrono::steady_clock::now();
  const Reply far = call(port(1), "GET", "/block/1000000000?max_wait_ms=300");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(far.status, 404);
  EXPECT_NE(far.raw.find("not committed yet"), std::string::npos) << far.raw;
  // A committed height answers at once, wait or not.
  EXPECT_EQ(call(port(1), "GET", "/block/1?max_wait_ms=5000").body["height"], 1);
}

// GET /tx/0x<hash>?max_wait_ms=W answers a pending transaction once it commits (one request from
// submission to finality); an unknown one gets 404 at the deadline.
TEST_F(InProcessNetwork, ATransactionLongPollAnswersWhenItCommits) {
  start_all();
  load_faucet();
  const Bytes tx = faucet_tx(0);
  const auto submitted = call(port(2), "POST", "/tx", json{{"tx", to_hex(tx, true)}}.dump());
  ASSERT_EQ(submitted.status, 200) << submitted.raw;
  const std::string hash = submitted.body["hash"];
  EXPECT_EQ(call(port(2), "GET", "/tx/" + hash + "?max_wait_ms=9000").status, 400);
  const Reply waited = call(port(2), "GET", "/tx/" + hash + "?max_wait_ms=5000");
  ASSERT_EQ(waited.status, 200) << waited.raw;
  EXPECT_EQ(waited.body["status"], "committed") << waited.raw;
  EXPECT_GT(waited.body.value("height", 0), 0) << waited.raw;

  const std::string unknown = "0x" + std::string(64, 'a');
  const auto start = std::chrono::steady_clock::now();
  const Reply far = call(port(2), "GET", "/tx/" + unknown + "?max_wait_ms=300");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(far.status, 404) << far.raw;
}

TEST_F(InProcessNetwork, AWrongExecutionAnchorIsNeverCertified) {
  start_all();
  // Validator 0 lies about the state after the heights it anchors (a flipped bit in the first
  // exec_commitment of each of its proposals that anchors any).
  auto tampered = std::make_shared<std::atomic<int>>(0);  // outlives this body (the hub)
  byzantine_proposer(0, [tampered](types::Block& b) {
    if (b.exec_roots.empty()) return false;
    b.exec_roots[0][0] ^= 1;
    ++*tampered;
    return true;
  });
  // The chain goes on (validator 0's rounds time out) and every node has refused such a block.
  ASSERT_TRUE(eventually([&] { return nodes_[1]->status().height >= 14 && *tampered >= 2; },
                         std::chrono::seconds(120)));
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_GE(metric(i, "openliquid_state_root_mismatches_total"), 1u) << "node " << i;
  }
  const std::uint64_t top = nodes_[1]->status().height;
  for (std::uint64_t h = 1; h <= top; ++h) {
    auto b = call(port(1), "GET", "/block/" + std::to_string(h)).body;
    ASSERT_TRUE(b.is_object()) << h;
    if (b["proposer"] == 0) {
      EXPECT_TRUE(b["exec_roots"].empty()) << "a lie committed at " << h;
    }
    EXPECT_EQ(call(port(2), "GET", "/block/" + std::to_string(h)).body["id"], b["id"]);
  }
}

// A validator whose votes are bad (a broken signature in some rounds; another validator's name
// in the others) does not stop the chain, and every other node's metrics say what it refused.
TEST_F(InProcessNetwork, RefusedVotesAreCountedInTheMetrics) {
  auto bad = std::make_shared<std::atomic<int>>(0);  // outlives this body (the hub)
  hub_.set_tamper([bad](std::size_t from, const Bytes& frame) -> std::optional<Bytes> {
    if (from != 3) return std::nullopt;
    auto m = consensus::decode_message(frame);
    if (!m.ok()) return std::nullopt;
    auto* v = std::get_if<types::Vote>(&*m);
    if (v == nullptr) return std::nullopt;
    if (v->round % 2 == 0) {
      v->signature.bytes[0] ^= 1;
    } else {
      v->voter = 0;  // in another validator's name (its signature is validator 3's)
    }
    ++*bad;
    return consensus::encode_message(*m);
  });
  start_all();
  ASSERT_TRUE(eventually([&] { return nodes_[1]->status().height >= 20 && *bad >= 10; },
                         std::chrono::seconds(120)));
  const std::string bad_signature =
      "openliquid_consensus_dropped_total{message=\"vote\",reason=\"bad_signature\"}";
  std::uint64_t bad_signatures = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_GE(metric(i, "openliquid_consensus_invalid_total"), 1u) << "node " << i;
    bad_signatures += metric(i, bad_signature);
  }
  // A broken vote that arrives after the round's certificate formed is dropped unchecked
  // (after_quorum); over ten rounds on three nodes, some arrive before it.
  EXPECT_GE(bad_signatures, 1u);
  // Each round's last votes arrive after the round was certified and left: stale, not wrong.
  std::uint64_t stale = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    stale += metric(i, "openliquid_consensus_dropped_total{message=\"vote\",reason=\"stale\"}");
  }
  EXPECT_GE(stale, 1u);
  EXPECT_EQ(metric(3, bad_signature), 0u) << "validator 3 checks no vote of its own";
  EXPECT_EQ(metric(3, "openliquid_consensus_invalid_total"), 0u);
}

TEST_F(InProcessNetwork, GossipedBatchesAdmitTheirGoodTransactionsOnly) {
  start_all();
  load_faucet();
  std::vector<std::uint64_t> rejected_before;
  for (std::size_t i = 0; i < 4; ++i) {
    rejected_before.push_back(metric(i, "openliquid_tx_rejected_total"));
  }

  // Malformed batches: a good transaction without the batch framing, and a batch whose count
  // promises a second transaction that is cut off. Nothing from them is admitted.
  codec::Writer cut;
  cut.u32(2);
  cut.bytes(faucet_tx(0));
  cut.u32(200);
  for (std::size_t i = 0; i < 4; ++i) {
    nodes_[i]->on_transaction_gossip(faucet_tx(0));
    nodes_[i]->on_transaction_gossip(cut.data());
  }
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (metric(i, "openliquid_tx_rejected_total") != rejected_before[i] + 2) return false;
    }
    return true;
  }));

  // A well-formed batch: two good transactions around a bad one, gossiped to every node.
  types::TxBatchBuilder batch;
  ASSERT_TRUE(batch.add(faucet_tx(0)).ok());
  ASSERT_TRUE(batch.add(Bytes(40, 0xee)).ok());
  ASSERT_TRUE(batch.add(faucet_tx(1)).ok());
  const Bytes good = batch.take();
  for (std::size_t i = 0; i < 4; ++i) nodes_[i]->on_transaction_gossip(good);
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (nonce(i, faucet_->address()) != 2) return false;
    }
    return true;
  }));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(call(port(i), "GET", "/account/" + sink_.to_checksum_hex()).body["balance"], "20");
    EXPECT_EQ(metric(i, "openliquid_tx_rejected_total"), rejected_before[i] + 3) << i;
  }
}

TEST_F(InProcessNetwork, RpcAnswersBusyWhileGossipAwaitsVerification) {
  start_all();
  load_faucet();
  // 15,360 gossiped transactions (nonces too far ahead: each costs a recovery, then is refused)
  // queue up on node 0's verifier, which clears them at some 20k/s at most.
  std::vector<Bytes> batches;
  for (std::uint64_t b = 0; b < 60; ++b) {
    types::TxBatchBuilder batch;
    for (std::uint64_t k = 0; k < 256; ++k)
      ASSERT_TRUE(batch.add(faucet_tx(5000 + b * 256 + k)).ok());
    batches.push_back(batch.take());
  }
  const json body{{"tx", to_hex(faucet_tx(0), true)}};
  for (const auto& b : batches) nodes_[0]->on_transaction_gossip(b);
  auto busy = call(port(0), "POST", "/tx", body.dump());
  EXPECT_EQ(busy.status, 503) << busy.raw;
  EXPECT_NE(busy.body.value("error", std::string()).find("busy"), std::string::npos) << busy.raw;
  EXPECT_EQ(metric(0, "openliquid_tx_busy_total"), 1u);
  EXPECT_EQ(call(port(0), "GET", "/tx/" + to_hex(crypto::keccak256(faucet_tx(0)), true)).status,
            404);  // refused before admission: not even recorded
  // Other nodes are not behind; node 0 takes it again once its verifier has caught up.
  ASSERT_TRUE(eventually([&] { return call(port(0), "POST", "/tx", body.dump()).status == 200; }));
  ASSERT_TRUE(eventually([&] { return nonce(1, faucet_->address()) == 1; }));
  EXPECT_EQ(metric(0, "openliquid_tx_gossip_shed_total"), 0u);
}

// POST /txs admits each transaction as POST /tx would, in order, and answers for each; a
// malformed body admits none.
TEST_F(InProcessNetwork, BatchSubmissionAnswersForEachTransaction) {
  start_all();
  load_faucet();
  const auto hex = [](const Bytes& b) { return to_hex(b, true); };
  const std::string tx0 = hex(faucet_tx(0)), tx1 = hex(faucet_tx(1)), tx2 = hex(faucet_tx(2));
  const auto post = [&](const json& body) { return call(port(0), "POST", "/txs", body.dump()); };

  // Malformed: 400, nothing admitted (tx0 stays unknown).
  for (const json& bad :
       {json::array(), json{{"tx", tx0}}, json{{"txs", json::array()}}, json{{"txs", tx0}},
        json{{"txs", {tx0, 7}}}, json{{"txs", {tx0, "ab"}}}, json{{"txs", {tx0, "0xzz"}}}}) {
    auto r = post(bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " -> " << r.raw;
    EXPECT_FALSE(r.body.value("error", std::string()).empty()) << r.raw;
  }
  auto bad_entry = post(json{{"txs", {tx0, tx1, "0x0g"}}});
  EXPECT_NE(bad_entry.body.value("error", std::string()).find("txs[2]"), std::string::npos)
      << bad_entry.raw;
  json too_many = json{{"txs", json::array()}};
  for (std::size_t i = 0; i <= RpcServer::kMaxSubmitBatch; ++i) too_many["txs"].push_back(tx0);
  EXPECT_EQ(post(too_many).status, 400);
  EXPECT_EQ(call(port(0), "GET", "/tx/" + to_hex(crypto::keccak256(faucet_tx(0)), true)).status,
            404);
  EXPECT_EQ(call(port(0), "GET", "/txs").status, 405);

  // Mixed: good ones admitted in order, a non-transaction refused alone, a copy idempotent.
  auto r = post(json{{"txs", {tx0, tx1, "0x00010203", tx0, tx2}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["accepted"], 4) << r.raw;
  const json& results = r.body["results"];
  ASSERT_EQ(results.size(), 5u) << r.raw;
  EXPECT_EQ(results[0]["hash"], to_hex(crypto::keccak256(faucet_tx(0)), true));
  EXPECT_EQ(results[1]["hash"], to_hex(crypto::keccak256(faucet_tx(1)), true));
  EXPECT_TRUE(results[2].contains("error") && !results[2].contains("hash")) << r.raw;
  EXPECT_EQ(results[3]["hash"], results[0]["hash"]);
  EXPECT_FALSE(results[3].contains("error")) << r.raw;
  EXPECT_EQ(results[4]["hash"], to_hex(crypto::keccak256(faucet_tx(2)), true));
  ASSERT_TRUE(eventually([&] { return nonce(2, faucet_->address()) == 3; }));

  // Admission errors are per transaction: a replay of a committed nonce beside a new one.
  auto again =
      post(json{{"txs",
                 {hex(faucet_tx(3)),
                  hex(codec::encode(types::Transaction::sign(
                      genesis_.app.chain_id, 1, types::Transfer{sink_, 99}, *faucet_)))}}});
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["accepted"], 1) << again.raw;
  EXPECT_NE(again.body["results"][1].value("error", std::string()).find("nonce"), std::string::npos)
      << again.raw;
  ASSERT_TRUE(eventually([&] { return nonce(1, faucet_->address()) == 4; }));
}

// Transactions that wait for a lower nonce of their sender that nobody sends get a bounded share
// of the pool and a lifetime, so no client (nor anyone with fresh keys) can fill it for good.
TEST_F(InProcessNetwork, TransactionsWaitingForAMissingNonceAreBoundedAndDropped) {
  start_all("transactions", [](NodeConfig& c) {
    c.mempool.future_capacity = 3;
    c.mempool.future_lifetime_ms = 1000;
  });
  load_faucet();
  const auto post = [&](std::uint64_t n) {
    return call(port(0), "POST", "/tx", json{{"tx", to_hex(faucet_tx(n), true)}}.dump());
  };
  const auto tx_state = [&](std::size_t node, std::uint64_t n) {
    return call(port(node), "GET", "/tx/" + to_hex(crypto::keccak256(faucet_tx(n)), true)).body;
  };
  for (std::uint64_t n : {5, 6, 7}) {  // the faucet's nonces 0..4 are missing
    auto r = post(n);
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body.value("waiting_for_nonce", 99), 0) << r.raw;
  }
  auto full = post(8);
  EXPECT_EQ(full.status, 503) << full.raw;
  EXPECT_NE(full.body.value("error", std::string()).find("waiting for a lower nonce"),
            std::string::npos)
      << full.raw;
  EXPECT_EQ(tx_state(0, 8).value("status", std::string()), "rejected");
  EXPECT_EQ(metric(0, "openliquid_mempool_future"), 3u);
  const json waiting = tx_state(0, 5);
  EXPECT_EQ(waiting.value("status", std::string()), "pending") << waiting.dump();
  EXPECT_EQ(waiting.value("waiting_for_nonce", 99), 0) << waiting.dump();
  // Gossip took them to the other validators, which hold them the same way.
  ASSERT_TRUE(eventually([&] { return metric(1, "openliquid_mempool_future") == 3; }));

  // After the lifetime (the pool is swept once a second) they are gone from every pool, and
  // GET /tx says why.
  for (std::size_t node : {0, 1}) {
    ASSERT_TRUE(eventually([&] { return metric(node, "openliquid_tx_expired_total") == 3; }));
    EXPECT_EQ(metric(node, "openliquid_mempool_future"), 0u);
    EXPECT_EQ(metric(node, "openliquid_mempool_size"), 0u);
  }
  const json dropped = tx_state(0, 6);
  EXPECT_EQ(dropped.value("status", std::string()), "rejected") << dropped.dump();
  EXPECT_EQ(dropped.value("reason", std::string()),
            "dropped: waited 1000 ms for nonce 0 of its sender, which never arrived")
      << dropped.dump();
  EXPECT_EQ(nonce(0, faucet_->address()), 0u);

  // Refused earlier for want of room, admitted now that there is: pending, whatever this node
  // recorded when it refused it.
  auto admitted = post(8);
  EXPECT_EQ(admitted.status, 200) << admitted.raw;
  const json pending = tx_state(0, 8);
  EXPECT_EQ(pending.value("status", std::string()), "pending") << pending.dump();
  EXPECT_EQ(pending.value("waiting_for_nonce", 99), 0) << pending.dump();

  // Sent in order, the same transactions (the dropped ones again) commit as usual.
  for (std::uint64_t n = 0; n <= 8; ++n) {
    auto r = post(n);
    EXPECT_EQ(r.status, 200) << n << ": " << r.raw;
    EXPECT_FALSE(r.body.contains("waiting_for_nonce")) << n << ": " << r.raw;
  }
  ASSERT_TRUE(eventually([&] { return nonce(2, faucet_->address()) == 9; }));
  EXPECT_EQ(tx_state(0, 6).value("status", std::string()), "committed");
  EXPECT_FALSE(tx_state(0, 6).contains("waiting_for_nonce"));
  EXPECT_TRUE(
      eventually([&] { return tx_state(0, 8).value("status", std::string()) == "committed"; }));
}

// A leader that cannot fill a block proposes no sooner than min_block_interval_ms after the last
// proposal it saw, and stamps its block after that wait: ts(h+1) >= (arrival of h) + interval >=
// ts(h) + interval. A slow machine only widens the gaps; 1 ms is for the timestamps' truncation
// to milliseconds.
TEST_F(InProcessNetwork, BlocksKeepTheMinimumIntervalUnderATrickleOfTransactions) {
  start_all("transactions", [](NodeConfig& c) { c.consensus.min_block_interval_ms = 120; });
  load_faucet();
  for (std::uint64_t n = 0; n < 12; ++n) {
    auto r = call(port(n % 4), "POST", "/tx", json{{"tx", to_hex(faucet_tx(n), true)}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  ASSERT_TRUE(eventually([&] { return nonce(0, faucet_->address()) == 12; }));
  std::uint64_t height = 0;
  ASSERT_TRUE(eventually([&] {
    height = call(port(0), "GET", "/status").body["height"].get<std::uint64_t>();
    return height >= 8;
  }));
  std::vector<std::uint64_t> ts(height + 1, 0);
  std::uint64_t with_txs = 0;
  for (std::uint64_t h = 1; h <= height; ++h) {
    auto b = call(port(0), "GET", "/block/" + std::to_string(h));
    ASSERT_EQ(b.status, 200) << b.raw;
    ts[h] = b.body["timestamp_ms"].get<std::uint64_t>();
    with_txs += b.body["tx_count"].get<std::uint64_t>() > 0;
    // Stamped after the leader's wait, so even neighbours are an interval apart (block 1's
    // leader had nothing to wait for).
    if (h >= 2) {
      EXPECT_GE(ts[h] - ts[h - 1], 119u) << "blocks " << h - 1 << " and " << h;
    }
  }
  EXPECT_LT(with_txs, 12u);  // 40 ms apart, the transactions shared blocks
}

// Validator 3 never receives a proposal, so it learns the chain only when it must lead: a
// certificate (from the votes sent to it) for a block it lacks, then the blocks it asks for, whose
// certificates commit several blocks at once in the very input where it proposes. Those are not
// executed yet, and the tree keeps only the newest; gossip has put their transactions in its
// mempool. It must not propose them again (the others would refuse to vote: a lost round).
TEST_F(InProcessNetwork, ALaggingLeaderDoesNotProposeWhatItJustCommitted) {
  hub_.set_drop([](std::size_t, std::size_t to, const Bytes& frame) {
    if (to != 3) return false;
    auto m = consensus::decode_message(frame);
    return m.ok() && std::holds_alternative<consensus::ProposalMsg>(*m);
  });
  start_all();
  load_faucet();
  constexpr std::uint64_t kTxs = 60;
  for (std::uint64_t n = 0; n < kTxs; ++n) {
    auto r = call(port(n % 3), "POST", "/tx", json{{"tx", to_hex(faucet_tx(n), true)}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(eventually([&] { return nonce(0, faucet_->address()) == kTxs; }));
  // Validator 3 did lead blocks that carry transactions.
  const auto height = call(port(0), "GET", "/status").body["height"].get<std::uint64_t>();
  std::uint64_t led_with_txs = 0;
  for (std::uint64_t h = 1; h <= height; ++h) {
    auto b = call(port(0), "GET", "/block/" + std::to_string(h)).body;
    led_with_txs += b["proposer"] == 3 && b["tx_count"].get<std::uint64_t>() > 0;
  }
  EXPECT_GT(led_with_txs, 0u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(metric(i, "openliquid_replayed_proposals_total"), 0u) << "node " << i;
  }
}

TEST_F(InProcessNetwork, AReplayedTransactionIsNeverCertifiedTwice) {
  start_all();
  auto faucet = crypto::load_secp256k1_key_file(dir_.path() / "faucet_key.json");
  ASSERT_TRUE(faucet.ok());
  const auto to = crypto::Secp256k1Key::generate().address();
  auto submit = [&](std::uint64_t n) {
    auto tx = types::Transaction::sign(genesis_.app.chain_id, n, types::Transfer{to, 10}, *faucet);
    auto r = call(port(1), "POST", "/tx", json{{"tx", to_hex(codec::encode(tx), true)}}.dump());
    EXPECT_EQ(r.status, 200) << r.raw;
    return tx;
  };
  const types::Transaction first = submit(0);
  ASSERT_TRUE(eventually([&] { return nonce(1, faucet->address()) == 1; }));

  // Validator 0 now includes the committed transaction again in every block it proposes. The
  // hub keeps the mutator until the nodes close, after this body's locals are gone: it owns what
  // it uses.
  auto tampered = std::make_shared<std::atomic<int>>(0);
  byzantine_proposer(0, [first, tampered](types::Block& b) {
    auto* txs = std::get_if<std::vector<types::Transaction>>(&b.payload);
    if (txs == nullptr) return false;
    txs->insert(txs->begin(), first);
    ++*tampered;
    return true;
  });
  const std::uint64_t from = nodes_[1]->status().height;
  for (std::uint64_t n = 1; n <= 4; ++n) submit(n);
  ASSERT_TRUE(eventually(
      [&] {
        return nonce(1, faucet->address()) == 5 && nodes_[1]->status().height >= from + 10 &&
               *tampered >= 2;
      },
      std::chrono::seconds(120)));
  const std::string first_hash = to_hex(first.hash(), true);
  int inclusions = 0;
  const std::uint64_t top = nodes_[1]->status().height;
  for (std::uint64_t h = 1; h <= top; ++h) {
    auto b = call(port(1), "GET", "/block/" + std::to_string(h)).body;
    ASSERT_TRUE(b.is_object()) << h;
    for (const auto& t : b["txs"]) inclusions += t == first_hash ? 1 : 0;
  }
  EXPECT_EQ(inclusions, 1);
  EXPECT_EQ(call(port(2), "GET", "/account/" + to.to_checksum_hex()).body["balance"], "50");
}

// Execution is off a round's critical path. A leader's proposal leaves before the node executes
// the block that the certificate it has just formed commits (the proposer anchored only what it
// had executed before that certificate), so the next round does not wait for it. The other
// validators formed the same certificate from the broadcast votes and execute while that
// proposal is on its way. Before, each node executed first, and a round took two executions
// longer.
TEST_F(InProcessNetwork, ProposalsLeaveBeforeWhatTheirCertificateCommitsIsExecuted) {
  struct Seen {
    std::mutex mu;
    std::uint64_t before = 0, after = 0;  // proposals sent before / after the execution
  };
  auto seen = std::make_shared<Seen>();
  hub_.set_drop([this, seen](std::size_t from, std::size_t, const Bytes& frame) {
    auto m = consensus::decode_message(frame);
    if (!m.ok()) return false;
    // The sender's core thread is sending: its executed height cannot move meanwhile.
    const types::Height executed = nodes_[from]->status().height;
    std::lock_guard lock(seen->mu);
    // A block at height h carries the certificate of h - 1, which commits h - 2.
    if (const auto* p = std::get_if<consensus::ProposalMsg>(&*m); p && p->block.height >= 4) {
      ++(executed < p->block.height - 2 ? seen->before : seen->after);
    }
    return false;
  });
  start_all();
  load_faucet();
  for (std::uint64_t n = 0; n < 20; ++n) {
    auto r = call(port(n % 4), "POST", "/tx", json{{"tx", to_hex(faucet_tx(n), true)}}.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(eventually(
      [&] { return nonce(0, faucet_->address()) == 20 && nodes_[0]->status().height >= 20; }));
  std::lock_guard lock(seen->mu);
  EXPECT_GT(seen->before, 20u);
  EXPECT_GT(seen->before, 10 * seen->after) << seen->after << " proposals after the execution";
}

}  // namespace
}  // namespace ol::node::test
