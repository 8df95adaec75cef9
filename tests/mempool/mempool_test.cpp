#include "mempool/mempool.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "execution/test_accounts.h"

namespace ol::mempool {
namespace {

using testing::kChainId;
using testing::test_key;
using types::TxRef;

crypto::Address sink() {
  crypto::Address a;
  a.bytes.fill(0x5e);
  return a;
}

types::Transaction signed_tx(const crypto::Secp256k1Key& key, std::uint64_t nonce,
                             types::Amount amount = 1, std::uint64_t chain = kChainId) {
  return types::Transaction::sign(chain, nonce, types::Transfer{sink(), amount}, key);
}

// A mempool over committed-nonce and balance tables and a clock the test controls. An account
// without a balance entry holds kRich.
constexpr types::Amount kRich = types::Amount{1} << 100;
struct Fixture {
  std::map<crypto::Address, std::uint64_t> committed;
  std::map<crypto::Address, types::Amount> balance;
  std::chrono::steady_clock::time_point now{};
  Mempool pool;
  explicit Fixture(Limits limits = {})
      : pool(
            kChainId, limits,
            [this](const crypto::Address& a) {
              auto n = committed.find(a);
              auto b = balance.find(a);
              return CommittedAccount{n == committed.end() ? 0 : n->second,
                                      b == balance.end() ? kRich : b->second};
            },
            [this] { return now; }) {}

