// Real `openliquid node` processes on 127.0.0.1, driven over their RPC: four validators commit
// transfers and agree on balances and state roots; one is SIGKILLed and the other three keep
// committing; restarted, it catches up (consensus sync) and computes the same state; malformed
// requests are rejected and change nothing. Deadlines are generous and only bound the polling.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <map>

#include <fstream>
#include "common/hex.h"
#include "crypto/hash.h"
#include "crypto/secp256k1.h"
#include "node/config.h"
#include "node/harness.h"
#include "node/node_process.h"
#include "p2p/child_process.h"
#include "types/transaction.h"

namespace ol::node::test {
namespace {

class FourValidators : public ::testing::Test {
 protected:
  void SetUp() override {
    genesis_ = init_into(dir_.path(), 4);
    ASSERT_FALSE(genesis_.validators.empty());
    auto faucet = crypto::load_secp256k1_key_file(dir_.path() / "faucet_key.json");
    ASSERT_TRUE(faucet.ok());
    faucet_.emplace(std::move(*faucet));
    for (std::size_t i = 0; i < 4; ++i) {
      const auto home = dir_.path() / ("node" + std::to_string(i));
      auto config = load_config(home / "config.toml");
      ASSERT_TRUE(config.ok());
      const std::string& listen = config->rpc.listen;
      ports_.push_back(static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1))));
      nodes_.push_back(std::make_unique<NodeProcess>(home));
      nodes_.back()->start();
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        std::cerr << "---- node" << i << " log tail ----\n" << nodes_[i]->log_tail() << "\n";
      }
    }
  }

  json status(std::size_t i) { return call(ports_[i], "GET", "/status").body; }
  std::uint64_t height(std::size_t i) {
    auto s = status(i);
    return s.is_object() && s.contains("height") ? s["height"].get<std::uint64_t>() : 0;
  }
  json account(std::size_t i, const crypto::Address& a) {
    return call(ports_[i], "GET", "/account/" + a.to_checksum_hex()).body;
  }
  std::uint64_t nonce(std::size_t i, const crypto::Address& a) {
    auto j = account(i, a);
    return j.is_object() && j.contains("nonce") ? j["nonce"].get<std::uint64_t>() : 0;
  }

  /// A counter or gauge from node i's GET /metrics (-1 when absent).
  double metric(std::size_t i, const std::string& name) {
    auto r = call(ports_[i], "GET", "/metrics");
    const std::string needle = "\n" + name + " ";
    const auto at = r.raw.find(needle);
    if (at == std::string::npos) return -1;
    return std::stod(r.raw.substr(at + needle.size()));
  }

  /// Submits transfers with nonces [from, to) to the given nodes in turn; returns the hashes.
  std::vector<std::string> transfer(std::uint64_t from, std::uint64_t to,
                                    const std::vector<std::size_t>& via) {
    std::vector<std::string> hashes;
    for (std::uint64_t n = from; n < to; ++n) {
      auto tx = types::Transaction::sign(genesis_.app.chain_id, n,
                                         types::Transfer{recipient_, 1000 + n}, *faucet_);
      json body{{"tx", to_hex(codec::encode(tx), true)}};
      auto r = call(ports_[via[n % via.size()]], "POST", "/tx", body.dump());
      EXPECT_EQ(r.status, 200) << r.raw;
      if (r.status == 200) hashes.push_back(r.body["hash"].get<std::string>());
    }
    return hashes;
  }

  /// Records (height -> state root) samples from node i.
  void sample_roots(std::size_t i) {
    auto s = status(i);
    if (!s.is_object() || !s.contains("height")) return;
    roots_[i][s["height"].get<std::uint64_t>()] = s["state_root"].get<std::string>();
  }
  /// True once `a` and `b` were seen at a common height, asserting the roots there agree.
  bool roots_agree(std::size_t a, std::size_t b) {
    bool common = false;
    for (const auto& [h, root] : roots_[a]) {
      auto it = roots_[b].find(h);
      if (it == roots_[b].end()) continue;
      common = true;
      EXPECT_EQ(root, it->second) << "state roots differ at height " << h << " (nodes " << a << ", "
                                  << b << ")";
    }
    return common;
  }

  TempDir dir_;
  Genesis genesis_;
  std::optional<crypto::Secp256k1Key> faucet_;
  crypto::Address recipient_ = crypto::Secp256k1Key::generate().address();
  std::vector<std::uint16_t> ports_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::map<std::size_t, std::map<std::uint64_t, std::string>> roots_;
};

