// Block sync and state sync with real `openliquid node` processes on 127.0.0.1 (issue #8):
//   - a validator stopped while the others commit N blocks block-syncs at restart, before its
//     consensus core starts, and then votes again (its signing journal grows);
//   - a running validator frozen (SIGSTOP) while the others commit 200 blocks catches up, and
//     with a small catch_up_lag it must leave consensus, block-sync and start a new core;
//   - a fresh full node with --state-sync installs the newest checkpoint (a genesis of many
//     generated accounts), block-syncs the rest and follows the chain.
// CI sizes are small; OL_SYNC_BLOCKS=10000 and OL_SYNC_ACCOUNTS=999998 run the sizes.
// The measured times are printed (they are figures, never assertions).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/hex.h"
#include "crypto/secp256k1.h"
#include "node/config.h"
#include "node/harness.h"
#include "node/node_process.h"
#include "types/transaction.h"

namespace ol::node::test {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class SyncNetwork : public ::testing::Test {
 protected:
  /// `init` with `validators` + `full` nodes; `edit` adjusts every config before it is written.
  void init(std::size_t validators, std::size_t full, std::uint64_t generated,
            const std::function<void(std::size_t, NodeConfig&)>& edit) {
    InitOptions o;
    o.validators = validators;
    o.full_nodes = full;
    o.generated_accounts = generated;
    o.dir = dir_.path();
    const std::size_t n = validators + full;
    const std::uint16_t base = free_port_range(2 * n);
    o.base_p2p_port = base;
    o.base_rpc_port = static_cast<std::uint16_t>(base + n);
    auto g = init_network(o);
    ASSERT_TRUE(g.ok()) << g.error().to_string();
    genesis_ = std::move(*g);
    auto faucet = crypto::load_secp256k1_key_file(dir_.path() / "faucet_key.json");
    ASSERT_TRUE(faucet.ok());
    faucet_.emplace(std::move(*faucet));
    for (std::size_t i = 0; i < n; ++i) {
      const auto home = dir_.path() / (i < validators ? "node" + std::to_string(i)
                                                      : "full" + std::to_string(i - validators));
      auto config = load_config(home / "config.toml");
      ASSERT_TRUE(config.ok());
      edit(i, *config);
      std::ofstream(home / "config.toml") << config->to_toml();
      const std::string& listen = config->rpc.listen;
      ports_.push_back(static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1))));
      nodes_.push_back(std::make_unique<NodeProcess>(home));
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        std::cerr << "---- " << nodes_[i]->home().filename().string() << " log tail ----\n"
                  << nodes_[i]->log_tail() << "\n";
      }
    }
  }

  /// Starts every node and waits until the first `validators` have each committed height 3.
  void start_all_until_committing(std::size_t validators) {
    for (auto& n : nodes_) n->start();
    // Committing, and every validator past its start-up sync: a validator still syncing at start
    // may be asking the one a test is about to freeze, and wait out its request timeout.
    ASSERT_TRUE(eventually([&] {
      for (std::size_t i = 0; i < validators; ++i) {
        const json s = status(i);
        if (!s.is_object() || s.value("height", std::uint64_t{0}) < 3 ||
            s.value("sync_phase", std::string()) != "consensus") {
          return false;
        }
      }
      return true;
    })) << "the validators did not start committing";
  }

  json status(std::size_t i) { return call(ports_[i], "GET", "/status").body; }
  std::uint64_t height(std::size_t i) {
    auto s = status(i);
    return s.is_object() && s.contains("height") ? s["height"].get<std::uint64_t>() : 0;
  }
  std::uint64_t max_height(std::size_t count) {
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < count; ++i) h = std::max(h, height(i));
    return h;
  }
  std::string block_id(std::size_t i, std::uint64_t h) {
    auto b = call(ports_[i], "GET", "/block/" + std::to_string(h));
    return b.status == 200 ? b.body["id"].get<std::string>() : "";
  }
  json account(std::size_t i, const crypto::Address& a) {
    return call(ports_[i], "GET", "/account/" + a.to_checksum_hex()).body;
  }
  std::string submit_transfer(std::size_t via, std::uint64_t nonce, const crypto::Address& to) {
    auto tx =
        types::Transaction::sign(genesis_.app.chain_id, nonce, types::Transfer{to, 1000}, *faucet_);
    json body{{"tx", to_hex(codec::encode(tx), true)}};
    auto r = call(ports_[via], "POST", "/tx", body.dump());
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.status == 200 ? r.body["hash"].get<std::string>() : "";
  }

  static std::size_t count_votes(const std::filesystem::path& journal) {
    std::ifstream in(journal);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.starts_with("vote ");
    return n;
  }

  /// Four validators with fast rounds, validator 3 journalling its votes; `lag(i)` is validator
  /// i's catch_up_lag. Once they commit, validator 3 is frozen (SIGSTOP) while the others commit
  /// 200 blocks, then resumed. Sets frozen_at_ (its height when frozen) and target_ (the others'
  /// height when it was resumed).
  void freeze_validator_3_for_200_blocks(const std::function<std::uint32_t(std::size_t)>& lag) {
    init(4, 0, 0, [&](std::size_t i, NodeConfig& c) {
      c.consensus.empty_block_wait_ms = 0;
      c.consensus.round_timeout_base_ms = 50;
      c.consensus.round_timeout_cap_ms = 2000;
      c.sync.checkpoint_interval = 0;
      c.sync.catch_up_lag = lag(i);
      if (i == 3) c.signing_journal = true;
    });
    ASSERT_FALSE(HasFatalFailure());
    start_all_until_committing(4);
    ASSERT_FALSE(HasFatalFailure());
    frozen_at_ = height(3);
    nodes_[3]->signal(SIGSTOP);
    ASSERT_TRUE(
        eventually([&] { return max_height(3) >= frozen_at_ + 200; }, std::chrono::seconds(180)));
    target_ = max_height(3);
    nodes_[3]->signal(SIGCONT);
  }

  /// After catching up, validator 3 votes again, is back in consensus and on the others' chain.
  void expect_validator_3_votes_on_the_same_chain() {
    const auto journal = nodes_[3]->home() / "signing.journal";
    const std::size_t votes = count_votes(journal);
    ASSERT_TRUE(
        eventually([&] { return count_votes(journal) >= votes + 5; }, std::chrono::seconds(60)))
        << "the validator does not vote after catching up";
    ASSERT_TRUE(eventually([&] { return status(3).value("sync_phase", "") == "consensus"; }));
    const std::uint64_t later = target_ + 5;
    ASSERT_TRUE(eventually([&] { return height(3) >= later && height(0) >= later; }));
    EXPECT_EQ(block_id(3, later), block_id(0, later));
    EXPECT_EQ(block_id(3, frozen_at_ + 100), block_id(1, frozen_at_ + 100));
  }

  std::uint64_t frozen_at_ = 0, target_ = 0;
  TempDir dir_;
  Genesis genesis_;
  std::optional<crypto::Secp256k1Key> faucet_;
  std::vector<std::uint16_t> ports_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

