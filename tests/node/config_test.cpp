#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "common/hex.h"
#include "node/config.h"
#include "node/genesis.h"
#include "node/init.h"

namespace ol::node {
namespace {

std::string error_of(std::string_view toml) {
  auto r = parse_config(toml, "test.toml");
  return r.ok() ? std::string("<accepted>") : r.error().message;
}

TEST(NodeConfig, EmptyFileGivesDefaults) {
  auto c = parse_config("");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->network.heartbeat_ms, 1000u);
  EXPECT_EQ(c->storage.keep_blocks, 0u);
  EXPECT_EQ(c->storage.memtable_mb, 64u);
  EXPECT_EQ(c->consensus.min_block_interval_ms, 5u);
  EXPECT_EQ(c->rpc.max_connections, 1024u);
  EXPECT_EQ(c->mempool.future_capacity, 10'000u);
  EXPECT_EQ(c->mempool.future_lifetime_ms, 60'000u);
}

TEST(NodeConfig, WrittenConfigParsesBackIdentically) {
  NodeConfig c;
  c.log_level = "debug";
  c.network.listen = "/ip4/127.0.0.1/tcp/1234";
  c.network.bootstrap = {"/ip4/127.0.0.1/tcp/1", "/dns4/a\"b/tcp/2"};
  c.rpc.listen = "127.0.0.1:9999";
  c.consensus.max_block_txs = 7;
  c.consensus.min_block_interval_ms = 0;
  c.storage.keep_blocks = 100;
  c.storage.memtable_mb = 0;
  c.mempool.capacity = 5;
  c.rpc.max_connections = 7;
  c.mempool.future_capacity = 0;
  c.mempool.future_lifetime_ms = 1500;
  auto back = parse_config(c.to_toml());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->to_toml(), c.to_toml());
  EXPECT_EQ(back->network.bootstrap, c.network.bootstrap);
  EXPECT_EQ(back->rpc.max_connections, 7u);
  EXPECT_EQ(back->storage.memtable_mb, 0u);
  EXPECT_EQ(back->mempool.future_capacity, 0u);
  EXPECT_EQ(back->mempool.future_lifetime_ms, 1500u);
}

TEST(NodeConfig, ErrorsNameTheKeyAndTheProblem) {
  EXPECT_NE(error_of("[network]\nmax_peer = 3\n").find("unknown key 'network.max_peer'"),
            std::string::npos);
  EXPECT_NE(error_of("lg_level = \"x\"\n").find("unknown key 'lg_level'"), std::string::npos);
  EXPECT_NE(error_of("[netwerk]\n").find("unknown key 'netwerk'"), std::string::npos);
  EXPECT_NE(error_of("[rpc]\nlisten = 5\n").find("'rpc.listen' must be a string"),
            std::string::npos);
  EXPECT_NE(error_of("[network]\nmax_peers = -1\n").find("'network.max_peers' out of range"),
            std::string::npos);
  EXPECT_NE(error_of("[network]\nmax_peers = \"ten\"\n").find("non-negative integer"),
            std::string::npos);
  EXPECT_NE(error_of("rpc = 3\n").find("'rpc' must be a table"), std::string::npos);
  EXPECT_NE(error_of("[consensus]\nround_timeout_base_ms = 0\n").find("round_timeout_base_ms"),
            std::string::npos);
  EXPECT_NE(error_of("[rpc]\nmax_connections = 0\n").find("rpc.max_connections must be > 0"),
            std::string::npos);
  EXPECT_NE(error_of("[mempool]\nfuture_lifetime_ms = 999\n")
                .find("mempool.future_lifetime_ms must be ≥ 1000"),
            std::string::npos);
  EXPECT_NE(error_of("this is = not [toml").find("invalid TOML"), std::string::npos);
  EXPECT_NE(error_of("[consensus]\nround_timeout_base_ms = 200\nmin_block_interval_ms = 101\n")
                .find("min_block_interval_ms must be at most half of round_timeout_base_ms"),
            std::string::npos);
}

TEST(NodeConfig, SyncSection) {
  NodeConfig c;
  c.sync.checkpoint_interval = 50;
  c.sync.checkpoints_keep = 3;
  c.sync.state_sync = true;
  c.sync.batch = 128;
  c.sync.catch_up_lag = 0;
  auto back = parse_config(c.to_toml());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->to_toml(), c.to_toml());
  EXPECT_TRUE(back->sync.state_sync);
  EXPECT_EQ(back->sync.checkpoint_interval, 50u);
  EXPECT_EQ(back->sync.batch, 128u);
  EXPECT_NE(error_of("[sync]\nbatch = 1\n").find("sync.batch"), std::string::npos);
  EXPECT_NE(error_of("[sync]\nbatch = 513\n").find("sync.batch"), std::string::npos);
  EXPECT_NE(error_of("[sync]\nstate_sync = 1\n").find("true or false"), std::string::npos);
  EXPECT_NE(error_of("[sync]\ninterval = 1\n").find("unknown key 'sync.interval'"),
            std::string::npos);
}

TEST(Genesis, GeneratedAccountsExpandDeterministicallyAndRoundTrip) {
  InitOptions o;
  o.validators = 1;
  o.full_nodes = 1;
  o.generated_accounts = 1000;
  char tmpl[] = "/tmp/ol-genesis-gen-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  o.dir = std::filesystem::path(tmpl) / "net";
  o.base_p2p_port = 40000;
  o.base_rpc_port = 41000;
  auto g = init_network(o);
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(g->app.allocations.size(), 1001u);  // faucet + 1000
  auto back = load_genesis(o.dir / "full0" / "genesis.json");
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->app.hash(), g->app.hash());
  EXPECT_EQ(back->to_json(), g->to_json());
  EXPECT_EQ(back->app.allocations.back().account, generated_account(999));
  EXPECT_NE(generated_account(0), generated_account(1));
  EXPECT_FALSE(std::filesystem::exists(o.dir / "full0" / "validator_key.json"));
  auto full = load_config(o.dir / "full0" / "config.toml");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->rpc.listen, "127.0.0.1:41001");
  std::filesystem::remove_all(tmpl);
}