  TxRef add(const types::Transaction& tx) {
    auto r = pool.add_encoded(codec::encode(tx));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
    return r.ok() ? *r : nullptr;
  }
  Error reject(const types::Transaction& tx) {
    auto r = pool.add_encoded(codec::encode(tx));
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
  }
};

std::vector<std::pair<std::uint8_t, std::uint64_t>> describe(const std::vector<TxRef>& batch) {
  std::vector<std::pair<std::uint8_t, std::uint64_t>> out;
  for (const auto& tx : batch) {
    for (std::uint8_t i = 0; i < 8; ++i) {
      if (test_key(i).address() == tx->sender) out.emplace_back(i, tx->tx.nonce);
    }
  }
  return out;
}

TEST(Admission, AcceptsAValidTransferAndCachesTheRecoveredSender) {
  Fixture f;
  auto key = test_key(0);
  auto tx = signed_tx(key, 0);
  auto ref = f.add(tx);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->sender, key.address());
  EXPECT_EQ(ref->hash, tx.hash());
  EXPECT_EQ(ref->encoded_size, codec::encode(tx).size());
  EXPECT_EQ(f.pool.find(tx.hash()), ref);  // the same verified object, signature checked once
  EXPECT_EQ(f.pool.size(), 1u);
  EXPECT_EQ(f.pool.bytes(), ref->encoded_size);
  EXPECT_EQ(f.pool.find(Hash32{}), nullptr);
}

TEST(Admission, RejectsDuplicatesByHash) {
  Fixture f;
  auto tx = signed_tx(test_key(0), 0);
  f.add(tx);
  auto e = f.reject(tx);
  EXPECT_EQ(e.code, Errc::state);
  EXPECT_EQ(e.message, "already known");
  EXPECT_TRUE(is_duplicate(e));
  EXPECT_EQ(f.pool.add(tx).error().message, "already known");
  EXPECT_EQ(f.pool.size(), 1u);
}

TEST(Admission, LateCopiesOfCommittedTransactionsCostNoRecovery) {
  Limits limits;
  limits.recent_committed = 2;
  Fixture f(limits);
  const auto key = test_key(0);
  std::vector<types::Transaction> txs;
  std::vector<TxRef> refs;
  for (std::uint64_t n = 0; n < 3; ++n) {
    txs.push_back(signed_tx(key, n));
    refs.push_back(f.add(txs.back()));
  }
  f.committed[key.address()] = 3;
  f.pool.remove_committed(refs);
  EXPECT_EQ(f.pool.size(), 0u);

  // The two most recent are remembered: answered before any signature recovery.
  const auto before = types::signature_recoveries();
  for (std::size_t i : {1u, 2u}) {
    auto e = f.reject(txs[i]);
    EXPECT_EQ(e.code, Errc::state);
    EXPECT_EQ(e.message, "already committed");
    EXPECT_TRUE(is_duplicate(e));
  }
  EXPECT_EQ(types::signature_recoveries(), before);
  // The oldest fell out of the bounded memory: recovered, then refused by its nonce.
  auto old = f.reject(txs[0]);
  EXPECT_EQ(old.code, Errc::invalid_argument);
  EXPECT_EQ(old.message.rfind("nonce too low", 0), 0u) << old.message;
  EXPECT_FALSE(is_duplicate(old));
  EXPECT_EQ(types::signature_recoveries(), before + 1);
  EXPECT_EQ(f.pool.size(), 0u);
}

TEST(Admission, RejectsMalformedBytes) {
  Fixture f;
  Bytes good = codec::encode(signed_tx(test_key(0), 0));
  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_EQ(f.pool.add_encoded(truncated).error().code, Errc::decode);
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(f.pool.add_encoded(trailing).error().code, Errc::decode);
  Bytes huge(types::Transaction::kMaxEncodedSize + 1, 0);
  EXPECT_EQ(f.pool.add_encoded(huge).error().code, Errc::limit);
  EXPECT_EQ(f.pool.size(), 0u);
}

TEST(Admission, RejectsWrongChainAndBadSignature) {
  Fixture f;
  EXPECT_EQ(f.reject(signed_tx(test_key(0), 0, 1, kChainId + 1)).code, Errc::verify);
  auto tx = signed_tx(test_key(0), 0);
  std::fill(tx.signature.bytes.begin(), tx.signature.bytes.begin() + 32, 0);  // r = 0
  EXPECT_EQ(f.reject(tx).code, Errc::verify);
  EXPECT_EQ(f.reject(signed_tx(test_key(0), 0, 0)).code, Errc::invalid_argument);  // zero amount
  EXPECT_EQ(f.pool.size(), 0u);
}

TEST(Admission, NonceRules) {
  Fixture f(Limits{.max_per_account = 10});
  auto key = test_key(0);
  f.committed[key.address()] = 5;
  auto low = f.reject(signed_tx(key, 4));
  EXPECT_EQ(low.code, Errc::invalid_argument);
  EXPECT_EQ(low.message, "nonce too low: 4, account nonce 5");
  EXPECT_EQ(f.reject(signed_tx(key, 15)).code, Errc::limit);  // too far ahead
  f.add(signed_tx(key, 14));                                  // a gap is allowed
  f.add(signed_tx(key, 5));
  auto rival = f.reject(signed_tx(key, 5, 2));  // same nonce, different transaction
  EXPECT_EQ(rival.code, Errc::state);
  EXPECT_EQ(rival.message, "nonce already pending: 5");
}

// Without fees, the balance rule is what keeps keys with nothing to spend from filling blocks
// with transfers that can only fail.
TEST(Admission, TransfersMustFitTheBalanceLeftByTheSendersPendingOnes) {
  Fixture f;
  auto key = test_key(0);
  f.balance[key.address()] = 10;
  auto poor = test_key(1);
  f.balance[poor.address()] = 0;
  auto none = f.reject(signed_tx(poor, 0, 1));
  EXPECT_EQ(none.code, Errc::invalid_argument);
  EXPECT_EQ(none.message, "insufficient balance: the sender holds 0, this one needs 1");
  EXPECT_FALSE(f.pool.find(signed_tx(poor, 0, 1).hash()));

  f.add(signed_tx(key, 0, 6));
  auto over = f.reject(signed_tx(key, 1, 5));
  EXPECT_EQ(over.message,
            "insufficient balance: the sender holds 10, its 1 pending transaction spends 6, this "
            "one needs 5");
  f.add(signed_tx(key, 1, 4));  // exactly the rest
  // A gapped nonce counts too: whatever order they execute in, together they overdraw.
  EXPECT_EQ(f.reject(signed_tx(key, 5, 1)).message,
            "insufficient balance: the sender holds 10, its 2 pending transactions spend 10, this "
            "one needs 1");
  EXPECT_EQ(f.pool.size(), 2u);

  // Nonce 0 commits: its 6 leave the balance and the pool together; funds arriving for the
  // sender count once they are committed.
  auto first = f.pool.find(signed_tx(key, 0, 6).hash());
  ASSERT_TRUE(first);
  f.committed[key.address()] = 1;
  f.balance[key.address()] = 4 + 3;
  f.pool.remove_committed(std::vector<TxRef>{first});
  EXPECT_EQ(f.reject(signed_tx(key, 2, 4)).message,
            "insufficient balance: the sender holds 7, its 1 pending transaction spends 4, this "
            "one needs 4");
  f.add(signed_tx(key, 2, 3));
  EXPECT_EQ(f.pool.size(), 2u);
}

// A proposal's transactions execute whatever this pool thinks of them; they are pooled anyway,
// so that their gossip copies are "already known" rather than recovered again.
TEST(Admission, TransactionsFromProposalsArePooledWhateverTheBalance) {
  Fixture f;
  auto key = test_key(0);
  f.balance[key.address()] = 5;
  auto big = types::VerifiedTransaction::verify(signed_tx(key, 0, 1'000), kChainId);
  ASSERT_TRUE(big.ok());
  auto ref = std::make_shared<const types::VerifiedTransaction>(std::move(*big));
  ASSERT_TRUE(f.pool.add_verified(ref).ok());
  EXPECT_EQ(f.pool.find(ref->hash), ref);
  EXPECT_TRUE(is_duplicate(f.reject(ref->tx)));
  // ... and what it would spend still counts against the sender's next submissions.
  EXPECT_EQ(f.reject(signed_tx(key, 1, 1)).message,
            "insufficient balance: the sender holds 5, its 1 pending transaction spends 1000, "
            "this one needs 1");
  // Amounts near the 128-bit limit neither wrap nor let anything through.
  auto huge = types::VerifiedTransaction::verify(signed_tx(key, 1, ~types::Amount{0}), kChainId);
  ASSERT_TRUE(huge.ok());
  ASSERT_TRUE(
      f.pool.add_verified(std::make_shared<const types::VerifiedTransaction>(std::move(*huge)))
          .ok());
  f.balance[key.address()] = ~types::Amount{0};
  EXPECT_EQ(f.reject(signed_tx(key, 2, 1)).code, Errc::invalid_argument);
}

// A node whose committed state lags refuses a gossiped transfer whose funding it has not
// committed yet; the other copies gossip brings, and the proposal that carries it, must not
// cost a second recovery.
TEST(Admission, ARefusedTransactionIsNotRecoveredAgain) {
  Fixture f;
  auto key = test_key(0);
  f.balance[key.address()] = 0;
  const auto tx = signed_tx(key, 0, 5);
  const auto before = types::signature_recoveries();
  EXPECT_EQ(f.reject(tx).message, "insufficient balance: the sender holds 0, this one needs 5");
  EXPECT_EQ(f.reject(tx).message, "insufficient balance: the sender holds 0, this one needs 5");
  EXPECT_EQ(types::signature_recoveries(), before + 1);
  EXPECT_EQ(f.pool.find(tx.hash()), nullptr);  // not pending
  auto seen = f.pool.verified(tx.hash());      // but its check is remembered
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->sender, key.address());

  // The funding commits: the next copy is admitted, still without a recovery.
  f.balance[key.address()] = 5;
  auto ref = f.add(tx);
  EXPECT_EQ(ref, seen);
  EXPECT_EQ(f.pool.find(tx.hash()), seen);
  EXPECT_EQ(types::signature_recoveries(), before + 1);
  // Admitted, it is no longer remembered as refused: once committed, nothing holds it.
  f.committed[key.address()] = 1;
  f.pool.remove_committed(std::vector<TxRef>{ref});
  EXPECT_EQ(f.pool.verified(tx.hash()), nullptr);

  // The memory is bounded: the oldest refusal is forgotten first.
  Fixture g(Limits{.recent_refused = 2});
  for (std::uint8_t i = 1; i <= 3; ++i) g.balance[test_key(i).address()] = 0;
  for (std::uint8_t i = 1; i <= 3; ++i) g.reject(signed_tx(test_key(i), 0, 1));
  EXPECT_EQ(g.pool.verified(signed_tx(test_key(1), 0, 1).hash()), nullptr);
  EXPECT_TRUE(g.pool.verified(signed_tx(test_key(2), 0, 1).hash()));
  EXPECT_TRUE(g.pool.verified(signed_tx(test_key(3), 0, 1).hash()));
  // One that fails verification (here: another chain's) is not remembered: nothing was verified.
  const auto other_chain = signed_tx(test_key(4), 0, 1, kChainId + 1);
  EXPECT_EQ(g.reject(other_chain).code, Errc::verify);
  EXPECT_EQ(g.pool.verified(other_chain.hash()), nullptr);
}

// A transaction refused, then admitted, then remembered again (dropped as expired) has two
// entries in the memory's order; the older, stale one must not evict the newer copy when it
// comes up. It used to: the copy was forgotten one refusal after it was remembered.
TEST(Admission, ARememberedAgainTransactionOutlivesItsStaleEntry) {
  using std::chrono::seconds;
  Fixture f(Limits{.recent_refused = 2, .future_lifetime = seconds(60)});
  auto a = test_key(1), b = test_key(2), c = test_key(3);
  const auto a1 = signed_tx(a, 1);  // future: waits for a0, which never comes
  f.balance[a.address()] = 0;
  f.reject(a1);  // remembered (1st entry)
  f.balance[a.address()] = kRich;
  auto pending = f.add(a1);  // admitted, no longer remembered as refused
  ASSERT_TRUE(pending);
  f.now += seconds(60);
  ASSERT_EQ(f.pool.drop_expired().size(), 1u);  // remembered again (2nd entry)
  ASSERT_EQ(f.pool.verified(a1.hash()), pending);

  f.balance[b.address()] = 0;
  f.reject(signed_tx(b, 0));  // three entries: the stale one leaves, nothing else
  EXPECT_EQ(f.pool.verified(a1.hash()), pending);
  EXPECT_TRUE(f.pool.verified(signed_tx(b, 0).hash()));

  f.balance[c.address()] = 0;
  f.reject(signed_tx(c, 0));  // now a1's current entry is the oldest: forgotten
  EXPECT_EQ(f.pool.verified(a1.hash()), nullptr);
  EXPECT_TRUE(f.pool.verified(signed_tx(b, 0).hash()));
  EXPECT_TRUE(f.pool.verified(signed_tx(c, 0).hash()));
}

TEST(Admission, CapacityIsBoundedWithAClearRejection) {
  Fixture f(Limits{.max_txs = 3});
  for (std::uint8_t i = 0; i < 3; ++i) f.add(signed_tx(test_key(i), 0));
  auto full = f.reject(signed_tx(test_key(3), 0));
  EXPECT_EQ(full.code, Errc::limit);
  EXPECT_EQ(full.message.rfind("mempool full", 0), 0u) << full.message;
  EXPECT_EQ(f.pool.size(), 3u);

  const std::size_t one = codec::encode(signed_tx(test_key(0), 0)).size();
  Fixture by_bytes(Limits{.max_bytes = 2 * one + one / 2});
  by_bytes.add(signed_tx(test_key(0), 0));
  by_bytes.add(signed_tx(test_key(1), 0));
  EXPECT_EQ(by_bytes.reject(signed_tx(test_key(2), 0)).message.rfind("mempool full", 0), 0u);

  Fixture per_account(Limits{.max_per_account = 2});
  per_account.add(signed_tx(test_key(0), 0));
  per_account.add(signed_tx(test_key(0), 1));
  EXPECT_EQ(per_account.reject(signed_tx(test_key(0), 2)).code, Errc::limit);
  per_account.add(signed_tx(test_key(1), 0));  // other accounts are unaffected
}

TEST(Batch, OnlyNonceContiguousRunsInArrivalOrder) {
  Fixture f;
  auto a = test_key(0), b = test_key(1), c = test_key(2);
  f.add(signed_tx(a, 1));  // arrives before its predecessor
  f.add(signed_tx(b, 0));
  f.add(signed_tx(a, 0));
  f.add(signed_tx(b, 1));
  f.add(signed_tx(a, 3));  // gap at 2: not proposable yet
  f.add(signed_tx(c, 1));  // c's committed nonce is 0: not proposable
  auto batch = f.pool.build_batch({});
  using P = std::vector<std::pair<std::uint8_t, std::uint64_t>>;
  // b0 (arrival 1) before a0 (arrival 2); then a1 (arrival 0) before b1 (arrival 3).
  EXPECT_EQ(describe(batch), (P{{1, 0}, {0, 0}, {0, 1}, {1, 1}}));
  EXPECT_EQ(f.pool.size(), 6u);  // building removes nothing

  f.add(signed_tx(a, 2));
  EXPECT_EQ(describe(f.pool.build_batch({})).size(), 6u);  // a2 closes the gap to a3
}

TEST(Batch, RespectsCountAndByteLimitsAndPendingNonces) {
  Fixture f;
  auto a = test_key(0);
  for (std::uint64_t n = 0; n < 10; ++n) f.add(signed_tx(a, n));
  EXPECT_EQ(f.pool.build_batch(BatchLimits{.max_txs = 4}).size(), 4u);
  const std::size_t one = codec::encode(signed_tx(a, 0)).size();
  EXPECT_EQ(f.pool.build_batch(BatchLimits{.max_bytes = 3 * one + 1}).size(), 3u);
  // The proposal extends uncommitted blocks that already carry a0..a6.
  PendingNonces pending{{a.address(), 7}};
  using P = std::vector<std::pair<std::uint8_t, std::uint64_t>>;
  EXPECT_EQ(describe(f.pool.build_batch({}, pending)), (P{{0, 7}, {0, 8}, {0, 9}}));
}

TEST(Commit, RemovesCommittedAndStaleTransactions) {
  Fixture f;
  auto a = test_key(0), b = test_key(1);
  auto a0 = f.add(signed_tx(a, 0));
  auto a1 = f.add(signed_tx(a, 1));
  auto a2 = f.add(signed_tx(a, 2));
  auto b0 = f.add(signed_tx(b, 0));
  // Another node's leader committed a0 and a *different* a1 (a rival we never saw).
  auto rival = types::VerifiedTransaction::verify(signed_tx(a, 1, 99), kChainId);
  std::vector<TxRef> block{a0, std::make_shared<const types::VerifiedTransaction>(*rival)};
  f.committed[a.address()] = 2;
  f.pool.remove_committed(block);
  EXPECT_EQ(f.pool.find(a0->hash), nullptr);
  EXPECT_EQ(f.pool.find(a1->hash), nullptr);  // stale: its nonce was used
  EXPECT_EQ(f.pool.find(a2->hash), a2);
  EXPECT_EQ(f.pool.find(b0->hash), b0);
  EXPECT_EQ(f.pool.size(), 2u);
  EXPECT_EQ(f.pool.bytes(), a2->encoded_size + b0->encoded_size);
  using P = std::vector<std::pair<std::uint8_t, std::uint64_t>>;
  EXPECT_EQ(describe(f.pool.build_batch({})), (P{{0, 2}, {1, 0}}));
  // Once committed, the same bytes are refused as a replay (recognised by id, before any
  // recovery), and the stale a1, never committed itself, by its nonce.
  EXPECT_EQ(f.reject(a0->tx).message, "already committed");
  EXPECT_EQ(f.reject(a1->tx).message, "nonce too low: 1, account nonce 2");
}

TEST(Commit, AFailedCommittedTransactionAlsoLeaves) {
  Fixture f;
  auto a = test_key(0);
  auto future = f.add(signed_tx(a, 3));  // included by a faulty leader, failed with bad nonce
  f.pool.remove_committed(std::vector<TxRef>{future});
  EXPECT_EQ(f.pool.size(), 0u);
}

// Transactions whose sender has a lower nonce missing may never execute; without a bound of their
// own, fresh keys with gapped nonces would fill the pool for good.
TEST(Future, GappedNoncesGetABoundedShareAndReadyOnesStillGetIn) {
  Fixture f(Limits{.max_txs = 100, .max_future = 3});
  auto a = test_key(0), b = test_key(1), c = test_key(2), d = test_key(3), e = test_key(4);
  f.add(signed_tx(a, 1));
  f.add(signed_tx(b, 1));
  f.add(signed_tx(c, 2));
  EXPECT_EQ(f.pool.future_size(), 3u);
  auto refused = f.reject(signed_tx(d, 5));
  EXPECT_EQ(refused.code, Errc::limit);
  EXPECT_EQ(refused.message,
            "mempool full of transactions waiting for a lower nonce (3); this one needs nonce 0 "
            "first");
  EXPECT_EQ(f.reject(signed_tx(c, 3)).code, Errc::limit);  // still behind c's missing nonce 0
  // Transactions that can execute are not held back by the future ones.
  f.add(signed_tx(e, 0));
  f.add(signed_tx(e, 1));
  EXPECT_EQ(f.pool.future_size(), 3u);
  // Filling a gap makes the waiting transaction ready, and frees its place.
  f.add(signed_tx(a, 0));
  EXPECT_EQ(f.pool.future_size(), 2u);
  f.add(signed_tx(d, 5));
  EXPECT_EQ(f.pool.future_size(), 3u);
  // So does a block that commits the missing nonce (here a copy this pool never saw).
  Fixture other;
  auto b0 = other.add(signed_tx(b, 0));
  f.committed[b.address()] = 1;
  f.pool.remove_committed(std::vector<TxRef>{b0});
  EXPECT_EQ(f.pool.future_size(), 2u);
  using P = std::vector<std::pair<std::uint8_t, std::uint64_t>>;
  EXPECT_EQ(describe(f.pool.build_batch({})), (P{{1, 1}, {4, 0}, {4, 1}, {0, 0}, {0, 1}}));
  EXPECT_EQ(f.pool.size(), 7u);

  EXPECT_EQ(
      f.pool.missing_nonce(types::VerifiedTransaction::verify(signed_tx(c, 2), kChainId)->hash),
      std::optional<std::uint64_t>(0));
  EXPECT_EQ(
      f.pool.missing_nonce(types::VerifiedTransaction::verify(signed_tx(a, 1), kChainId)->hash),
      std::nullopt);                                        // ready
  EXPECT_EQ(f.pool.missing_nonce(Hash32{}), std::nullopt);  // not here

  // No share at all: only transactions that can execute now are admitted.
  Fixture strict(Limits{.max_future = 0});
  EXPECT_EQ(strict.reject(signed_tx(a, 1)).code, Errc::limit);
  strict.add(signed_tx(a, 0));
  strict.add(signed_tx(a, 1));
  EXPECT_EQ(strict.pool.future_size(), 0u);
}

TEST(Future, WaitingTransactionsExpireAndReadyOnesDoNot) {
  using std::chrono::seconds;
  Fixture f(Limits{.future_lifetime = seconds(60)});
  auto a = test_key(0), b = test_key(1), c = test_key(2), d = test_key(3);
  auto a0 = f.add(signed_tx(a, 0));  // ready: never expires
  auto a2 = f.add(signed_tx(a, 2));  // waits for a1
  auto b3 = f.add(signed_tx(b, 3));  // waits for b0
  auto d1 = f.add(signed_tx(d, 1));  // waits for d0, which comes in time
  f.now += seconds(30);
  auto c1 = f.add(signed_tx(c, 1));
  f.add(signed_tx(d, 0));
  EXPECT_EQ(f.pool.future_size(), 3u);
  EXPECT_TRUE(f.pool.drop_expired().empty());
  f.now += seconds(30);
  auto dropped = f.pool.drop_expired();
  ASSERT_EQ(dropped.size(), 2u);
  std::map<Hash32, std::uint64_t> missing;
  for (const auto& x : dropped) missing[x.tx->hash] = x.missing_nonce;
  EXPECT_EQ(missing, (std::map<Hash32, std::uint64_t>{{a2->hash, 1}, {b3->hash, 0}}));
  EXPECT_EQ(f.pool.find(a2->hash), nullptr);
  EXPECT_EQ(f.pool.find(b3->hash), nullptr);
  EXPECT_EQ(f.pool.find(a0->hash), a0);
  EXPECT_EQ(f.pool.find(d1->hash), d1);  // ready since d0 came
  EXPECT_EQ(f.pool.future_size(), 1u);
  EXPECT_EQ(f.pool.size(), 4u);
  EXPECT_EQ(f.pool.bytes(), a0->encoded_size * 4);  // same-shaped transfers
  f.now += seconds(30);
  dropped = f.pool.drop_expired();
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].tx, c1);
  EXPECT_EQ(f.pool.future_size(), 0u);
  // A dropped transaction may be submitted again; its check is remembered (as for a refused
  // one), so neither that nor a proposal carrying it costs a second recovery.
  EXPECT_EQ(f.pool.verified(a2->hash), a2);
  const auto before = types::signature_recoveries();
  EXPECT_EQ(f.add(a2->tx), a2);
  EXPECT_EQ(types::signature_recoveries(), before);
  EXPECT_EQ(f.pool.future_size(), 1u);
}

