// Snapshots as a specification: a snapshot round-trips the whole state, every chunk and the
// manifest are checked against the certified root, and checkpoints are taken and pruned on
// schedule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "support/certified_chain.h"
#include "support/ground_bucket.h"
#include "support/temp_dir.h"
#include "sync/checkpoints.h"
#include "sync/snapshot.h"

namespace ol::sync {
namespace {

using execution::Account;
using execution::Genesis;
using execution::Ledger;
using testing::ChainBuilder;
using testing::TestValidators;
namespace fs = std::filesystem;

struct TempDir : ol::testing::TempDir {
  TempDir() : ol::testing::TempDir("ol-sync") {}
};

crypto::Address address_of(std::uint32_t i) {
  crypto::Address a;
  for (std::size_t k = 0; k < 4; ++k) a.bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
  a.bytes[10] = 0xee;
  return a;
}

Genesis genesis_with(std::uint32_t accounts) {
  Genesis g;
  g.chain_id = testing::kChainId;
  for (std::uint32_t i = 0; i < accounts; ++i) g.allocations.push_back({address_of(i), 1 + i});
  return g;
}

/// What a joining node ends up with after restoring a snapshot.
struct Restored {
  std::unique_ptr<Ledger> ledger;
  std::size_t accounts = 0;       // installed from the chunks
  std::size_t largest_chunk = 0;  // accounts
  std::size_t largest_wire = 0;   // encoded bytes
};

/// Restores `snap` as a peer would: the manifest and every chunk over the wire and back, each
/// chunk verified against the received manifest, installed into a fresh store under `dir`, and
/// the ledger opened there (which rechecks the root).
void restore(const Snapshot& snap, const Genesis& g, const fs::path& dir, Restored& out) {
  auto manifest = codec::decode_exact<SnapshotManifest>(codec::encode(snap.manifest));
  ASSERT_TRUE(manifest.ok()) << manifest.error().to_string();
  ASSERT_EQ(*manifest, snap.manifest);
  auto store = std::move(storage::Store::open(dir)).value();
  auto install = std::move(execution::StateInstall::begin(*store)).value();
  for (std::uint32_t i = 0; i < snap.chunks.size(); ++i) {
    const Bytes wire = codec::encode(snap.chunks[i]);
    auto chunk = codec::decode_exact<SnapshotChunk>(wire);
    ASSERT_TRUE(chunk.ok());
    auto verdict = verify_chunk(*manifest, i, *chunk);
    ASSERT_TRUE(verdict.ok()) << "chunk " << i << ": " << verdict.error().to_string();
    ASSERT_TRUE(install.add(chunk->entries).ok());
    out.accounts += chunk->entries.size();
    out.largest_chunk = std::max(out.largest_chunk, chunk->entries.size());
    out.largest_wire = std::max(out.largest_wire, wire.size());
  }
  ASSERT_TRUE(install.finish(g, manifest->height, manifest->block_id, manifest->state_root).ok());
  auto ledger = Ledger::open(*store, g);
  ASSERT_TRUE(ledger.ok()) << ledger.error().to_string();
  out.ledger = std::move(*ledger);
}

TEST(SyncSnapshot, RoundTripsOneHundredThousandAccounts) {
  const Genesis g = genesis_with(100'000);
  auto source = std::move(Ledger::in_memory(g)).value();
  Hash32 block_id{};
  block_id[0] = 9;
  Snapshot snap = create_snapshot(*source, 0, block_id);
  ASSERT_TRUE(snap.manifest.validate().ok());
  EXPECT_EQ(snap.manifest.state_root, source->state_root());
  EXPECT_GT(snap.chunks.size(), 3u);  // 100k × 44 B ≈ 4.2 MiB in ~1 MiB chunks

  TempDir tmp;
  Restored r;
  ASSERT_NO_FATAL_FAILURE(restore(snap, g, tmp.path() / "db", r));
  EXPECT_EQ(r.accounts, 100'000u);
  EXPECT_LE(r.largest_wire, kDefaultChunkBytes + 64);
  EXPECT_EQ(r.ledger->state_root(), source->state_root());
  EXPECT_EQ(r.ledger->account_count(), 100'000u);
  EXPECT_EQ(r.ledger->account(address_of(4242)), (Account{4243, 0}));
}

/// 100 addresses in one bucket (ground once per test binary: ~2 s).
const testing::GroundBucket& ground100() {
  static const testing::GroundBucket g = testing::ground_bucket(100, 2);
  return g;
}

/// Chunks of at most 64 accounts: the ground bucket (100) is too large for one.
constexpr std::size_t kSmallChunkBytes = 64 * 44;

Genesis genesis_with_ground(std::uint32_t accounts) {
  Genesis g = genesis_with(accounts);
  for (std::size_t i = 0; i < ground100().addresses.size(); ++i) {
    g.allocations.push_back({ground100().addresses[i], 5 + i});
  }
  return g;
}

TEST(SyncSnapshot, ABucketTooLargeForAChunkIsCutIntoItsSubTrees) {
  const Genesis g = genesis_with_ground(3'000);
  auto source = std::move(Ledger::in_memory(g)).value();
  Snapshot snap = create_snapshot(*source, 0, Hash32{}, kSmallChunkBytes);
  ASSERT_TRUE(snap.manifest.validate().ok()) << snap.manifest.validate().error().to_string();
  // The ground bucket is expanded once (its 16 children hold ~6 accounts each).
  ASSERT_EQ(snap.manifest.expansions.size(), 1u);
  EXPECT_EQ(snap.manifest.expansions[0].bucket, ground100().bucket);
  EXPECT_TRUE(snap.manifest.expansions[0].path.empty());
  auto units = snap.manifest.units();
  ASSERT_TRUE(units.ok());
  EXPECT_EQ(units->size(), execution::StateCommitment::kBuckets + 15);

  // Over the wire and back, checked and installed: the same state.
  TempDir tmp;
  Restored r;
  ASSERT_NO_FATAL_FAILURE(restore(snap, g, tmp.path() / "db", r));
  EXPECT_EQ(r.accounts, 3'100u);
  EXPECT_LE(r.largest_chunk, 64u);
  EXPECT_EQ(r.ledger->state_root(), source->state_root());

  // A chunk of the ground bucket's sub-trees that lost or moved an account is refused.
  std::uint32_t index = 0;
  while (index < snap.chunks.size() &&
         !std::any_of(snap.chunks[index].entries.begin(), snap.chunks[index].entries.end(),
                      [](const auto& e) { return e.address == ground100().addresses[0]; })) {
    ++index;
  }
  ASSERT_LT(index, snap.chunks.size());
  SnapshotChunk c = snap.chunks[index];
  c.entries.pop_back();
  EXPECT_FALSE(verify_chunk(snap.manifest, index, c).ok());
  c = snap.chunks[index];
  c.entries.front().account.balance += 1;
  EXPECT_FALSE(verify_chunk(snap.manifest, index, c).ok());
}

TEST(SyncSnapshot, ASubTreeStillTooLargeForAChunkIsExpandedToo) {
  // 72 accounts sharing 20 key bits: bucket 0 (72 > 64) and its child 0 (72 > 64) both expand.
  Genesis g = genesis_with(300);
  for (const auto& a : testing::deep_ground_addresses()) {
    const Hash32 key = execution::StateCommitment::key_of(a);
    ASSERT_EQ(key[0] | key[1] | (key[2] >> 4), 0) << "not a deep ground address";
    g.allocations.push_back({a, 9});
  }
  auto source = std::move(Ledger::in_memory(g)).value();
  Snapshot snap = create_snapshot(*source, 0, Hash32{}, kSmallChunkBytes);
  ASSERT_TRUE(snap.manifest.validate().ok());
  ASSERT_EQ(snap.manifest.expansions.size(), 2u);
  EXPECT_EQ(snap.manifest.expansions[0].bucket, 0u);
  EXPECT_TRUE(snap.manifest.expansions[0].path.empty());
  EXPECT_EQ(snap.manifest.expansions[1].path, std::vector<std::uint8_t>{0});
  EXPECT_EQ(snap.manifest.units()->size(), execution::StateCommitment::kBuckets + 30);
  TempDir tmp;
  Restored r;
  ASSERT_NO_FATAL_FAILURE(restore(snap, g, tmp.path() / "db", r));
  EXPECT_EQ(r.accounts, 372u);
  EXPECT_LE(r.largest_chunk, 64u);
  EXPECT_EQ(r.ledger->state_root(), source->state_root());

  // The second level's children must hash to the first level's child 0.
  SnapshotManifest m = snap.manifest;
  m.expansions[1].children[0][31] ^= 1;
  EXPECT_FALSE(m.validate().ok());
}

TEST(SyncSnapshot, ExpansionsMustHashToTheNodesTheyExpand) {
  auto source = std::move(Ledger::in_memory(genesis_with_ground(300))).value();
  const Snapshot snap = create_snapshot(*source, 0, Hash32{}, kSmallChunkBytes);
  ASSERT_TRUE(snap.manifest.validate().ok());
  ASSERT_EQ(snap.manifest.expansions.size(), 1u);
  auto refused = [&](auto mutate) {
    SnapshotManifest m = snap.manifest;
    mutate(m);
    return !m.validate().ok();
  };
  EXPECT_TRUE(refused([](SnapshotManifest& m) { m.expansions[0].children[5][0] ^= 1; }));
  EXPECT_TRUE(refused([](SnapshotManifest& m) { m.expansions.clear(); }));  // chunks then overrun
  EXPECT_TRUE(refused([](SnapshotManifest& m) { m.expansions[0].bucket += 1; }));
  EXPECT_TRUE(refused([](SnapshotManifest& m) {  // below a node that is not expanded
    auto x = m.expansions[0];
    x.path = {3};
    m.expansions.push_back(x);
  }));
  EXPECT_TRUE(refused([](SnapshotManifest& m) { m.expansions.push_back(m.expansions[0]); }));
  EXPECT_TRUE(refused([](SnapshotManifest& m) { m.expansions[0].path = {16}; }));
  // A flag announcing expansions must be followed by at least one.
  SnapshotManifest plain = snap.manifest;
  plain.expansions.clear();
  plain.chunks = {ChunkRange{0, execution::StateCommitment::kBuckets}};
  Bytes wire = codec::encode(plain);
  const std::size_t count_at = 8 + 32 + 32 + 4 + 32 * execution::StateCommitment::kBuckets;
  EXPECT_EQ(wire[count_at + 3] & 0x80, 0);  // without expansions: the format as before them
  wire[count_at + 3] |= 0x80;
  for (int i = 0; i < 4; ++i) wire.push_back(0);
  EXPECT_FALSE(codec::decode_exact<SnapshotManifest>(wire).ok());
}

TEST(SyncSnapshot, ACorruptedChunkIsRejected) {
  auto source = std::move(Ledger::in_memory(genesis_with(5'000))).value();
  Snapshot snap = create_snapshot(*source, 0, Hash32{}, 16 * 1024);
  ASSERT_GE(snap.chunks.size(), 3u);
  const SnapshotChunk& good = snap.chunks[1];
  ASSERT_TRUE(verify_chunk(snap.manifest, 1, good).ok());

  auto rejected = [&](auto mutate) {
    SnapshotChunk c = good;
    mutate(c);
    return !verify_chunk(snap.manifest, 1, c).ok();
  };
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries[3].account.balance += 1; }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries[3].account.nonce = 7; }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries.pop_back(); }));  // missing account
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries.erase(c.entries.begin()); }));
  EXPECT_TRUE(rejected([&](SnapshotChunk& c) {  // an extra account from another chunk
    c.entries.push_back(snap.chunks[2].entries.front());
  }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { std::swap(c.entries[0], c.entries[1]); }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries.push_back(c.entries.back()); }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.range.count += 1; }));
  EXPECT_TRUE(rejected([](SnapshotChunk& c) { c.entries[0].address.bytes[19] ^= 1; }));
  EXPECT_FALSE(verify_chunk(snap.manifest, 2, good).ok());    // right chunk, wrong index
  EXPECT_FALSE(verify_chunk(snap.manifest, 999, good).ok());  // no such index
}

