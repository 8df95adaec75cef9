#include "types/tx_batch.h"

#include "codec/codec.h"
#include "types/transaction.h"

namespace ol::types {

namespace {
constexpr std::size_t kLengthPrefix = 4;  // codec byte strings and vector counts are u32
}  // namespace

Result<std::vector<ByteView>> decode_tx_batch(ByteView batch) {
  if (batch.size() > kMaxBatchBytes) {
    return codec::Reader::over_bound("transaction batch bytes", batch.size(), kMaxBatchBytes);
  }
  codec::Reader r(batch);
  OL_TRY_ASSIGN(std::uint32_t count, r.u32());
  if (count == 0) return make_error(Errc::decode, "empty transaction batch");
  if (count > kMaxBatchTxs) {
    return codec::Reader::over_bound("transaction batch count", count, kMaxBatchTxs);
  }
  // Each transaction takes at least its length prefix and one byte.
  if (count > r.remaining() / (kLengthPrefix + 1)) {
    return codec::Reader::truncated("transaction batch");
  }
  std::vector<ByteView> txs;
  txs.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    OL_TRY_ASSIGN(std::uint32_t len, r.u32());
    if (len == 0) return make_error(Errc::decode, "empty transaction in batch");
    if (len > Transaction::kMaxEncodedSize) {
      return codec::Reader::over_bound("batched transaction bytes", len,
                                       Transaction::kMaxEncodedSize);
    }
    OL_TRY_ASSIGN(ByteView tx, r.raw(len));
    txs.push_back(tx);
  }
  OL_TRY(r.finish());
  return txs;
}

bool TxBatchBuilder::fits(std::size_t encoded_size) const {
  return encoded_size > 0 && encoded_size <= Transaction::kMaxEncodedSize &&
         count_ < kMaxBatchTxs &&
         this->encoded_size() + kLengthPrefix + encoded_size <= kMaxBatchBytes;
}

Status TxBatchBuilder::add(ByteView encoded) {
  if (!fits(encoded.size())) {
    return make_error(Errc::limit, "transaction does not fit in the batch");
  }
  codec::Writer w(kLengthPrefix + encoded.size());
  w.bytes(encoded);
  append(body_, w.data());
  ++count_;
  return {};
}

Bytes TxBatchBuilder::take() {
  codec::Writer w(encoded_size());
  w.u32(static_cast<std::uint32_t>(count_));
  w.fixed(body_);
  body_.clear();
  count_ = 0;
  return w.take();
}

}  // namespace ol::types