// A faulty leader's block may carry a transaction from the middle of a ready run that fails
// without using its nonce: the later ones then wait for that nonce again.
TEST(Future, AGapLeftByAFailedTransactionMakesTheRestWait) {
  Fixture f(Limits{.max_future = 1});
  auto a = test_key(0);
  f.add(signed_tx(a, 0));
  auto a1 = f.add(signed_tx(a, 1));
  f.add(signed_tx(a, 2));
  EXPECT_EQ(f.pool.future_size(), 0u);
  f.pool.remove_committed(std::vector<TxRef>{a1});  // failed: the account's nonce is still 0
  EXPECT_EQ(f.pool.size(), 2u);
  EXPECT_EQ(f.pool.future_size(), 1u);
  using P = std::vector<std::pair<std::uint8_t, std::uint64_t>>;
  EXPECT_EQ(describe(f.pool.build_batch({})), (P{{0, 0}}));
  EXPECT_EQ(f.reject(signed_tx(a, 3)).code, Errc::limit);  // the share (1) is taken
  f.add(signed_tx(a, 1, 2));                               // a new nonce 1 fills the gap
  EXPECT_EQ(f.pool.future_size(), 0u);
  f.add(signed_tx(a, 3));
  EXPECT_EQ(describe(f.pool.build_batch({})), (P{{0, 0}, {0, 1}, {0, 2}, {0, 3}}));
}

TEST(Concurrency, ParallelAdmissionKeepsCountsExact) {
  Fixture f;
  std::vector<std::vector<Bytes>> work(4);
  for (std::uint8_t t = 0; t < 4; ++t) {
    auto key = test_key(t);
    for (std::uint64_t n = 0; n < 50; ++n) work[t].push_back(codec::encode(signed_tx(key, n)));
  }
  std::vector<std::thread> threads;
  for (auto& w : work) {
    threads.emplace_back([&f, &w] {
      for (int round = 0; round < 2; ++round) {  // every transaction twice: one is a duplicate
        for (const auto& bytes : w) (void)f.pool.add_encoded(bytes);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.pool.size(), 200u);
  EXPECT_EQ(f.pool.future_size(), 0u);
  EXPECT_EQ(f.pool.build_batch({}).size(), 200u);
}

}  // namespace
}  // namespace ol::mempool
