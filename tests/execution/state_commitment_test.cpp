// The Merkle state commitment as a specification: its root is a function of the account set
// alone, and the ledger's per-block incremental update equals a from-scratch recomputation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <random>

#include "crypto/hash.h"
#include "execution/account_tree.h"
#include "execution/ledger.h"
#include "execution/state_commitment.h"
#include "execution/test_accounts.h"
#include "storage/store.h"
#include "support/ground_bucket.h"
#include "support/temp_dir.h"

namespace ol::execution {
namespace {

using testing::kChainId;
using testing::test_key;
using testing::transfer;
using types::Amount;
using types::TxRef;
namespace fs = std::filesystem;

using Keyed = std::pair<Hash32, StateEntry>;

/// sub(S, depth) as state_commitment.h defines it, written out again the slow obvious way:
/// `s` holds keys sharing their first `depth` bits, in any order.
Hash32 reference_sub(std::vector<Keyed> s, unsigned depth) {
  std::sort(s.begin(), s.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  if (s.size() <= 64) {
    std::vector<StateEntry> entries;
    for (const auto& [key, e] : s) entries.push_back(e);
    return StateCommitment::leaf_hash(entries);
  }
  std::array<std::vector<Keyed>, 16> children;
  for (const auto& k : s) {
    const std::uint8_t byte = k.first[depth / 8];
    children[depth % 8 == 0 ? byte >> 4 : byte & 15].push_back(k);
  }
  Bytes all;
  for (auto& c : children) {
    const Hash32 h = reference_sub(std::move(c), depth + 4);
    all.insert(all.end(), h.begin(), h.end());
  }
  return crypto::tagged_hash("openliquid/state/split/v1", all);
}

/// The commitment over accounts at the given keys (normally key_of(address)).
Hash32 reference_root_keyed(const std::vector<Keyed>& keyed) {
  std::vector<std::vector<Keyed>> buckets(StateCommitment::kBuckets);
  for (const auto& k : keyed) buckets[StateCommitment::bucket_of(k.first)].push_back(k);
  std::vector<Hash32> leaves;
  for (auto& b : buckets) leaves.push_back(reference_sub(std::move(b), 16));
  return StateCommitment::root_of(leaves).value();
}

/// The commitment recomputed from nothing but a list of accounts.
Hash32 reference_root(const std::map<crypto::Address, Account>& accounts) {
  std::vector<Keyed> keyed;
  for (const auto& [address, account] : accounts) {
    keyed.push_back({StateCommitment::key_of(address), StateEntry{address, account}});
  }
  return reference_root_keyed(keyed);
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

TEST(StateCommitment, ABucketOfUpTo64AccountsIsTheFlatLeafAndALargerOneSplits) {
  // Keys sharing their first 16 bits (one bucket), otherwise random.
  std::mt19937_64 rng(5);
  std::vector<Hash32> keys(65);
  std::vector<StateEntry> entries(65);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (auto& byte : keys[i]) byte = static_cast<std::uint8_t>(rng());
    keys[i][0] = 0x12;
    keys[i][1] = 0x34;
    entries[i] = StateEntry{address_of(static_cast<std::uint32_t>(i)), Account{i, 0}};
  }
  std::sort(keys.begin(), keys.end());
  const auto some = [&](std::size_t n) {
    return std::pair(std::span<const StateEntry>(entries).first(n),
                     std::span<const Hash32>(keys).first(n));
  };
  auto [e64, k64] = some(64);
  EXPECT_EQ(StateCommitment::subtree_hash(e64, k64, 16), StateCommitment::leaf_hash(e64));
  auto [e65, k65] = some(65);
  const Hash32 split = StateCommitment::subtree_hash(e65, k65, 16);
  EXPECT_NE(split, StateCommitment::leaf_hash(e65));
  std::vector<Keyed> keyed;
  for (std::size_t i = 0; i < 65; ++i) keyed.push_back({keys[i], entries[i]});
  EXPECT_EQ(split, reference_sub(keyed, 16));
}

TEST(StateCommitment, AGroundBucketIsASubTreeTheLedgerKeepsIncrementally) {
  // 110 addresses in one bucket: 40 from genesis (a flat leaf), the rest created by transfers,
  // so the bucket turns into a split node part-way through a block.
  const auto ground = ol::testing::ground_bucket(110, 1);
  const auto key = test_key(3);
  Genesis g;
  g.chain_id = kChainId;
  g.allocations.push_back({key.address(), Amount(1) << 80});
  for (std::size_t i = 0; i < 40; ++i) g.allocations.push_back({ground.addresses[i], 1 + i});
  auto ledger = std::move(Ledger::in_memory(g)).value();
  std::map<crypto::Address, Account> model;
  for (const auto& a : g.allocations) model[a.account] = Account{a.balance, 0};
  ASSERT_EQ(ledger->state_root(), reference_root(model));

  std::mt19937 rng(11);
  std::uint64_t nonce = 0;
  std::size_t next = 40;
  for (int block = 0; block < 10; ++block) {
    std::vector<TxRef> txs;
    for (int t = 0; t < 7; ++t) {
      // A new ground address, and an old one again.
      txs.push_back(transfer(key, nonce++, ground.addresses[next++], 1 + rng() % 100));
      txs.push_back(transfer(key, nonce++, ground.addresses[rng() % next], 1 + rng() % 100));
    }
    auto out = ledger->apply_block(BlockInfo{ledger->applied_height() + 1, 0, {}}, txs);
    ASSERT_TRUE(out.ok());
    model[key.address()] = ledger->account(key.address());
    for (const auto& tx : txs) {
      const auto& to = std::get<types::Transfer>(tx->tx.action).to;
      model[to] = ledger->account(to);
    }
    ASSERT_EQ(out->state_root, reference_root(model)) << "block " << block;
  }
  // The bucket holds all 110 and hashes as a split node, not as the flat leaf.
  std::vector<StateEntry> entries;
  ledger->visit_buckets(ground.bucket, ground.bucket + 1, [&](auto, auto e) {
    entries.assign(e.begin(), e.end());
    return true;
  });
  ASSERT_EQ(entries.size(), 110u);
  EXPECT_NE(ledger->bucket_hashes()[ground.bucket], StateCommitment::leaf_hash(entries));
  EXPECT_EQ(ledger->bucket_hashes()[ground.bucket], StateCommitment::bucket_hash(entries));
}

TEST(StateCommitment, TwoSplitLevelsOfRealKeysMatchTheReference) {
  // 72 addresses sharing 20 key bits: bucket 0 splits, and so does its child 0.
  const auto key = test_key(4);
  Genesis g;
  g.chain_id = kChainId;
  g.allocations.push_back({key.address(), Amount(1) << 80});
  const auto deep = ol::testing::deep_ground_addresses();
  for (std::size_t i = 0; i < 60; ++i) g.allocations.push_back({deep[i], 1 + i});
  auto ledger = std::move(Ledger::in_memory(g)).value();
  std::map<crypto::Address, Account> model;
  for (const auto& a : g.allocations) model[a.account] = Account{a.balance, 0};
  ASSERT_EQ(ledger->state_root(), reference_root(model));
  // The last 12 arrive by transfer: bucket 0 passes 64 inside this block and splits, and its
  // child 0 (all 72) with it.
  std::vector<TxRef> txs;
  for (std::size_t i = 60; i < deep.size(); ++i) {
    txs.push_back(transfer(key, i - 60, deep[i], 5));
    txs.push_back(transfer(key, i - 60 + 12, deep[i - 60], 1));
  }
  auto out = ledger->apply_block(BlockInfo{1, 0, {}}, txs);
  ASSERT_TRUE(out.ok());
  for (const auto& tx : txs) {
    const auto& to = std::get<types::Transfer>(tx->tx.action).to;
    model[to] = ledger->account(to);
  }
  model[key.address()] = ledger->account(key.address());
  EXPECT_EQ(model.size(), 73u);
  EXPECT_EQ(out->state_root, reference_root(model));
}

/// `count` slots in bucket 0x0102 (keys otherwise random), the first `deep` of which also share
/// the next 12 bits, so the bucket splits at least 3 levels deep there; accounts for each.
std::vector<AccountTree::Slot> crowded_slots(std::size_t count, std::size_t deep,
                                             std::uint64_t seed, std::uint32_t first_address,
                                             AccountMap& accounts) {
  std::mt19937_64 rng(seed);
  std::vector<AccountTree::Slot> slots;
  for (std::size_t i = 0; i < count; ++i) {
    AccountTree::Slot s;
    for (auto& byte : s.key) byte = static_cast<std::uint8_t>(rng());
    s.key[0] = 0x01;
    s.key[1] = 0x02;
    if (i < deep) {
      s.key[2] = 0xab;
      s.key[3] = static_cast<std::uint8_t>(0xc0 | (s.key[3] & 0x0f));
    }
    s.address = address_of(first_address + static_cast<std::uint32_t>(i));
    accounts[s.address] = Account{rng() % 1000, rng() % 5};
    slots.push_back(s);
  }
  return slots;
}

std::vector<Keyed> keyed_of(const std::vector<AccountTree::Slot>& slots,
                            const AccountMap& accounts) {
  std::vector<Keyed> keyed;
  for (const auto& s : slots)
    keyed.push_back({s.key, StateEntry{s.address, accounts.at(s.address)}});
  return keyed;
}

TEST(AccountTree, ATouchInACrowdedBucketHashesOneLeafAndItsSplitNodesNotTheBucket) {
  AccountMap accounts;
  auto slots = crowded_slots(20'000, 3'000, 1, 0, accounts);
  AccountTree tree;
  tree.rebuild(slots, accounts);
  EXPECT_EQ(tree.root(), reference_root_keyed(keyed_of(slots, accounts)));
  EXPECT_EQ(tree.bucket_size(0x0102), 20'000u);
  const unsigned levels = tree.max_split_levels();
  EXPECT_GE(levels, 4u);  // 16 bits shared by all, 12 more by 3,000 of them

  // One account changes: one leaf of at most 64 accounts and a split node per level.
  const std::uint64_t flat = 4 + 20'000 * 44;
  const std::uint64_t bound = 4 + 64 * 44 + levels * 16 * 32;
  for (std::size_t i : {0ul, 2'999ul, 3'000ul, 19'999ul}) {
    accounts[slots[i].address].balance += 7;
    tree.touch(slots[i]);
    tree.rehash(accounts);
    EXPECT_LE(tree.last_rehash_bytes(), bound) << "slot " << i;
    EXPECT_LT(tree.last_rehash_bytes() * 100, flat) << "slot " << i;
    EXPECT_EQ(tree.root(), reference_root_keyed(keyed_of(slots, accounts))) << "slot " << i;
  }
}

TEST(AccountTree, IncrementalTouchesAndInsertsEqualARebuildFromScratch) {
  AccountMap accounts;
  auto slots = crowded_slots(3'000, 400, 2, 0, accounts);
  // Ordinary accounts spread over the other buckets too.
  for (std::uint32_t i = 0; i < 2'000; ++i) {
    const crypto::Address a = address_of(100'000 + i);
    accounts[a] = Account{i, 0};
    slots.push_back(AccountTree::Slot{StateCommitment::key_of(a), a});
  }
  AccountTree tree;
  tree.rebuild(slots, accounts);
  std::mt19937_64 rng(3);
  std::uint32_t next_address = 200'000;
  for (int round = 0; round < 20; ++round) {
    // New crowded accounts (some deep), and changes to old ones, in random order.
    AccountMap fresh;
    auto added = crowded_slots(150, 30, 100 + round, next_address, fresh);
    next_address += 150;
    for (const auto& s : added) {
      accounts[s.address] = fresh.at(s.address);
      tree.touch(s);
      slots.push_back(s);
      const auto& old = slots[rng() % slots.size()];
      accounts[old.address].nonce += 1;
      tree.touch(old);
    }
    tree.rehash(accounts);
    AccountTree scratch;
    scratch.rebuild(slots, accounts);
    ASSERT_EQ(tree.root(), scratch.root()) << "round " << round;
    ASSERT_EQ(tree.root(), reference_root_keyed(keyed_of(slots, accounts))) << "round " << round;
  }
  std::vector<StateEntry> entries;
  tree.bucket_entries(0x0102, accounts, entries);
  EXPECT_EQ(entries.size(), 3'000u + 20 * 150);
  // In commitment order: ascending (synthetic) key.
  std::map<crypto::Address, Hash32> key_at;
  for (const auto& s : slots) key_at[s.address] = s.key;
  for (std::size_t i = 1; i < entries.size(); ++i) {
    ASSERT_LT(key_at.at(entries[i - 1].address), key_at.at(entries[i].address)) << i;
  }
}

}  // namespace
}  // namespace ol::execution
