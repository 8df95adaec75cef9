#include "execution/ledger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

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

struct TempDir : ol::testing::TempDir {
  TempDir() : ol::testing::TempDir("ol-exec") {}
};

const crypto::Secp256k1Key& alice() {
  static const auto k = test_key(0);
  return k;
}
const crypto::Secp256k1Key& bob() {
  static const auto k = test_key(1);
  return k;
}
const crypto::Secp256k1Key& faucet() {
  static const auto k = test_key(2);
  return k;
}
crypto::Address carol() {
  crypto::Address a;
  a.bytes.fill(0xca);
  return a;
}

Genesis test_genesis() {
  Genesis g;
  g.chain_id = kChainId;
  g.allocations = {
      {alice().address(), 1000}, {bob().address(), 50}, {faucet().address(), Amount(1) << 100}};
  g.faucet = faucet().address();
  return g;
}

std::unique_ptr<Ledger> fresh() {
  return std::move(Ledger::in_memory(test_genesis())).value();
}

BlockOutcome apply(Ledger& ledger, std::vector<TxRef> txs) {
  BlockInfo info{ledger.applied_height() + 1, 1000, {}};
  auto out = ledger.apply_block(info, txs);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().to_string());
  return std::move(out).value();
}

TEST(Genesis, AllocatesBalancesAndTheFaucet) {
  auto ledger = fresh();
  EXPECT_EQ(ledger->account(alice().address()), (Account{1000, 0}));
  EXPECT_EQ(ledger->account(bob().address()), (Account{50, 0}));
  EXPECT_EQ(ledger->account(faucet().address()).balance, Amount(1) << 100);
  EXPECT_EQ(ledger->account(carol()), (Account{0, 0}));
  EXPECT_EQ(ledger->applied_height(), 0u);
  EXPECT_EQ(ledger->account_count(), 3u);
}

TEST(Genesis, RootIsIndependentOfAllocationOrderButNotOfContent) {
  auto g = test_genesis();
  auto reordered = g;
  std::swap(reordered.allocations[0], reordered.allocations[1]);
  auto a = std::move(Ledger::in_memory(g)).value();
  auto b = std::move(Ledger::in_memory(reordered)).value();
  // Different encodings are different genesis documents (the database remembers which one it was
  // built from), but the built state is the same set of accounts. The root commits to the state
  // alone — that is what lets a snapshot be verified without history — so the roots are equal.
  // (Until the Merkle commitment the root chained over the genesis hash and these differed.)
  EXPECT_NE(g.hash(), reordered.hash());
  EXPECT_EQ(a->state_root(), b->state_root());
  auto again = std::move(Ledger::in_memory(g)).value();
  EXPECT_EQ(a->state_root(), again->state_root());
  auto richer = g;
  richer.allocations[0].balance += 1;
  EXPECT_NE(std::move(Ledger::in_memory(richer)).value()->state_root(), a->state_root());
}

TEST(Genesis, RejectsDuplicatesAndSupplyOverflow) {
  auto dup = test_genesis();
  dup.allocations.push_back({alice().address(), 1});
  EXPECT_EQ(Ledger::in_memory(dup).error().code, Errc::invalid_argument);
  auto unfunded_faucet = test_genesis();
  unfunded_faucet.faucet = carol();
  EXPECT_FALSE(unfunded_faucet.validate().ok());
  auto overflow = test_genesis();
  overflow.allocations[0].balance = ~Amount(0) - (Amount(1) << 100) - 49;
  EXPECT_FALSE(overflow.validate().ok());
}

TEST(Genesis, EncodingRoundTrips) {
  auto g = test_genesis();
  auto decoded = codec::decode_exact<Genesis>(codec::encode(g));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, g);
}

