// Hot paths of execution v0 and the mempool: applying a block of 1,000 transfers (and persisting
// it), admitting transactions (dominated by signature recovery, which happens once), and one
// touched account in a bucket crowded on purpose (the sub-tree against the flat rehash).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "execution/account_tree.h"
#include "execution/ledger.h"
#include "mempool/mempool.h"
#include "storage/store.h"

namespace {

using namespace ol;

constexpr std::uint64_t kChain = 1;
constexpr int kSenders = 100;

std::vector<crypto::Secp256k1Key> keys() {
  std::vector<crypto::Secp256k1Key> out;
  for (int i = 0; i < kSenders; ++i) {
    out.push_back(*crypto::Secp256k1Key::from_secret(Bytes(32, static_cast<std::uint8_t>(i + 1))));
  }
  return out;
}

execution::Genesis genesis(const std::vector<crypto::Secp256k1Key>& ks) {
  execution::Genesis g;
  g.chain_id = kChain;
  for (const auto& k : ks) g.allocations.push_back({k.address(), types::Amount(1) << 80});
  return g;
}

// `blocks` blocks of 1,000 transfers: each sender sends 10 per block to a fresh-ish recipient.
std::vector<std::vector<types::TxRef>> make_blocks(const std::vector<crypto::Secp256k1Key>& ks,
                                                   int blocks) {
  std::vector<std::vector<types::TxRef>> out(static_cast<std::size_t>(blocks));
  for (int b = 0; b < blocks; ++b) {
    for (int j = 0; j < 10; ++j) {
      for (int s = 0; s < kSenders; ++s) {
        crypto::Address to;
        to.bytes.fill(static_cast<std::uint8_t>(j));
        to.bytes[0] = static_cast<std::uint8_t>(s);
        auto tx = types::Transaction::sign(kChain, static_cast<std::uint64_t>(b * 10 + j),
                                           types::Transfer{to, 1}, ks[static_cast<std::size_t>(s)]);
        out[static_cast<std::size_t>(b)].push_back(
            std::make_shared<const types::VerifiedTransaction>(
                *types::VerifiedTransaction::verify(std::move(tx), kChain)));
      }
    }
  }
  return out;
}

void BM_ApplyBlock1000Transfers(benchmark::State& state) {
  auto ks = keys();
  auto blocks = make_blocks(ks, 8);
  for (auto _ : state) {
    state.PauseTiming();
    auto ledger = std::move(execution::Ledger::in_memory(genesis(ks))).value();
    state.ResumeTiming();
    for (const auto& txs : blocks) {
      auto out = ledger->apply_block({ledger->applied_height() + 1, 0, {}}, txs);
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(state.iterations() * 8 * 1000);
}
BENCHMARK(BM_ApplyBlock1000Transfers)->Unit(benchmark::kMillisecond);

// Apply plus the RocksDB write of block + state in one (buffered) batch.
void BM_ApplyAndPersistBlock1000Transfers(benchmark::State& state) {
  auto ks = keys();
  auto blocks = make_blocks(ks, 8);
  auto dir =
      std::filesystem::temp_directory_path() / ("ol-bench-exec-" + std::to_string(::getpid()));
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    auto store = std::move(storage::Store::open(dir)).value();
    auto ledger = std::move(execution::Ledger::open(*store, genesis(ks))).value();
    state.ResumeTiming();
    for (const auto& txs : blocks) {
      execution::BlockInfo info{ledger->applied_height() + 1, 0, {}};
      info.block_id[0] = static_cast<std::uint8_t>(info.height);
      auto out = ledger->apply_block(info, txs);
      storage::WriteBatch batch;
      batch.put_block(info.block_id, Bytes(150 * 1000, 0));
      batch.commit_block(info.height, info.block_id);
      batch.append(out->writes);
      if (!store->write(batch).ok()) state.SkipWithError("write failed");
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * 8 * 1000);
}
BENCHMARK(BM_ApplyAndPersistBlock1000Transfers)->Unit(benchmark::kMillisecond);

// A store in a fresh temporary directory of its own, removed with it.
struct ScratchStore {
  explicit ScratchStore(const std::string& name)
      : dir(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    store = std::move(storage::Store::open(dir)).value();
  }
  ~ScratchStore() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  std::unique_ptr<storage::Store> store;
};

// A block id that names its height.
Hash32 block_id_at(std::uint64_t height) {
  Hash32 id{};
  std::memcpy(id.data(), &height, sizeof height);
  return id;
}

// 400 state keys as the ledger writes accounts ("a/" and a 20-byte address), at random.
std::vector<Bytes> hot_account_keys(std::mt19937_64& rng) {
  std::vector<Bytes> out;
  for (int i = 0; i < 400; ++i) {
    Bytes key = to_bytes(as_bytes(std::string_view("a/")));
    for (int j = 0; j < 20; ++j) key.push_back(static_cast<std::uint8_t>(rng()));
    out.push_back(std::move(key));
  }
  return out;
}

// The storage side of a node's commits under load, as the memtable sees it: a long run of blocks
// against one store, each writing 300 of 400 hot accounts (so each account gains a version per
// block it is in), 170 transaction records at fresh random keys, the state root and the height.
// Per block; the memtable fills over the run as a node's does between flushes.
void BM_StoreCommitWritesHotAccounts(benchmark::State& state) {
  ScratchStore scratch("ol-bench-store");
  storage::Store& store = *scratch.store;
  std::mt19937_64 rng(1);
  const std::vector<Bytes> accounts = hot_account_keys(rng);
  const Bytes account_value(48, 7), record_value(60, 9);
  std::uint64_t height = 0;
  for (auto _ : state) {
    ++height;
    storage::WriteBatch batch;
    for (int i = 0; i < 300; ++i) batch.put_state(accounts[rng() % accounts.size()], account_value);
    for (int i = 0; i < 170; ++i) {
      std::string name = "t/";
      for (int j = 0; j < 32; ++j) name.push_back(static_cast<char>(rng()));
      batch.put_meta(name, record_value);
    }
    batch.put_state(as_bytes(std::string_view("m/root")),
                    Bytes(32, static_cast<std::uint8_t>(height)));
    const Hash32 id = block_id_at(height);
    batch.put_block(id, Bytes(200, 0));
    batch.commit_block(height, id);
    if (!store.write(batch).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 170);
}
BENCHMARK(BM_StoreCommitWritesHotAccounts)->Unit(benchmark::kMicrosecond)->Iterations(4000);

// An ordered scan of the state column (a checkpoint's read, a node's start-up) while the memtable
// holds 2,000 blocks' writes of 300 of 400 hot accounts: ~600,000 versions of 400 keys.
void BM_StoreScanStateOverHotMemtable(benchmark::State& state) {
  ScratchStore scratch("ol-bench-scan");
  storage::Store& store = *scratch.store;
  std::mt19937_64 rng(2);
  const std::vector<Bytes> accounts = hot_account_keys(rng);
  for (std::uint64_t height = 1; height <= 2000; ++height) {
    storage::WriteBatch batch;
    for (int i = 0; i < 300; ++i) batch.put_state(accounts[rng() % accounts.size()], Bytes(48, 7));
    batch.commit_block(height, block_id_at(height));
    if (!store.write(batch).ok()) state.SkipWithError("write failed");
  }
  std::size_t seen = 0;
  for (auto _ : state) {
    seen = 0;
    auto s = store.for_each_state(as_bytes(std::string_view("a/")), [&](ByteView, ByteView) {
      ++seen;
      return true;
    });
    if (!s.ok() || seen != accounts.size()) state.SkipWithError("scan failed");
  }
}
BENCHMARK(BM_StoreScanStateOverHotMemtable)->Unit(benchmark::kMillisecond)->Iterations(10);

// Admission of fresh transactions: decode, hash, dedup, recover (~the whole cost), insert.
void BM_MempoolAdmit(benchmark::State& state) {
  auto ks = keys();
  std::vector<Bytes> encoded;
  for (std::uint64_t n = 0; n < 20; ++n) {
    for (const auto& k : ks) {
      crypto::Address to;
      encoded.push_back(
          codec::encode(types::Transaction::sign(kChain, n, types::Transfer{to, 1}, k)));
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    mempool::Mempool pool(kChain, {}, [](const crypto::Address&) {
      return mempool::CommittedAccount{0, ~types::Amount{0}};
    });
    state.ResumeTiming();
    for (const auto& e : encoded) benchmark::DoNotOptimize(pool.add_encoded(e));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(encoded.size()));
}
BENCHMARK(BM_MempoolAdmit)->Unit(benchmark::kMillisecond);

// A duplicate (gossip echo) is answered before signature recovery.
void BM_MempoolDuplicate(benchmark::State& state) {
  auto ks = keys();
  mempool::Mempool pool(kChain, {}, [](const crypto::Address&) {
    return mempool::CommittedAccount{0, ~types::Amount{0}};
  });
  crypto::Address to;
  auto e = codec::encode(types::Transaction::sign(kChain, 0, types::Transfer{to, 1}, ks[0]));
  (void)pool.add_encoded(e);
  for (auto _ : state) benchmark::DoNotOptimize(pool.add_encoded(e));
}
BENCHMARK(BM_MempoolDuplicate);

void BM_MempoolBuildBatch(benchmark::State& state) {
  auto ks = keys();
  mempool::Mempool pool(kChain, {}, [](const crypto::Address&) {
    return mempool::CommittedAccount{0, ~types::Amount{0}};
  });
  for (const auto& txs : make_blocks(ks, 5)) {
    for (const auto& tx : txs) (void)pool.add_verified(tx);
  }
  for (auto _ : state) {
    auto batch = pool.build_batch({.max_txs = 1000});
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_MempoolBuildBatch)->Unit(benchmark::kMicrosecond);

// A pool's life at steady state, without signature recovery (its cost is BM_MempoolAdmit's):
// blocks of 1,000 verified transfers from 400 senders pooled (add_verified, as a proposal's
// are), taken for a proposal (build_batch) and committed (remove_committed), with the pool's
// memory of committed ids full (Limits::recent_committed, 131,072). Ids and senders are
// synthetic: every table keyed by them is one the keyed hashes (crypto::Hash32Hasher,
// AddressHasher) serve, as on a validator.
void BM_MempoolPoolAndCommit1000(benchmark::State& state) {
  constexpr std::size_t kBlock = 1000;
  constexpr std::size_t kSendersHere = 400;
  std::vector<crypto::Address> senders(kSendersHere);
  for (std::size_t i = 0; i < kSendersHere; ++i) std::memcpy(senders[i].bytes.data(), &i, sizeof i);
  std::unordered_map<crypto::Address, std::uint64_t, crypto::AddressHasher> nonces;
  mempool::Mempool pool(kChain, {}, [&nonces](const crypto::Address& a) {
    auto it = nonces.find(a);
    return mempool::CommittedAccount{it == nonces.end() ? 0 : it->second, ~types::Amount{0}};
  });
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> next(kSendersHere, 0);
  auto make_block = [&] {
    std::vector<types::TxRef> block;
    block.reserve(kBlock);
    for (std::size_t i = 0; i < kBlock; ++i) {
      const std::size_t s = i % kSendersHere;
      types::Transaction tx;
      tx.chain_id = kChain;
      tx.nonce = next[s]++;
      tx.action = types::Transfer{senders[(s + 1) % kSendersHere], 1};
      Hash32 id;
      for (std::size_t w = 0; w < id.size(); w += 8) {
        const std::uint64_t r = rng();
        std::memcpy(id.data() + w, &r, 8);
      }
      block.push_back(std::make_shared<const types::VerifiedTransaction>(
          types::VerifiedTransaction{std::move(tx), senders[s], id, 120}));
    }
    return block;
  };
  auto run_block = [&](const std::vector<types::TxRef>& block) {
    for (const auto& tx : block) benchmark::DoNotOptimize(pool.add_verified(tx));
    benchmark::DoNotOptimize(pool.build_batch({.max_txs = kBlock}));
    for (const auto& tx : block) nonces[tx->sender] = tx->tx.nonce + 1;
    pool.remove_committed(block);
  };
  // Fill the memory of committed ids first, so that every commit also forgets the oldest.
  for (std::size_t b = 0; b < 140; ++b) run_block(make_block());
  for (auto _ : state) {
    state.PauseTiming();
    auto block = make_block();
    state.ResumeTiming();
    run_block(block);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBlock));
}
BENCHMARK(BM_MempoolPoolAndCommit1000)->Unit(benchmark::kMicrosecond);

// A bucket filled on purpose (addresses ground to share 16 key bits; here synthetic keys) with
// 100,000 accounts: what one changed account costs to rehash. The sub-tree rehashes one leaf and
// its split nodes; the flat form (the commitment before sub-trees) hashed the whole bucket.
constexpr std::size_t kCrowded = 100'000;

std::vector<execution::AccountTree::Slot> crowded(execution::AccountMap& accounts) {
  std::mt19937_64 rng(1);
  std::vector<execution::AccountTree::Slot> slots(kCrowded);
  for (std::size_t i = 0; i < kCrowded; ++i) {
    for (auto& byte : slots[i].key) byte = static_cast<std::uint8_t>(rng());
    slots[i].key[0] = 0x42;
    slots[i].key[1] = 0x17;
    std::memcpy(slots[i].address.bytes.data(), &i, sizeof i);
    accounts[slots[i].address] = execution::Account{i, 0};
  }
  return slots;
}

void BM_CrowdedBucketTouchOneAccount(benchmark::State& state) {
  execution::AccountMap accounts;
  auto slots = crowded(accounts);
  execution::AccountTree tree;
  tree.rebuild(slots, accounts);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& s = slots[(i++ * 7919) % kCrowded];
    accounts[s.address].nonce += 1;
    tree.touch(s);
    benchmark::DoNotOptimize(tree.rehash(accounts));
  }
  state.counters["levels"] = tree.max_split_levels();
  state.counters["bytes_hashed"] = static_cast<double>(tree.last_rehash_bytes());
}
BENCHMARK(BM_CrowdedBucketTouchOneAccount)->Unit(benchmark::kMicrosecond);

void BM_CrowdedBucketFlatRehash(benchmark::State& state) {
  execution::AccountMap accounts;
  auto slots = crowded(accounts);
  std::sort(slots.begin(), slots.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  std::vector<execution::StateEntry> entries;
  for (auto _ : state) {
    entries.clear();
    for (const auto& s : slots) entries.push_back({s.address, accounts.at(s.address)});
    benchmark::DoNotOptimize(execution::StateCommitment::leaf_hash(entries));
  }
}
BENCHMARK(BM_CrowdedBucketFlatRehash)->Unit(benchmark::kMicrosecond);

}  // namespace