// `openliquid tx transfer` as a user runs it: signs with a key file, submits, waits for the
// commit; bad arguments and refusals exit non-zero with the reason.
TEST_F(FourValidators, TxTransferCliSignsSubmitsAndWaits) {
  const std::string key = (dir_.path() / "faucet_key.json").string();
  const std::string rpc = "127.0.0.1:" + std::to_string(ports_[1]);
  const std::string to = recipient_.to_checksum_hex();
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {OL_OPENLIQUID_BIN, "tx", "transfer"});
    auto r = p2p::test::run_to_exit(args);
    EXPECT_NE(r.first, -1) << r.second;  // it started
    return r;
  };
  ASSERT_TRUE(eventually([&] { return height(1) >= 1; }));

  auto [code, out] = run({"--key", key, "--to", to, "--amount", "5", "--rpc", rpc, "--wait"});
  ASSERT_EQ(code, 0) << out;
  const std::string hash = out.substr(0, out.find('\n'));
  EXPECT_EQ(hash.size(), 66u) << out;
  EXPECT_NE(out.find("committed at height "), std::string::npos) << out;
  // The CLI waited on node 1; the others commit the same block a moment later (or before).
  EXPECT_TRUE(
      eventually([&] { return account(2, recipient_).value("balance", std::string()) == "5"; }));
  json tx;
  EXPECT_TRUE(eventually([&] {
    tx = call(ports_[3], "GET", "/tx/" + hash).body;
    return tx.value("status", std::string()) == "committed";
  })) << tx.dump();

  // The next nonce is read from the node; a nonce ahead is accepted with a note.
  std::tie(code, out) =
      run({"--key", key, "--to", to, "--amount", "1", "--rpc", rpc, "--nonce", "3"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("note: nonce 1 of this account is not there yet"), std::string::npos) << out;

  // Refusals and bad arguments: a reason, a non-zero exit, nothing sent.
  std::tie(code, out) =
      run({"--key", key, "--to", to, "--amount", "1", "--rpc", rpc, "--nonce", "0"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("nonce too low"), std::string::npos) << out;
  // A key with nothing to spend: the node's admission reads the sender's committed balance.
  const auto poor = dir_.path() / "poor_key.json";
  ASSERT_TRUE(crypto::save_secp256k1_key_file(poor, crypto::Secp256k1Key::generate()).ok());
  std::tie(code, out) = run({"--key", poor.string(), "--to", to, "--amount", "1", "--rpc", rpc});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("insufficient balance: the sender holds 0, this one needs 1"),
            std::string::npos)
      << out;
  std::tie(code, out) = run({"--key", key, "--to", "0x1234", "--amount", "1", "--rpc", rpc});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("--to"), std::string::npos) << out;
  std::tie(code, out) = run({"--key", key, "--to", to, "--amount", "-1", "--rpc", rpc});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("--amount"), std::string::npos) << out;
  std::tie(code, out) = run({"--key", (dir_.path() / "missing.json").string(), "--to", to,
                             "--amount", "1", "--rpc", rpc});
  EXPECT_NE(code, 0) << out;
  EXPECT_EQ(nonce(1, faucet_->address()), 1u);
}

