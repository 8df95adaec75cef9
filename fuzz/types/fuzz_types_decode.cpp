// Fuzzes every consensus-facing decoder: blocks, transactions, certificates, timeouts, the
// consensus message envelope and the transaction batches of the transactions gossip topic.
// Property: decoding never crashes, and whatever decodes re-encodes to exactly the input (one byte
// string per value).
#include <cstdint>
#include <cstdlib>

#include "consensus/messages.h"
#include "types/tx_batch.h"

namespace {

template <typename T>
void check(ol::ByteView data) {
  auto v = ol::codec::decode_exact<T>(data);
  if (!v.ok()) return;
  const ol::Bytes again = ol::codec::encode(*v);
  if (!std::equal(again.begin(), again.end(), data.begin(), data.end())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ol::ByteView rest(data + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      check<ol::types::Block>(rest);
      break;
    case 1:
      check<ol::types::Transaction>(rest);
      break;
    case 2:
      check<ol::types::QuorumCert>(rest);
      break;
    case 3:
      check<ol::types::TimeoutCert>(rest);
      break;
    case 4:
      check<ol::types::Timeout>(rest);
      break;
    case 5:
      check<ol::types::Vote>(rest);
      break;
    case 6: {
      auto txs = ol::types::decode_tx_batch(rest);
      if (!txs.ok()) break;
      ol::types::TxBatchBuilder builder;
      for (ol::ByteView tx : *txs) {
        if (!builder.add(tx).ok()) std::abort();  // what decoded must fit again
      }
      const ol::Bytes again = builder.take();
      if (!std::equal(again.begin(), again.end(), rest.begin(), rest.end())) std::abort();
      break;
    }
    default: {
      auto m = ol::consensus::decode_message(rest);
      if (m.ok()) {
        const ol::Bytes again = ol::consensus::encode_message(*m);
        if (!std::equal(again.begin(), again.end(), rest.begin(), rest.end())) std::abort();
      }
    }
  }
  return 0;
}