TEST(Transfer, MovesFundsAndBumpsNonce) {
  auto ledger = fresh();
  auto out = apply(*ledger, {transfer(alice(), 0, carol(), 300)});
  ASSERT_EQ(out.receipts.size(), 1u);
  EXPECT_TRUE(out.receipts[0].ok());
  EXPECT_EQ(ledger->account(alice().address()), (Account{700, 1}));
  EXPECT_EQ(ledger->account(carol()), (Account{300, 0}));
  EXPECT_EQ(ledger->next_nonce(alice().address()), 1u);
  EXPECT_EQ(out.state_root, ledger->state_root());
}

TEST(Transfer, ChainOfTransfersInOneBlockSeesEarlierOnes) {
  auto ledger = fresh();
  auto out = apply(
      *ledger, {transfer(bob(), 0, alice().address(), 50),
                transfer(alice(), 0, bob().address(), 1050), transfer(bob(), 1, carol(), 1050)});
  for (const auto& r : out.receipts) EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(ledger->account(alice().address()), (Account{0, 1}));
  EXPECT_EQ(ledger->account(bob().address()), (Account{0, 2}));
  EXPECT_EQ(ledger->account(carol()).balance, 1050u);
}

TEST(Transfer, BadNonceChangesNothing) {
  auto ledger = fresh();
  auto out = apply(*ledger, {transfer(alice(), 1, carol(), 5)});  // from the future
  EXPECT_EQ(out.receipts[0].outcome, TxOutcome::bad_nonce);
  EXPECT_NE(out.receipts[0].detail.find("expects 0"), std::string::npos);
  EXPECT_EQ(ledger->account(alice().address()), (Account{1000, 0}));

  auto ok = transfer(alice(), 0, carol(), 5);
  apply(*ledger, {ok});
  auto replay = apply(*ledger, {ok});  // the same signed bytes again
  EXPECT_EQ(replay.receipts[0].outcome, TxOutcome::bad_nonce);
  EXPECT_EQ(ledger->account(alice().address()), (Account{995, 1}));
  EXPECT_EQ(ledger->account(carol()).balance, 5u);
}

TEST(Transfer, InsufficientBalanceConsumesTheNonceOnly) {
  auto ledger = fresh();
  auto out = apply(*ledger, {transfer(bob(), 0, carol(), 51)});
  EXPECT_EQ(out.receipts[0].outcome, TxOutcome::insufficient_balance);
  EXPECT_EQ(out.receipts[0].detail, "balance 50, transfer 51");
  EXPECT_EQ(ledger->account(bob().address()), (Account{50, 1}));
  EXPECT_EQ(ledger->account(carol()), (Account{0, 0}));
}

// Genesis caps the supply at 2^128-1, so a recipient can reach the maximum but never pass it:
// balance_overflow is a defensive rule that valid genesis makes unreachable.
TEST(Transfer, RecipientCanReachTheMaximumBalance) {
  Genesis g = test_genesis();
  g.faucet.reset();
  g.allocations = {{alice().address(), 11}, {carol(), ~Amount(0) - 11}};
  auto ledger = std::move(Ledger::in_memory(g)).value();
  auto out = apply(*ledger, {transfer(alice(), 0, carol(), 11)});
  EXPECT_TRUE(out.receipts[0].ok());
  EXPECT_EQ(ledger->account(carol()).balance, ~Amount(0));
  EXPECT_EQ(ledger->account(alice().address()), (Account{0, 1}));
}

TEST(Transfer, WrongChainAndSelfTransfer) {
  auto ledger = fresh();
  auto out = apply(*ledger, {transfer(alice(), 0, carol(), 5, kChainId + 1),
                             transfer(alice(), 0, alice().address(), 400)});
  EXPECT_EQ(out.receipts[0].outcome, TxOutcome::wrong_chain);
  EXPECT_TRUE(out.receipts[1].ok());
  EXPECT_EQ(ledger->account(alice().address()), (Account{1000, 1}));
  auto too_much = apply(*ledger, {transfer(alice(), 1, alice().address(), 1001)});
  EXPECT_EQ(too_much.receipts[0].outcome, TxOutcome::insufficient_balance);
}

