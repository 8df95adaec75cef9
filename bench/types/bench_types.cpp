// Canonical encoding and strict decoding of a full block: the cost every proposal pays twice
// (leader encodes, each validator decodes).
#include <benchmark/benchmark.h>

#include "types/block.h"

namespace ol::types {
namespace {

Block block_with_transfers(std::size_t count) {
  auto key = crypto::Secp256k1Key::generate();
  std::vector<Transaction> txs;
  txs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    crypto::Address to;
    to.bytes[0] = static_cast<std::uint8_t>(i);
    txs.push_back(Transaction::sign(1337, i, Transfer{to, 1000 + i}, key));
  }
  Block b;
  b.round = 5;
  b.height = 4;
  b.parent_id[0] = 1;
  b.justify.round = 0;
  b.justify.block_id = b.parent_id;
  b.proposer = 1;
  b.payload = std::move(txs);
  return b;
}

void BM_BlockEncode(benchmark::State& state) {
  Block b = block_with_transfers(static_cast<std::size_t>(state.range(0)));
  std::size_t size = 0;
  for (auto _ : state) {
    Bytes enc = codec::encode(b);
    size = enc.size();
    benchmark::DoNotOptimize(enc);
  }
  state.counters["bytes"] = static_cast<double>(size);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_BlockEncode)->Arg(1000);

void BM_BlockDecode(benchmark::State& state) {
  Bytes enc = codec::encode(block_with_transfers(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    auto b = codec::decode_exact<Block>(enc);
    if (!b.ok()) state.SkipWithError(b.error().message.c_str());
    benchmark::DoNotOptimize(b);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * enc.size()));
}
BENCHMARK(BM_BlockDecode)->Arg(1000);

void BM_BlockId(benchmark::State& state) {
  Block b = block_with_transfers(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(b.compute_id());
}
BENCHMARK(BM_BlockId)->Arg(1000);

}  // namespace
}  // namespace ol::types
