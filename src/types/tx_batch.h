// Transaction batches: the payload of the transactions gossip topic. A node publishes the
// transactions its RPC admitted in batches, so one gossip message (one signature, one frame)
// carries many transactions.
//
// Encoding (src/codec): u32 count (1..kMaxBatchTxs), then `count` byte strings (u32 length,
// 1..Transaction::kMaxEncodedSize), each a transaction's canonical encoding; the whole batch is
// at most kMaxBatchBytes. Decoding checks only this structure: each transaction is decoded and
// admitted (or rejected) on its own by the mempool.
#pragma once

#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace ol::types {

inline constexpr std::size_t kMaxBatchTxs = 256;
inline constexpr std::size_t kMaxBatchBytes = 256 * 1024;

/// The transactions of an encoded batch, as views into `batch` (valid while it is). Rejects
/// (Errc::decode or Errc::limit) an empty batch, more than kMaxBatchTxs transactions, an empty or
/// over-long transaction, truncation, trailing bytes and input longer than kMaxBatchBytes.
Result<std::vector<ByteView>> decode_tx_batch(ByteView batch);

/// Accumulates encoded transactions into one batch within the bounds above.
class TxBatchBuilder {
 public:
  /// Whether a transaction of `encoded_size` bytes fits in the batch now.
  bool fits(std::size_t encoded_size) const;
  /// Appends a transaction. Errc::limit if it does not fit (an empty or over-long transaction
  /// never does).
  Status add(ByteView encoded);

  std::size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// The size of the batch's encoding if it were taken now.
  std::size_t encoded_size() const { return 4 + body_.size(); }

  /// The batch's encoding; the builder is empty afterwards. Only for a non-empty batch.
  Bytes take();

 private:
  Bytes body_;  // the length-prefixed transactions, without the count
  std::size_t count_ = 0;
};

}  // namespace ol::types