TEST(Ledger, HeightsMustBeConsecutiveAndAFailedCallChangesNothing) {
  auto ledger = fresh();
  const Hash32 root = ledger->state_root();
  std::vector<TxRef> txs{transfer(alice(), 0, carol(), 1)};
  auto skipped = ledger->apply_block(BlockInfo{2, 0, {}}, txs);
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(skipped.error().code, Errc::state);
  EXPECT_EQ(ledger->state_root(), root);
  EXPECT_EQ(ledger->account(alice().address()).nonce, 0u);
}

TEST(StateRoot, IsTheMerkleRootOfTheBucketHashes) {
  auto ledger = fresh();
  auto buckets = ledger->bucket_hashes();
  ASSERT_EQ(buckets.size(), StateCommitment::kBuckets);
  EXPECT_EQ(StateCommitment::root_of(buckets).value(), ledger->state_root());
  // Three accounts: three buckets differ from the empty constant (barring a 2^-16 collision of
  // bucket indices, which these fixed keys do not have).
  std::size_t non_empty = 0;
  for (const auto& h : buckets) non_empty += h != StateCommitment::empty_bucket_hash() ? 1 : 0;
  EXPECT_EQ(non_empty, 3u);
  const auto b = StateCommitment::bucket_of(StateCommitment::key_of(alice().address()));
  const StateEntry alice_entry{alice().address(), Account{1000, 0}};
  EXPECT_EQ(buckets[b], StateCommitment::bucket_hash(std::span(&alice_entry, 1)));
  EXPECT_FALSE(StateCommitment::root_of(std::span(buckets).first(100)).ok());
}

TEST(StateRoot, EmptyStateIsAConstantAndTagsSeparateLeavesFromNodes) {
  StateCommitment c;
  const Hash32 empty_root = c.root();
  std::vector<Hash32> all_empty(StateCommitment::kBuckets, StateCommitment::empty_bucket_hash());
  EXPECT_EQ(StateCommitment::root_of(all_empty).value(), empty_root);
  const Hash32& e = StateCommitment::empty_bucket_hash();
  EXPECT_NE(StateCommitment::node_hash(e, e), e);
  // Setting a bucket and setting it back restores the root.
  Hash32 x{};
  x[0] = 1;
  c.set_bucket(77, x);
  EXPECT_NE(c.root(), empty_root);
  c.set_bucket(77, e);
  EXPECT_EQ(c.root(), empty_root);
}

// A random but seeded workload: valid and invalid transfers among a few accounts.
std::vector<std::vector<TxRef>> random_blocks(std::uint32_t seed, int blocks, int per_block) {
  std::mt19937 rng(seed);
  std::vector<crypto::Secp256k1Key> keys{alice(), bob(), faucet()};
  std::vector<std::uint64_t> nonces(keys.size(), 0);
  std::vector<std::vector<TxRef>> out;
  for (int b = 0; b < blocks; ++b) {
    std::vector<TxRef> txs;
    for (int i = 0; i < per_block; ++i) {
      std::size_t from = rng() % keys.size();
      crypto::Address to = (rng() % 4 == 0) ? carol() : keys[rng() % keys.size()].address();
      Amount amount = 1 + rng() % 600;
      // Mostly right nonces, sometimes a stale or future one.
      std::uint64_t nonce = nonces[from];
      if (rng() % 10 == 0)
        nonce += 1 + rng() % 2;
      else
        nonces[from]++;
      txs.push_back(transfer(keys[from], nonce, to, amount));
    }
    out.push_back(std::move(txs));
  }
  return out;
}

