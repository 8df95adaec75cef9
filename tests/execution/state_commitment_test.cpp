// The Merkle state commitment as a specification: its root is a function of the account set
// alone, and the ledger's per-block incremental update equals a from-scratch recomputation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "execution/ledger.h"
#include "execution/state_commitment.h"
#include "execution/test_accounts.h"
#include "storage/store.h"
#include "support/temp_dir.h"

namespace ol::execution {
namespace {

using testing::kChainId;
using testing::test_key;
using testing::transfer;
using types::Amount;
using types::TxRef;
namespace fs = std::filesystem;

/// The commitment recomputed from nothing but a list of accounts, the slow obvious way.
Hash32 reference_root(const std::map<crypto::Address, Account>& accounts) {
  std::vector<std::vector<std::pair<Hash32, StateEntry>>> buckets(StateCommitment::kBuckets);
  for (const auto& [address, account] : accounts) {
    const Hash32 key = StateCommitment::key_of(address);
    buckets[StateCommitment::bucket_of(key)].push_back({key, StateEntry{address, account}});
  }
  std::vector<Hash32> leaves;
  for (auto& b : buckets) {
    std::sort(b.begin(), b.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<StateEntry> entries;
    for (const auto& [key, e] : b) entries.push_back(e);
    leaves.push_back(StateCommitment::bucket_hash(entries));
  }
  return StateCommitment::root_of(leaves).value();
}

crypto::Address address_of(std::uint32_t i) {
  crypto::Address a;
  for (std::size_t k = 0; k < 4; ++k) a.bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
  a.bytes[19] = 0x5a;
  return a;
}

TEST(StateCommitment, IncrementalUpdatesEqualFullRecomputeUnderRandomTransfers) {
  // 16 signing keys move funds among themselves and to 3,000 passive addresses (some of which
  // share buckets with each other once there are enough of them).
  std::vector<crypto::Secp256k1Key> keys;
  Genesis g;
  g.chain_id = kChainId;
  for (std::uint8_t i = 0; i < 16; ++i) {
    keys.push_back(test_key(static_cast<std::uint8_t>(10 + i)));
    g.allocations.push_back({keys.back().address(), Amount(1) << 80});
  }
  for (std::uint32_t i = 0; i < 500; ++i) g.allocations.push_back({address_of(i), i});
  auto ledger = std::move(Ledger::in_memory(g)).value();

  std::map<crypto::Address, Account> model;
  for (const auto& a : g.allocations) model[a.account] = Account{a.balance, 0};
  ASSERT_EQ(ledger->state_root(), reference_root(model));

  for (std::uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    std::vector<std::uint64_t> nonces(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) nonces[i] = model[keys[i].address()].nonce;
    for (int block = 0; block < 15; ++block) {
      std::vector<TxRef> txs;
      const int n = static_cast<int>(rng() % 40);  // empty blocks too
      for (int t = 0; t < n; ++t) {
        const std::size_t from = rng() % keys.size();
        const crypto::Address to =
            rng() % 3 == 0 ? keys[rng() % keys.size()].address() : address_of(rng() % 3000);
        const std::uint64_t nonce = rng() % 8 == 0 ? nonces[from] + 1 : nonces[from]++;
        txs.push_back(transfer(keys[from], nonce, to, 1 + rng() % 1000));
      }
      BlockInfo info{ledger->applied_height() + 1, 0, {}};
      auto out = ledger->apply_block(info, txs);
      ASSERT_TRUE(out.ok());
      for (const auto& tx : txs) {
        model[tx->sender] = ledger->account(tx->sender);
        const auto& to = std::get<types::Transfer>(tx->tx.action).to;
        if (model.count(to) || ledger->account(to) != Account{}) model[to] = ledger->account(to);
      }
      for (std::size_t i = 0; i < keys.size(); ++i) nonces[i] = model[keys[i].address()].nonce;
      ASSERT_EQ(out->state_root, reference_root(model)) << "seed " << seed << " block " << block;
    }
  }
  // The ledger's own view of its buckets matches the root it reports.
  EXPECT_EQ(StateCommitment::root_of(ledger->bucket_hashes()).value(), ledger->state_root());
  std::size_t visited = 0;
  ledger->visit_buckets(0, StateCommitment::kBuckets, [&](auto, auto entries) {
    visited += entries.size();
    return true;
  });
  EXPECT_EQ(visited, model.size());
  EXPECT_EQ(visited, ledger->account_count());
}

TEST(StateCommitment, RootDependsOnTheAccountSetOnly) {
  std::map<crypto::Address, Account> a;
  for (std::uint32_t i = 0; i < 2000; ++i) a[address_of(i)] = Account{i, i % 3};
  Genesis g1, g2;
  g1.chain_id = g2.chain_id = kChainId;
  for (const auto& [address, acct] : a) g1.allocations.push_back({address, acct.balance});
  g2.allocations = g1.allocations;
  std::reverse(g2.allocations.begin(), g2.allocations.end());
  auto l1 = std::move(Ledger::in_memory(g1)).value();
  auto l2 = std::move(Ledger::in_memory(g2)).value();
  EXPECT_EQ(l1->state_root(), l2->state_root());
  // Every single change — a balance, a nonce, an extra or a missing account — moves the root.
  std::map<crypto::Address, Account> zero_nonces;
  for (const auto& [address, acct] : a) zero_nonces[address] = Account{acct.balance, 0};
  const Hash32 base = reference_root(zero_nonces);
  EXPECT_EQ(l1->state_root(), base);
  auto m = zero_nonces;
  m[address_of(5)].balance += 1;
  EXPECT_NE(reference_root(m), base);
  m = zero_nonces;
  m[address_of(5)].nonce = 1;
  EXPECT_NE(reference_root(m), base);
  m = zero_nonces;
  m[address_of(99999)] = Account{};
  EXPECT_NE(reference_root(m), base);
  m = zero_nonces;
  m.erase(address_of(7));
  EXPECT_NE(reference_root(m), base);
}

struct TempDir : ol::testing::TempDir {
  TempDir() : ol::testing::TempDir("ol-commit") {}
};

Genesis small_genesis() {
  Genesis g;
  g.chain_id = kChainId;
  for (std::uint32_t i = 0; i < 50; ++i) g.allocations.push_back({address_of(i), 100 + i});
  return g;
}

TEST(StateCommitment, OpenDetectsAccountsThatDoNotMatchTheStoredRoot) {
  TempDir tmp;
  {
    auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
    ASSERT_TRUE(Ledger::open(*store, small_genesis()).ok());
    storage::WriteBatch tamper;  // a valid record with a wrong value: checksums cannot see it
    tamper.put_state(account_key(address_of(3)), encode_account(Account{1, 0}));
    ASSERT_TRUE(store->write(tamper).ok());
  }
  auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
  auto r = Ledger::open(*store, small_genesis());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_NE(r.error().message.find("state root"), std::string::npos) << r.error().message;
}

TEST(StateInstall, InstalledStateOpensWithTheSameRootAndAnUnfinishedOneIsRefused) {
  TempDir tmp;
  auto source = std::move(Ledger::in_memory(small_genesis())).value();
  std::vector<StateEntry> all;
  source->visit_buckets(0, StateCommitment::kBuckets, [&](auto, auto entries) {
    all.insert(all.end(), entries.begin(), entries.end());
    return true;
  });
  {
    auto store = std::move(storage::Store::open(tmp.path() / "half")).value();
    auto install = std::move(StateInstall::begin(*store)).value();
    ASSERT_TRUE(install.add(std::span(all).first(10)).ok());
    auto r = Ledger::open(*store, small_genesis());  // a crash here: refused, not half-loaded
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::state);
    EXPECT_FALSE(StateInstall::begin(*store).ok());
  }
  auto store = std::move(storage::Store::open(tmp.path() / "full")).value();
  auto install = std::move(StateInstall::begin(*store)).value();
  ASSERT_TRUE(install.add(std::span(all).first(20)).ok());
  ASSERT_TRUE(install.add(std::span(all).subspan(20)).ok());
  ASSERT_TRUE(install.finish(small_genesis(), 40, Hash32{}, source->state_root()).ok());
  auto ledger = std::move(Ledger::open(*store, small_genesis())).value();
  EXPECT_EQ(ledger->state_root(), source->state_root());
  EXPECT_EQ(ledger->applied_height(), 40u);
  EXPECT_EQ(ledger->account(address_of(7)), (Account{107, 0}));
}

}  // namespace
}  // namespace ol::execution