TEST_F(SyncNetwork, RestartedValidatorBlockSyncsThenVotesAgain) {
  const std::uint64_t blocks = env_u64("OL_SYNC_BLOCKS", 200);
  const auto round_timeout = static_cast<std::uint32_t>(env_u64("OL_SYNC_ROUND_TIMEOUT_MS", 150));
  init(4, 0, 0, [&](std::size_t i, NodeConfig& c) {
    c.consensus.empty_block_wait_ms = 0;  // empty blocks as fast as consensus goes
    // The stopped validator's rounds time out: keep that short so the others commit quickly.
    c.consensus.round_timeout_base_ms = round_timeout;
    c.consensus.round_timeout_cap_ms = 2000;
    c.sync.checkpoint_interval = 0;
    if (i == 3) c.signing_journal = true;
  });
  ASSERT_FALSE(HasFatalFailure());
  start_all_until_committing(4);
  ASSERT_FALSE(HasFatalFailure());
  // Validator 3 has voted before it stops: it may reach consensus a few milliseconds before the
  // others' height 3 is seen, and be stopped before its first vote otherwise.
  const auto journal = nodes_[3]->home() / "signing.journal";
  ASSERT_TRUE(eventually([&] { return count_votes(journal) > 0; }))
      << "validator 3 never voted before the restart";

  EXPECT_EQ(nodes_[3]->terminate(), 0);
  const std::uint64_t stopped_at = height(0);
  const auto wait_start = Clock::now();
  ASSERT_TRUE(eventually([&] { return max_height(3) >= stopped_at + blocks; },
                         std::chrono::seconds(120 + blocks / 10)))
      << "three validators did not commit " << blocks << " blocks";
  const std::uint64_t target = max_height(3);
  std::cout << "[ figures  ] three validators committed " << target - stopped_at << " blocks in "
            << seconds_since(wait_start) << " s\n";
  const std::size_t votes_before = count_votes(journal);
  EXPECT_GT(votes_before, 0u);

  const auto restart = Clock::now();
  nodes_[3]->start();
  ASSERT_TRUE(
      eventually([&] { return height(3) >= target; }, std::chrono::seconds(120 + blocks / 20)))
      << "the restarted validator did not catch up to height " << target;
  const double catch_up = seconds_since(restart);
  std::cout << "[ figures  ] restarted validator caught up " << target - stopped_at
            << " blocks (to height " << target << ") in " << catch_up << " s from process start\n";
  RecordProperty("catch_up_seconds", std::to_string(catch_up));
  std::cout << nodes_[3]->lines_with({"sync (startup)", "sync: at height"});
  const std::string log = nodes_[3]->log();
  EXPECT_NE(log.find("sync (startup)"), std::string::npos);

  // It votes again: new vote lines after the restart, and it keeps pace with the others.
  ASSERT_TRUE(eventually([&] { return count_votes(journal) >= votes_before + 5; },
                         std::chrono::seconds(60)))
      << "the restarted validator does not vote";
  const std::uint64_t later = target + 5;
  ASSERT_TRUE(eventually([&] { return height(3) >= later && height(0) >= later; }));
  EXPECT_EQ(block_id(3, later), block_id(0, later));
  EXPECT_EQ(block_id(3, stopped_at + blocks / 2), block_id(1, stopped_at + blocks / 2));
  EXPECT_EQ(status(3)["sync_phase"], "consensus");
}