TEST(Amount, DecimalRoundTripAndStrictParsing) {
  using types::amount_to_string;
  using types::parse_amount;
  types::Amount max = ~types::Amount(0);
  EXPECT_EQ(amount_to_string(max), "340282366920938463463374607431768211455");
  EXPECT_EQ(*parse_amount("340282366920938463463374607431768211455"), max);
  EXPECT_FALSE(parse_amount("340282366920938463463374607431768211456").ok());
  EXPECT_EQ(*parse_amount("0"), types::Amount(0));
  EXPECT_FALSE(parse_amount("").ok());
  EXPECT_FALSE(parse_amount("-1").ok());
  EXPECT_FALSE(parse_amount("1e3").ok());
}

TEST(Genesis, RejectsMalformedDocumentsWithAReason) {
  auto err = [](const std::string& json) {
    auto g = parse_genesis(json, "g.json");
    return g.ok() ? std::string("<accepted>") : g.error().message;
  };
  const std::string key = std::string(64, 'a');
  const std::string val = R"({"public_key":")" + key + R"(","p2p_address":"/ip4/127.0.0.1/tcp/1"})";
  EXPECT_NE(err("[]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"chain_id":1,"genesis_time_ms":0,"validators":[]})").find("non-empty"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"chain_id":-1,"genesis_time_ms":0,"validators":[)" + val + "]}").find("chain_id"),
      std::string::npos);
  EXPECT_NE(err(R"({"chain_id":1,"genesis_time_ms":0,"validators":[)" + val + "," + val + "]}")
                .find("duplicate validator"),
            std::string::npos);
  const std::string addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  EXPECT_NE(err(R"({"chain_id":1,"genesis_time_ms":0,"validators":[)" + val +
                R"(],"allocations":[{"address":")" + addr + R"(","balance":"1"},{"address":")" +
                addr + R"(","balance":"2"}]})")
                .find("twice"),
            std::string::npos);
  EXPECT_NE(err(R"({"chain_id":1,"genesis_time_ms":0,"validators":[)" + val +
                R"(],"allocations":[{"address":"0x00","balance":"1"}]})")
                .find("allocations[0].address"),
            std::string::npos);
  EXPECT_NE(err(R"({"chain_id":1,"genesis_time_ms":0,"validators":[)" + val +
                R"(],"faucet":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"})")
                .find("has no allocation"),
            std::string::npos);
}

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ol-init-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(InitTest, WritesLoadableKeysGenesisAndNonCollidingConfigs) {
  InitOptions o;
  o.validators = 7;
  o.dir = dir_;
  auto g = init_network(o);
  ASSERT_TRUE(g.ok()) << g.error().to_string();

  auto on_disk = load_genesis(dir_ / "genesis.json");
  ASSERT_TRUE(on_disk.ok()) << on_disk.error().to_string();
  EXPECT_EQ(on_disk->to_json(), g->to_json());
  ASSERT_EQ(on_disk->validators.size(), 7u);
  ASSERT_TRUE(on_disk->app.faucet.has_value());
  auto faucet = crypto::load_secp256k1_key_file(dir_ / "faucet_key.json");
  ASSERT_TRUE(faucet.ok());
  EXPECT_EQ(faucet->address(), *on_disk->app.faucet);

  std::set<std::string> endpoints;
  for (std::size_t i = 0; i < 7; ++i) {
    auto home = dir_ / ("node" + std::to_string(i));
    auto cfg = load_config(home / "config.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
    EXPECT_TRUE(endpoints.insert(cfg->network.listen).second);
    EXPECT_TRUE(endpoints.insert(cfg->rpc.listen).second);
    EXPECT_EQ(cfg->network.listen, on_disk->validators[i].p2p_address);
    auto key = crypto::load_ed25519_key_file(home / cfg->validator_key);
    ASSERT_TRUE(key.ok()) << key.error().to_string();
    EXPECT_EQ(key->public_key(), on_disk->validators[i].public_key);
    auto node_genesis = load_genesis(home / cfg->genesis);
    ASSERT_TRUE(node_genesis.ok());
    EXPECT_EQ(node_genesis->to_json(), g->to_json());
  }
}

TEST_F(InitTest, RefusesToOverwriteOrCollidePorts) {
  InitOptions o;
  o.validators = 4;
  o.dir = dir_;
  ASSERT_TRUE(init_network(o).ok());
  auto again = init_network(o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("not empty"), std::string::npos);

  InitOptions overlap;
  overlap.dir = dir_ / "other";
  overlap.base_p2p_port = 9000;
  overlap.base_rpc_port = 9002;
  auto r = init_network(overlap);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("overlap"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(overlap.dir)) << "a refused init must create nothing";

  InitOptions too_high;
  too_high.dir = dir_ / "high";
  too_high.base_p2p_port = 65534;
  EXPECT_FALSE(init_network(too_high).ok());
}

}  // namespace
}  // namespace ol::node
