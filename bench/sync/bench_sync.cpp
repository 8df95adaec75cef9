// Sync figures: snapshot create / verify / restore for 1,000,000 accounts, and block sync's
// per-block work (verify the batch's QCs and hash chain, verify each transaction's signature,
// apply) in blocks/s and tx/s. Each case runs once on prepared data (setup is not timed).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "support/certified_chain.h"
#include "sync/checkpoints.h"
#include "sync/verify.h"

namespace {

using namespace ol;
namespace fs = std::filesystem;

constexpr std::uint32_t kAccounts = 1'000'000;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("ol-bench-sync-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

execution::Genesis million() {
  execution::Genesis g;
  g.chain_id = testing::kChainId;
  g.allocations.reserve(kAccounts);
  for (std::uint32_t i = 0; i < kAccounts; ++i) {
    crypto::Address a;
    for (std::size_t k = 0; k < 4; ++k) a.bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
    a.bytes[12] = 0x42;
    g.allocations.push_back({a, 1000 + i});
  }
  return g;
}

struct Million {
  execution::Genesis genesis = million();
  std::unique_ptr<execution::Ledger> ledger =
      std::move(execution::Ledger::in_memory(genesis)).value();
  sync::Snapshot snapshot = sync::create_snapshot(*ledger, 0, Hash32{});
};
Million& data() {
  static Million m;
  return m;
}

void BM_SnapshotCreate1M(benchmark::State& state) {
  auto& m = data();
  for (auto _ : state) {
    auto s = sync::create_snapshot(*m.ledger, 0, Hash32{});
    benchmark::DoNotOptimize(s);
    state.counters["chunks"] = static_cast<double>(s.chunks.size());
  }
}

void BM_SnapshotCreateAndPersist1M(benchmark::State& state) {
  auto& m = data();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    auto store = std::move(storage::Store::open(dir.path)).value();
    sync::Checkpoints cps(*store, {});
    state.ResumeTiming();
    auto manifest = cps.create(*m.ledger, 0, Hash32{});
    if (!manifest) state.SkipWithError(manifest.error().message.c_str());
  }
}

void BM_SnapshotVerify1M(benchmark::State& state) {
  auto& m = data();
  for (auto _ : state) {
    if (!m.snapshot.manifest.validate()) state.SkipWithError("manifest");
    for (std::uint32_t i = 0; i < m.snapshot.chunks.size(); ++i) {
      auto chunk = codec::decode_exact<sync::SnapshotChunk>(codec::encode(m.snapshot.chunks[i]));
      if (!chunk || !sync::verify_chunk(m.snapshot.manifest, i, *chunk)) {
        state.SkipWithError("chunk");
      }
    }
  }
}

void BM_SnapshotRestore1M(benchmark::State& state) {
  auto& m = data();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    auto store = std::move(storage::Store::open(dir.path)).value();
    state.ResumeTiming();
    // A joining node's genesis is the chain's (small) one; the million accounts come from chunks.
    execution::Genesis small{testing::kChainId, {}, {}};
    auto install = std::move(execution::StateInstall::begin(*store)).value();
    for (const auto& c : m.snapshot.chunks) (void)install.add(c.entries);
    (void)install.finish(small, 0, m.snapshot.manifest.block_id, m.snapshot.manifest.state_root);
    auto ledger = execution::Ledger::open(*store, small);  // reloads and re-checks the root
    if (!ledger || (*ledger)->state_root() != m.snapshot.manifest.state_root) {
      state.SkipWithError("restore");
    }
  }
}

// 256 certified blocks of 100 transfers each, from 50 senders to fresh recipients.
struct Batch {
  testing::TestValidators validators = testing::TestValidators::make(4);
  execution::Genesis genesis;
  std::vector<sync::CertifiedBlock> blocks;
  Batch() {
    genesis.chain_id = testing::kChainId;
    std::vector<crypto::Secp256k1Key> keys;
    for (std::uint8_t i = 0; i < 50; ++i) {
      keys.push_back(testing::test_key(static_cast<std::uint8_t>(100 + i)));
      genesis.allocations.push_back({keys.back().address(), types::Amount(1) << 90});
    }
    testing::ChainBuilder builder(validators, genesis);
    for (std::uint64_t h = 1; h <= 256; ++h) {
      std::vector<types::Transaction> txs;
      for (std::size_t t = 0; t < 100; ++t) {
        crypto::Address to;
        to.bytes[0] = static_cast<std::uint8_t>(h);
        to.bytes[1] = static_cast<std::uint8_t>(t);
        to.bytes[2] = 0x99;
        txs.push_back(types::Transaction::sign(testing::kChainId, h * 2 + t / 50 - 2,
                                               types::Transfer{to, 1}, keys[t % 50]));
      }
      blocks.push_back(builder.next(std::move(txs)));
    }
  }
};

void BM_BlockSyncVerifyAndApply(benchmark::State& state) {
  static Batch batch;
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  std::size_t txs = 0, blocks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto ledger = std::move(execution::Ledger::in_memory(batch.genesis)).value();
    sync::Blocks response{n, {batch.blocks.begin(), batch.blocks.begin() + static_cast<long>(n)}};
    state.ResumeTiming();
    auto accepted =
        sync::verify_blocks({0, testing::genesis_id()}, sync::GetBlocks{1, 512}, response,
                            sync::kSoftResponseBytes, batch.validators.set, testing::genesis_id());
    for (const auto& c : *accepted) {
      auto out = testing::execute_block(*ledger, c.block);
      if (!out) state.SkipWithError(out.error().message.c_str());
      txs += out->receipts.size();
      ++blocks;
    }
  }
  state.counters["blocks/s"] =
      benchmark::Counter(static_cast<double>(blocks), benchmark::Counter::kIsRate);
  state.counters["tx/s"] =
      benchmark::Counter(static_cast<double>(txs), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_SnapshotCreate1M)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_SnapshotCreateAndPersist1M)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();
BENCHMARK(BM_SnapshotVerify1M)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_SnapshotRestore1M)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_BlockSyncVerifyAndApply)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();

}  // namespace