TEST(Determinism, SameBlocksGiveSameReceiptsRootsAndWrites) {
  auto blocks = random_blocks(42, 20, 25);
  auto a = fresh();
  auto b = fresh();
  int failures = 0;
  for (const auto& txs : blocks) {
    auto oa = apply(*a, txs);
    auto ob = apply(*b, txs);
    EXPECT_EQ(oa.receipts, ob.receipts);
    EXPECT_EQ(oa.state_root, ob.state_root);
    ASSERT_EQ(oa.writes.ops().size(), ob.writes.ops().size());
    for (std::size_t i = 0; i < oa.writes.ops().size(); ++i) {
      EXPECT_EQ(oa.writes.ops()[i].key, ob.writes.ops()[i].key);
      EXPECT_EQ(oa.writes.ops()[i].value, ob.writes.ops()[i].value);
    }
    for (const auto& r : oa.receipts) failures += r.ok() ? 0 : 1;
  }
  EXPECT_GT(failures, 0);  // the workload exercises failures too
  // Supply is conserved.
  Amount total = a->account(alice().address()).balance + a->account(bob().address()).balance +
                 a->account(faucet().address()).balance + a->account(carol()).balance;
  EXPECT_EQ(total, 1050 + (Amount(1) << 100));
}

TEST(Determinism, ADifferentBlockGivesADifferentRoot) {
  auto a = fresh();
  auto b = fresh();
  apply(*a, {transfer(alice(), 0, carol(), 10)});
  apply(*b, {transfer(alice(), 0, carol(), 11)});
  EXPECT_NE(a->state_root(), b->state_root());
  // Order matters too: same transactions, different order.
  auto c = fresh();
  auto d = fresh();
  auto t1 = transfer(bob(), 0, carol(), 50);
  auto t2 = transfer(bob(), 1, carol(), 1);
  apply(*c, {t1, t2});
  apply(*d, {t2, t1});
  EXPECT_NE(c->state_root(), d->state_root());
  // An empty block changes no account, so it leaves the root alone: the root commits to the state,
  // not to the height (the block that carries it does). The old hash-chain root moved here.
  auto e = fresh();
  const Hash32 before = e->state_root();
  apply(*e, {});
  EXPECT_EQ(e->state_root(), before);
}

// The node's path: apply, then write the block and the state writes in one batch.
void commit(storage::Store& store, Ledger& ledger, const std::vector<TxRef>& txs) {
  BlockInfo info{ledger.applied_height() + 1, 0, {}};
  info.block_id[0] = static_cast<std::uint8_t>(info.height);
  auto out = ledger.apply_block(info, txs);
  ASSERT_TRUE(out.ok());
  storage::WriteBatch batch;
  batch.put_block(info.block_id, as_bytes("block"));
  batch.commit_block(info.height, info.block_id);
  batch.append(out->writes);
  ASSERT_TRUE(store.write(batch).ok());
}

TEST(Persistence, ReopenRestoresStateAndContinuesIdentically) {
  TempDir tmp;
  auto blocks = random_blocks(7, 12, 10);
  auto reference = fresh();
  for (const auto& txs : blocks) apply(*reference, txs);

  {
    auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
    auto ledger = std::move(Ledger::open(*store, test_genesis())).value();
    EXPECT_EQ(ledger->state_root(), fresh()->state_root());
    for (int i = 0; i < 6; ++i) commit(*store, *ledger, blocks[static_cast<std::size_t>(i)]);
  }
  auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
  auto ledger = std::move(Ledger::open(*store, test_genesis())).value();
  EXPECT_EQ(ledger->applied_height(), 6u);
  EXPECT_EQ(ledger->applied_height(), store->committed_tip().value()->height);
  for (std::size_t i = 6; i < blocks.size(); ++i) commit(*store, *ledger, blocks[i]);
  EXPECT_EQ(ledger->state_root(), reference->state_root());
  for (const auto& key : {alice(), bob(), faucet()}) {
    EXPECT_EQ(ledger->account(key.address()), reference->account(key.address()));
  }
  EXPECT_EQ(ledger->account(carol()), reference->account(carol()));
}

TEST(Persistence, RefusesADifferentGenesis) {
  TempDir tmp;
  auto store = std::move(storage::Store::open(tmp.path() / "db")).value();
  ASSERT_TRUE(Ledger::open(*store, test_genesis()).ok());
  auto other = test_genesis();
  other.chain_id += 1;
  auto r = Ledger::open(*store, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::state);
}

}  // namespace
}  // namespace ol::execution