TEST(SyncSnapshot, TheManifestMustMatchItsCertifiedAnchor) {
  const auto validators = TestValidators::make(4);
  ChainBuilder chain(validators, genesis_with(300));
  auto b1 = chain.next({});
  auto b2 = chain.next({});
  Snapshot snap = create_snapshot(chain.ledger(), 2, b2.qc.block_id);
  auto b3 = chain.next({});  // carries the root after height 2
  const SnapshotAnchor anchor{b3.block, b3.qc};
  const auto& set = validators.set;
  ASSERT_TRUE(verify_manifest(snap.manifest, anchor, set, testing::genesis_id()).ok());

  auto manifest_rejected = [&](auto mutate) {
    SnapshotManifest m = snap.manifest;
    mutate(m);
    return !verify_manifest(m, anchor, set, testing::genesis_id()).ok();
  };
  EXPECT_TRUE(manifest_rejected([](SnapshotManifest& m) { m.bucket_hashes[123][0] ^= 1; }));
  EXPECT_TRUE(manifest_rejected([](SnapshotManifest& m) { m.state_root[0] ^= 1; }));
  EXPECT_TRUE(manifest_rejected([](SnapshotManifest& m) { m.height = 1; }));
  EXPECT_TRUE(manifest_rejected([&](SnapshotManifest& m) { m.block_id = b1.qc.block_id; }));
  EXPECT_TRUE(manifest_rejected([](SnapshotManifest& m) { m.chunks.back().count -= 1; }));
  EXPECT_TRUE(manifest_rejected([](SnapshotManifest& m) { m.bucket_hashes.pop_back(); }));
  // A self-consistent manifest for another state: the anchor's root gives it away.
  auto other = std::move(Ledger::in_memory(genesis_with(301))).value();
  EXPECT_FALSE(verify_manifest(create_snapshot(*other, 2, b2.qc.block_id).manifest, anchor, set,
                               testing::genesis_id())
                   .ok());

  auto anchor_rejected = [&](auto mutate) {
    SnapshotAnchor a = anchor;
    mutate(a);
    return !verify_manifest(snap.manifest, a, set, testing::genesis_id()).ok();
  };
  const auto outsiders = TestValidators::make(4, 100);
  EXPECT_TRUE(anchor_rejected([&](SnapshotAnchor& a) { a.qc = outsiders.certify(a.block); }));
  EXPECT_TRUE(anchor_rejected([&](SnapshotAnchor& a) { a.qc = b2.qc; }));
  EXPECT_TRUE(anchor_rejected([&](SnapshotAnchor& a) {  // re-rooted block, QC of the original
    a.block.exec_roots.back()[0] ^= 1;
  }));
  EXPECT_TRUE(anchor_rejected([&](SnapshotAnchor& a) {  // the right root in an uncertified block
    a = SnapshotAnchor{b2.block, b2.qc};
  }));
}

