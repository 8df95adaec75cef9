// Transaction batches (the transactions gossip payload): round trip, and strict, bounded decoding.
#include <gtest/gtest.h>

#include "codec/codec.h"
#include "types/transaction.h"
#include "types/tx_batch.h"

namespace ol::types {
namespace {

Bytes sample_tx(std::uint64_t nonce) {
  Hash32 secret{};
  secret.fill(0x11);
  auto key = *crypto::Secp256k1Key::from_secret(secret);
  crypto::Address to;
  to.bytes.fill(0xab);
  return codec::encode(Transaction::sign(1337, nonce, Transfer{to, 42}, key));
}

/// A batch written by hand with the codec: `count`, then the given transactions.
Bytes raw_batch(std::uint32_t count, const std::vector<Bytes>& txs) {
  codec::Writer w;
  w.u32(count);
  for (const auto& tx : txs) w.bytes(tx);
  return w.take();
}

TEST(TxBatch, RoundTripKeepsTransactionsAndOrder) {
  TxBatchBuilder b;
  std::vector<Bytes> txs;
  for (std::uint64_t n = 0; n < 5; ++n) {
    txs.push_back(sample_tx(n));
    ASSERT_TRUE(b.add(txs.back()).ok());
  }
  EXPECT_EQ(b.count(), 5u);
  const std::size_t expected_size = b.encoded_size();
  Bytes encoded = b.take();
  EXPECT_EQ(encoded.size(), expected_size);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(encoded, raw_batch(5, txs));  // the documented wire format

  auto decoded = decode_tx_batch(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  ASSERT_EQ(decoded->size(), txs.size());
  for (std::size_t i = 0; i < txs.size(); ++i) {
    EXPECT_EQ(to_bytes((*decoded)[i]), txs[i]) << i;
    auto tx = codec::decode_exact<Transaction>((*decoded)[i]);
    ASSERT_TRUE(tx.ok());
    EXPECT_EQ(tx->nonce, i);
  }
}

TEST(TxBatch, BuilderIsReusableAfterTake) {
  TxBatchBuilder b;
  ASSERT_TRUE(b.add(sample_tx(1)).ok());
  (void)b.take();
  ASSERT_TRUE(b.add(sample_tx(2)).ok());
  const Bytes encoded = b.take();  // the decoded views point into it
  auto decoded = decode_tx_batch(encoded);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(to_bytes((*decoded)[0]), sample_tx(2));
}

TEST(TxBatch, BuilderStopsAtTheCountBound) {
  TxBatchBuilder b;
  const Bytes tx = sample_tx(0);
  for (std::size_t i = 0; i < kMaxBatchTxs; ++i) ASSERT_TRUE(b.add(tx).ok()) << i;
  EXPECT_FALSE(b.fits(tx.size()));
  EXPECT_EQ(b.add(tx).error().code, Errc::limit);
  const Bytes encoded = b.take();
  auto decoded = decode_tx_batch(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), kMaxBatchTxs);
}

TEST(TxBatch, BuilderStopsAtTheByteBound) {
  TxBatchBuilder b;
  const Bytes big(Transaction::kMaxEncodedSize, 0x5a);
  std::size_t added = 0;
  while (b.fits(big.size())) {
    ASSERT_TRUE(b.add(big).ok());
    ++added;
  }
  EXPECT_LT(added, kMaxBatchTxs);  // 256 maximal transactions would exceed the byte bound
  EXPECT_LE(b.encoded_size(), kMaxBatchBytes);
  EXPECT_GT(b.encoded_size() + 4 + big.size(), kMaxBatchBytes);
  EXPECT_EQ(b.add(big).error().code, Errc::limit);
  EXPECT_TRUE(decode_tx_batch(b.take()).ok());
}

TEST(TxBatch, BuilderRejectsEmptyAndOverlongTransactions) {
  TxBatchBuilder b;
  EXPECT_EQ(b.add(Bytes{}).error().code, Errc::limit);
  EXPECT_EQ(b.add(Bytes(Transaction::kMaxEncodedSize + 1, 1)).error().code, Errc::limit);
  EXPECT_TRUE(b.empty());
}

TEST(TxBatch, RejectsTooManyTransactions) {
  const Bytes tx = sample_tx(0);
  std::vector<Bytes> txs(kMaxBatchTxs + 1, tx);
  auto r = decode_tx_batch(raw_batch(static_cast<std::uint32_t>(txs.size()), txs));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::decode);
  // A huge claimed count with no data behind it is rejected without allocating for it.
  EXPECT_FALSE(decode_tx_batch(raw_batch(0xffffffffu, {})).ok());
  EXPECT_FALSE(decode_tx_batch(raw_batch(kMaxBatchTxs, {tx})).ok());
}

TEST(TxBatch, RejectsEmptyBatchAndEmptyOrOverlongTransactions) {
  EXPECT_FALSE(decode_tx_batch(raw_batch(0, {})).ok());
  EXPECT_FALSE(decode_tx_batch(Bytes{}).ok());
  EXPECT_FALSE(decode_tx_batch(raw_batch(2, {sample_tx(0), Bytes{}})).ok());
  EXPECT_FALSE(decode_tx_batch(raw_batch(1, {Bytes(Transaction::kMaxEncodedSize + 1, 7)})).ok());
  // The largest allowed transaction is accepted structurally.
  EXPECT_TRUE(decode_tx_batch(raw_batch(1, {Bytes(Transaction::kMaxEncodedSize, 7)})).ok());
}

TEST(TxBatch, RejectsTruncation) {
  const Bytes good = raw_batch(3, {sample_tx(0), sample_tx(1), sample_tx(2)});
  ASSERT_TRUE(decode_tx_batch(good).ok());
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(decode_tx_batch(ByteView(good.data(), cut)).ok()) << cut;
  }
  // The count promises more transactions than are present.
  EXPECT_FALSE(decode_tx_batch(raw_batch(4, {sample_tx(0), sample_tx(1), sample_tx(2)})).ok());
}

TEST(TxBatch, RejectsTrailingBytes) {
  Bytes batch = raw_batch(2, {sample_tx(0), sample_tx(1)});
  batch.push_back(0);
  EXPECT_FALSE(decode_tx_batch(batch).ok());
  // A count smaller than the transactions present leaves them trailing.
  EXPECT_FALSE(decode_tx_batch(raw_batch(1, {sample_tx(0), sample_tx(1)})).ok());
}

TEST(TxBatch, RejectsOversizeInput) {
  // Well-formed but above the byte bound: 256 transactions of the largest size.
  std::vector<Bytes> txs(kMaxBatchTxs, Bytes(Transaction::kMaxEncodedSize, 3));
  const Bytes batch = raw_batch(kMaxBatchTxs, txs);
  ASSERT_GT(batch.size(), kMaxBatchBytes);
  auto r = decode_tx_batch(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::decode);
}

}  // namespace
}  // namespace ol::types
