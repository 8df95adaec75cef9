// Hot crypto paths: hashing, validator signatures, user signature recovery, QC verification.
#include <benchmark/benchmark.h>

#include "crypto/hash.h"
#include "crypto/multisig.h"
#include "crypto/secp256k1.h"

namespace ol::crypto {
namespace {

void BM_Sha256(benchmark::State& state) {
  Bytes data(static_cast<std::size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(sha256(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(32)->Arg(1 << 20);

void BM_Keccak256(benchmark::State& state) {
  Bytes data(static_cast<std::size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(keccak256(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Keccak256)->Arg(32)->Arg(1 << 20);

void BM_Ed25519Sign(benchmark::State& state) {
  auto key = Ed25519KeyPair::generate();
  Bytes msg(32, 1);
  for (auto _ : state) benchmark::DoNotOptimize(key.sign(msg));
}
BENCHMARK(BM_Ed25519Sign);

void BM_Ed25519Verify(benchmark::State& state) {
  auto key = Ed25519KeyPair::generate();
  Bytes msg(32, 1);
  auto sig = key.sign(msg);
  for (auto _ : state) benchmark::DoNotOptimize(ed25519_verify(key.public_key(), msg, sig));
}
BENCHMARK(BM_Ed25519Verify);

void BM_Secp256k1Sign(benchmark::State& state) {
  auto key = Secp256k1Key::generate();
  Hash32 digest = keccak256(as_bytes("tx"));
  for (auto _ : state) benchmark::DoNotOptimize(key.sign(digest));
}
BENCHMARK(BM_Secp256k1Sign);

// The per-transaction cost every validator pays: recover the sender's address.
void BM_Secp256k1RecoverAddress(benchmark::State& state) {
  auto key = Secp256k1Key::generate();
  Hash32 digest = keccak256(as_bytes("tx"));
  auto sig = key.sign(digest);
  for (auto _ : state) benchmark::DoNotOptimize(recover_address(digest, sig));
}
BENCHMARK(BM_Secp256k1RecoverAddress);

void BM_QuorumCertVerify(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<Ed25519KeyPair> keys;
  std::vector<Ed25519PublicKey> pubs;
  for (std::size_t i = 0; i < n; ++i) {
    keys.push_back(Ed25519KeyPair::generate());
    pubs.push_back(keys.back().public_key());
  }
  auto set = *ValidatorSet::create(pubs);
  Bytes msg(32, 7);
  std::vector<std::pair<std::size_t, Ed25519Signature>> parts;
  for (std::size_t i = 0; i < set.quorum(); ++i) parts.emplace_back(i, keys[i].sign(msg));
  auto qs = *QuorumSignature::from_parts(n, parts);
  for (auto _ : state) benchmark::DoNotOptimize(qs.verify(set, msg).ok());
  state.counters["signers"] = static_cast<double>(set.quorum());
}
BENCHMARK(BM_QuorumCertVerify)->Arg(4)->Arg(16)->Arg(64);

}  // namespace
}  // namespace ol::crypto