// A node cuts a checkpoint between blocks (root, bucket hashes, a view of the stored state) and
// builds it on another thread while blocks keep committing: the result must be exactly the
// snapshot of the ledger at the cut's height.
TEST(SyncSnapshot, ACutBuiltAfterLaterCommitsIsTheSnapshotAtItsHeight) {
  TempDir tmp;
  auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
  const auto validators = TestValidators::make(4);
  Genesis g = genesis_with_ground(3'000);  // one bucket too large for a 64-account chunk
  std::vector<crypto::Secp256k1Key> keys;
  for (std::uint8_t i = 0; i < 4; ++i) {
    keys.push_back(
        *crypto::Secp256k1Key::from_secret(Bytes(32, static_cast<std::uint8_t>(70 + i))));
    g.allocations.push_back({keys.back().address(), types::Amount(1) << 60});
  }
  auto ledger = std::move(Ledger::open(*store, g)).value();  // stored, as a node's
  ChainBuilder chain(validators, g);
  std::vector<std::uint64_t> nonces(keys.size(), 0);
  std::mt19937 rng(11);
  auto commit_next = [&] {
    std::vector<types::Transaction> txs;
    for (int t = 0; t < 40; ++t) {
      const std::size_t from = rng() % keys.size();
      // Half to existing accounts, half to new ones (new buckets entries, reordered slots).
      const crypto::Address to = address_of(rng() % 6'000);
      txs.push_back(types::Transaction::sign(testing::kChainId, nonces[from]++,
                                             types::Transfer{to, 1 + rng() % 500}, keys[from]));
    }
    auto c = chain.next(std::move(txs));
    auto outcome = testing::execute_block(*ledger, c.block);
    EXPECT_TRUE(outcome.ok());
    EXPECT_TRUE(testing::commit_to_store(*store, c, outcome->writes).ok());
    return c;
  };
  for (int i = 0; i < 5; ++i) commit_next();
  auto at5 = commit_next();
  const Snapshot expected = create_snapshot(*ledger, 6, at5.qc.block_id, kSmallChunkBytes);
  StateCut cut = cut_state(*ledger, *store, 6, at5.qc.block_id);
  for (int i = 0; i < 6; ++i) commit_next();  // the ledger and the store move on
  ASSERT_NE(ledger->state_root(), expected.manifest.state_root);

  auto built = create_snapshot(cut, kSmallChunkBytes);
  ASSERT_TRUE(built.ok()) << built.error().to_string();
  EXPECT_EQ(built->manifest, expected.manifest);
  EXPECT_FALSE(built->manifest.expansions.empty());
  ASSERT_EQ(built->chunks.size(), expected.chunks.size());
  EXPECT_GT(built->chunks.size(), 3u);
  for (std::uint32_t i = 0; i < built->chunks.size(); ++i) {
    EXPECT_EQ(built->chunks[i], expected.chunks[i]) << "chunk " << i;
    EXPECT_TRUE(verify_chunk(built->manifest, i, built->chunks[i]).ok()) << "chunk " << i;
  }
  // A cut now is the current state, not the old one.
  auto now = create_snapshot(cut_state(*ledger, *store, 12, Hash32{}), kSmallChunkBytes);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->manifest.state_root, ledger->state_root());
  EXPECT_NE(now->chunks, expected.chunks);
}

TEST(SyncCheckpoints, TakenEveryIntervalAndPrunedToTheNewest) {
  TempDir tmp;
  auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
  const auto validators = TestValidators::make(4);
  ChainBuilder chain(validators, genesis_with(2'000));
  Checkpoints checkpoints(*store, CheckpointConfig{.interval = 10, .keep = 2, .chunk_bytes = 8192});
  std::map<std::uint64_t, Hash32> roots;
  for (int i = 0; i < 35; ++i) {
    std::vector<types::Transaction> txs;
    auto c = chain.next(std::move(txs));
    auto taken = checkpoints.on_commit(chain.ledger(), c.block.height, c.qc.block_id);
    ASSERT_TRUE(taken.ok());
    EXPECT_EQ(taken->has_value(), c.block.height % 10 == 0);
    roots[c.block.height] = chain.ledger().state_root();
  }
  EXPECT_EQ(checkpoints.heights().value(), (std::vector<std::uint64_t>{20, 30}));
  auto m = checkpoints.manifest(30).value();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->state_root, roots[30]);
  EXPECT_GT(m->chunks.size(), 5u);
  for (std::uint32_t i = 0; i < m->chunks.size(); ++i) {
    auto raw = checkpoints.chunk(30, i).value();
    ASSERT_TRUE(raw.has_value());
    auto chunk = codec::decode_exact<SnapshotChunk>(*raw);
    ASSERT_TRUE(chunk.ok());
    EXPECT_TRUE(verify_chunk(*m, i, *chunk).ok());
  }
  EXPECT_FALSE(checkpoints.chunk(10, 0).value().has_value());           // pruned with its manifest
  EXPECT_FALSE(checkpoints.create(chain.ledger(), 34, Hash32{}).ok());  // ledger is at 35

  // A snapshot no peer could decode (too many expansions) is refused, not stored.
  Snapshot unservable = create_snapshot(chain.ledger(), 40, Hash32{}, 8192);
  unservable.manifest.expansions.resize(SnapshotManifest::kMaxExpansions + 1);
  auto refused = checkpoints.write(std::move(unservable));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("more than a manifest may list"), std::string::npos);
  EXPECT_EQ(checkpoints.heights().value(), (std::vector<std::uint64_t>{20, 30}));
}

}  // namespace
}  // namespace ol::sync