TEST_F(FourValidators, CommitAgreeSurviveAKillAndRejoin) {
  const crypto::Address faucet = faucet_->address();
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (height(i) < 2) return false;
    }
    return true;
  })) << "the four validators did not start committing";

  // Transfers through every node's RPC; all four agree on the result.
  auto hashes = transfer(0, 8, {0, 1, 2, 3});
  ASSERT_EQ(hashes.size(), 8u);
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (nonce(i, faucet) != 8) return false;
    }
    return true;
  })) << "transfers were not committed everywhere";
  std::string expected_balance;
  for (std::size_t i = 0; i < 4; ++i) {
    auto a = account(i, recipient_);
    if (i == 0) expected_balance = a["balance"].get<std::string>();
    EXPECT_EQ(a["balance"].get<std::string>(), expected_balance);
    EXPECT_EQ(a["nonce"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(account(i, faucet)["balance"], account(0, faucet)["balance"]);
  }
  EXPECT_EQ(expected_balance, std::to_string(8 * 1000 + (0 + 7) * 8 / 2));
  // Each node recovered each transaction's signature exactly once, whether it first saw it in
  // its RPC, in gossip or in a proposal.
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(metric(i, "openliquid_tx_signature_checks_total"), 8.0) << "node " << i;
  }
  // Gossip carries each transaction from the node whose RPC admitted it (nonce n went to node
  // n % 4) to the others: some are committed in blocks that another validator proposed.
  std::size_t proposed_elsewhere = 0;
  for (std::size_t n = 0; n < hashes.size(); ++n) {
    const std::string& h = hashes[n];
    auto t = call(ports_[2], "GET", "/tx/" + h);
    ASSERT_EQ(t.status, 200) << t.raw;
    EXPECT_EQ(t.body["status"], "committed");
    auto b = call(ports_[1], "GET", "/block/" + std::to_string(t.body["height"].get<int>()));
    ASSERT_EQ(b.status, 200) << b.raw;
    bool listed = false;
    for (const auto& x : b.body["txs"]) listed = listed || x == h;
    EXPECT_TRUE(listed);
    if (b.body["proposer"].get<std::size_t>() != n % 4) ++proposed_elsewhere;
    EXPECT_GE(b.body["qc"]["signers"].size(), 3u);
    EXPECT_EQ(call(ports_[0], "GET", "/block/" + b.body["id"].get<std::string>()).body["height"],
              b.body["height"]);
  }
  EXPECT_GT(proposed_elsewhere, 0u);
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) sample_roots(i);
    return roots_agree(0, 1) && roots_agree(0, 2) && roots_agree(0, 3);
  })) << "never saw the validators at a common height";

  // SIGKILL validator 3: the other three keep committing.
  nodes_[3]->kill_now();
  const std::uint64_t at_kill = height(0);
  auto more = transfer(8, 14, {0, 1, 2});
  ASSERT_EQ(more.size(), 6u);
  ASSERT_TRUE(eventually(
      [&] {
        for (std::size_t i = 0; i < 3; ++i) {
          if (nonce(i, faucet) != 14) return false;
        }
        return height(0) > at_kill + 3;
      },
      std::chrono::seconds(120)))
      << "three validators stopped committing";

  // Restarted, it catches up through the consensus sync path and agrees.
  nodes_[3]->start();
  ASSERT_TRUE(eventually([&] { return nonce(3, faucet) == 14 && height(3) + 2 >= height(0); },
                         std::chrono::seconds(180)))
      << "validator 3 did not catch up";
  EXPECT_EQ(account(3, recipient_)["balance"], account(0, recipient_)["balance"]);
  roots_.clear();
  ASSERT_TRUE(eventually([&] {
    sample_roots(0);
    sample_roots(3);
    return roots_agree(0, 3);
  })) << "never saw validators 0 and 3 at a common height";
  auto last = transfer(14, 16, {3});
  ASSERT_TRUE(eventually([&] { return nonce(0, faucet) == 16 && nonce(3, faucet) == 16; }));

  // A clean stop exits 0.
  for (auto& n : nodes_) EXPECT_EQ(n->terminate(), 0);
}

// Every validator stops at once (SIGTERM) and starts again: each resumes from its own store
// (committed tip, safety data, highest QC and TC) and the chain moves on.
TEST_F(FourValidators, RestartOfEveryValidatorAtOnceKeepsCommitting) {
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (height(i) < 15) return false;
    }
    return true;
  })) << "never reached height 15";
  for (auto& n : nodes_) EXPECT_EQ(n->terminate(), 0);
  for (auto& n : nodes_) n->start();
  std::uint64_t stopped_at = 0;
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (status(i).is_object()) stopped_at = std::max(stopped_at, height(i));
    }
    return stopped_at > 0;
  }));
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 4; ++i) {
      if (height(i) < stopped_at + 5) return false;
    }
    return true;
  })) << "no progress after restarting every validator (height "
      << stopped_at << ")";
}