// A running validator that falls far behind (here: frozen with SIGSTOP while the others commit;
// a healed partition looks the same to it) catches up — by its core's block requests or, when a
// peer's tip is catch_up_lag ahead at the next lag check, by leaving consensus, block-syncing
// and starting a new core — and votes again.
TEST_F(SyncNetwork, FrozenValidatorCatchesUpByBlockSyncAtRuntime) {
  freeze_validator_3_for_200_blocks([](std::size_t) { return 64; });
  ASSERT_FALSE(HasFatalFailure());
  const auto resumed = Clock::now();
  ASSERT_TRUE(eventually([&] { return height(3) >= target_; }, std::chrono::seconds(120)))
      << "the frozen validator did not catch up";
  std::cout << "[ figures  ] frozen validator caught up " << target_ - frozen_at_ << " blocks in "
            << seconds_since(resumed) << " s after SIGCONT\n";
  // Which path caught it up depends on timing: consensus's own block requests often fetch 200
  // blocks within the lag check's first second. The next test forces the block-sync path.
  const bool by_block_sync =
      nodes_[3]->log().find("leaving consensus to block-sync") != std::string::npos;
  std::cout << "[ figures  ] caught up by " << (by_block_sync ? "runtime block sync" : "consensus")
            << "\n";
  expect_validator_3_votes_on_the_same_chain();
}

// The same, with a catch-up lag (8) far below the gap (200 blocks): the first lag check after
// SIGCONT (its timer expired during the freeze) asks a peer for its tip before consensus's own
// block requests can fetch the gap, so the validator must take the runtime block-sync path:
// leave consensus, block-sync, start a new core, and vote again without double-signing. (The
// others never leave consensus.)
TEST_F(SyncNetwork, FarBehindValidatorLeavesConsensusToBlockSyncAndRejoins) {
  freeze_validator_3_for_200_blocks([](std::size_t i) { return i == 3 ? 8 : 0; });
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(eventually([&] { return height(3) >= target_; }, std::chrono::seconds(120)))
      << "the frozen validator did not catch up; its log ends:\n"
      << nodes_[3]->log_tail();
  // The runtime sync logs its run when it ends, which may be after the height is reached.
  ASSERT_TRUE(
      eventually([&] { return nodes_[3]->log().find("sync (runtime): ") != std::string::npos; },
                 std::chrono::seconds(60)))
      << "the validator did not take the runtime block-sync path (or its run has not ended); "
         "its log ends:\n"
      << nodes_[3]->log_tail();
  const std::string log = nodes_[3]->log();
  EXPECT_NE(log.find("leaving consensus to block-sync"), std::string::npos);
  const std::size_t run = log.find("sync (runtime): ");
  std::cout << "[ figures  ] " << log.substr(run, log.find('\n', run) - run) << "\n";
  expect_validator_3_votes_on_the_same_chain();
}