TEST_F(FourValidators, MalformedRequestsAreRejectedAndChangeNothing) {
  const crypto::Address faucet = faucet_->address();
  ASSERT_TRUE(eventually([&] { return height(0) >= 2; }));
  const std::uint16_t port = ports_[0];
  const json before = account(0, faucet);

  auto good =
      types::Transaction::sign(genesis_.app.chain_id, 0, types::Transfer{recipient_, 5}, *faucet_);
  auto wrong_chain = types::Transaction::sign(genesis_.app.chain_id + 1, 0,
                                              types::Transfer{recipient_, 5}, *faucet_);
  // A flipped signature bit still recovers some (unfunded) address; an impossible recovery id
  // and a zero s are what no signer can produce.
  auto bad_v = good;
  bad_v.signature.bytes[64] = 7;
  auto zero_s = good;
  std::fill(zero_s.signature.bytes.begin() + 32, zero_s.signature.bytes.begin() + 64, 0);
  auto zero =
      types::Transaction::sign(genesis_.app.chain_id, 0, types::Transfer{recipient_, 0}, *faucet_);
  auto far = types::Transaction::sign(genesis_.app.chain_id, 1'000'000,
                                      types::Transfer{recipient_, 5}, *faucet_);
  auto tx_body = [](ByteView b) { return json{{"tx", to_hex(b, true)}}.dump(); };

  struct Case {
    const char* method;
    std::string target, body;
    int status;
  };
  const std::string unknown_hash = "0x" + std::string(64, 'a');
  std::vector<Case> cases = {
      {"POST", "/tx", "not json", 400},
      {"POST", "/tx", "[1,2]", 400},
      {"POST", "/tx", R"({"tx": 5})", 400},
      {"POST", "/tx", R"({"tx": "abcd"})", 400},
      {"POST", "/tx", R"({"tx": "0xzz"})", 400},
      {"POST", "/tx", R"({"tx": "0x00"})", 400},
      {"POST", "/tx", tx_body(codec::encode(wrong_chain)), 400},
      {"POST", "/tx", tx_body(codec::encode(bad_v)), 400},
      {"POST", "/tx", tx_body(codec::encode(zero_s)), 400},
      {"POST", "/tx", tx_body(codec::encode(zero)), 400},
      {"POST", "/tx", tx_body(codec::encode(far)), 400},
      {"POST", "/tx", std::string((1u << 20) + 10, 'x'), 413},
      {"GET", "/tx", "", 405},
      {"DELETE", "/status", "", 405},
      {"POST", "/account/" + faucet.to_checksum_hex(), "", 405},
      {"GET", "/nope", "", 404},
      {"GET", "/tx/0x12", "", 400},
      {"GET", "/tx/" + unknown_hash, "", 404},
      {"GET", "/block/abc", "", 400},
      {"GET", "/block/-1", "", 400},
      {"GET", "/block/99999999", "", 404},
      {"GET", "/block/" + unknown_hash, "", 404},
      {"GET", "/account/0x1234", "", 400},
      {"POST", "/bench/commands?size=16", std::string(32, 'c'), 409},
      {"GET", "/bench/commits?after=0", "", 409},
  };
  for (const auto& c : cases) {
    auto r = call(port, c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " -> " << r.raw;
    ASSERT_TRUE(r.body.is_object()) << c.method << " " << c.target << ": " << r.raw;
    EXPECT_TRUE(r.body.contains("error")) << r.raw;
  }
  EXPECT_EQ(status(0)["mempool_size"], 0);
  const json after = account(0, faucet);
  EXPECT_EQ(after, before);
  auto rejected =
      call(port, "GET", "/tx/" + to_hex(crypto::keccak256(codec::encode(wrong_chain)), true));
  EXPECT_EQ(rejected.status, 200) << rejected.raw;
  EXPECT_EQ(rejected.body["status"], "rejected");
  EXPECT_FALSE(rejected.body.value("reason", "").empty());
  // Nothing was committed from any of it: the faucet's nonce stays 0 on every node.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(nonce(i, faucet), 0u);
  // Keep-alive: many requests on one connection.
  HttpConnection conn("127.0.0.1", port);
  for (int i = 0; i < 20; ++i) {
    auto r = conn.request("GET", "/status");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
  }
  auto metrics = http_request("127.0.0.1", port, "GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("openliquid_tx_rejected_total"), std::string::npos);
  EXPECT_NE(metrics->content_type.find("text/plain"), std::string::npos);
}

}  // namespace
}  // namespace ol::node::test