TEST_F(SyncNetwork, FullNodeStateSyncsFromACheckpointAndFollows) {
  const std::uint64_t accounts = env_u64("OL_SYNC_ACCOUNTS", 20'000);
  const std::uint64_t interval = env_u64("OL_SYNC_CHECKPOINT_INTERVAL", 100);
  init(4, 1, accounts, [&](std::size_t, NodeConfig& c) {
    c.consensus.empty_block_wait_ms = 0;
    c.sync.checkpoint_interval = interval;
  });
  ASSERT_FALSE(HasFatalFailure());
  for (std::size_t i = 0; i < 4; ++i) nodes_[i]->start();
  // A transfer to a fresh account before the checkpoint: the snapshot must carry it.
  const auto first = crypto::Secp256k1Key::generate().address();
  ASSERT_TRUE(eventually([&] { return height(0) >= 2; }, std::chrono::seconds(300)))
      << "the validators did not start committing";
  ASSERT_FALSE(submit_transfer(0, 0, first).empty());
  // The newest checkpoint is offered once the block after it is committed.
  ASSERT_TRUE(eventually([&] { return max_height(4) >= interval + 3; }, std::chrono::seconds(300)));

  const auto start = Clock::now();
  const std::uint64_t chain_at_start = max_height(4);
  nodes_[4]->start({"--state-sync"});
  ASSERT_TRUE(eventually(
      [&] {
        auto s = status(4);
        return s.is_object() && s.value("sync_phase", "") == "following" &&
               s["height"].get<std::uint64_t>() >= chain_at_start;
      },
      std::chrono::seconds(600)))
      << "the full node did not state-sync and catch up";
  const double joined = seconds_since(start);
  std::cout << "[ figures  ] full node joined (state sync of " << accounts + 1
            << " genesis accounts, then block sync to height " << chain_at_start << ") in "
            << joined << " s from process start\n";
  RecordProperty("join_seconds", std::to_string(joined));
  std::cout << "[ figures  ] validator 0:\n"
            << nodes_[0]->lines_with({"checkpoint:"}) << "[ figures  ] full node:\n"
            << nodes_[4]->lines_with({"state sync", "sync ("});
  const std::string log = nodes_[4]->log();
  EXPECT_NE(log.find("state sync installed the checkpoint"), std::string::npos);
  auto s = status(4);
  EXPECT_EQ(s["validator"], false);

  // Its state is the chain's: a generated account, the transfer before the checkpoint, and one
  // after (it follows the chain).
  EXPECT_EQ(account(4, generated_account(accounts / 2))["balance"],
            account(0, generated_account(accounts / 2))["balance"]);
  EXPECT_EQ(account(4, first)["balance"], "1000");
  const auto second = crypto::Secp256k1Key::generate().address();
  ASSERT_FALSE(submit_transfer(1, 1, second).empty());
  ASSERT_TRUE(eventually([&] { return account(4, second).value("balance", "") == "1000"; }))
      << "the full node does not follow the chain";
  const std::uint64_t h = height(4);
  EXPECT_EQ(block_id(4, h), block_id(0, h));
}

// Full nodes follow on the validators' commit notices (gossip on openliquid/qcs/1.0.0), not on
// their poll: with a 10-minute poll_ms, the full node must still keep up within seconds.
TEST_F(SyncNetwork, FullNodeFollowsOnCommitNoticesNotOnItsPoll) {
  init(4, 1, 0, [&](std::size_t i, NodeConfig& c) {
    if (i == 4) c.sync.poll_ms = 600'000;
  });
  ASSERT_FALSE(HasFatalFailure());
  for (auto& n : nodes_) n->start();
  ASSERT_TRUE(eventually(
      [&] {
        auto s = status(4);
        return s.is_object() && s.value("sync_phase", "") == "following" && max_height(4) >= 3;
      },
      std::chrono::seconds(120)))
      << "the full node did not reach the following phase";
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t target = max_height(4) + 5;
    ASSERT_TRUE(eventually([&] { return max_height(4) >= target; }, std::chrono::seconds(60)))
        << "the validators stopped committing";
    const auto t0 = Clock::now();
    ASSERT_TRUE(eventually([&] { return height(4) >= target; }, std::chrono::seconds(10)))
        << "the full node is at " << height(4) << ", the validators at " << max_height(4)
        << ": it does not follow on commit notices";
    std::cout << "[ figures  ] full node reached height " << target << " "
              << seconds_since(t0) * 1000 << " ms after the validators\n";
  }
  const auto to = crypto::Secp256k1Key::generate().address();
  ASSERT_FALSE(submit_transfer(2, 0, to).empty());
  EXPECT_TRUE(eventually([&] { return account(4, to).value("balance", "") == "1000"; },
                         std::chrono::seconds(10)))
      << "a transfer committed by the validators did not reach the full node";
  const std::uint64_t h = height(4);
  EXPECT_EQ(block_id(4, h), block_id(0, h));
}

}  // namespace
}  // namespace ol::node::test
