// The batches the crash writer writes and the crash test checks: batch i commits block i and
// writes kStateKeysPerBatch state keys, a QC and a shared "last" key, all in one WriteBatch.
#pragma once

#include <string>

#include "storage/write_batch.h"

namespace ol::storage::test {

inline constexpr int kStateKeysPerBatch = 16;

inline Hash32 block_hash(std::uint64_t i) {
  Hash32 h{};
  auto k = height_key(i);
  std::copy(k.begin(), k.end(), h.begin());
  h[31] = 0xb1;
  return h;
}

inline Bytes block_body(std::uint64_t i) {
  return Bytes(4096, static_cast<std::uint8_t>(i * 7));
}

inline std::string state_key(std::uint64_t i, int j) {
  return "k/" + std::to_string(1000000 + i) + "/" + std::to_string(j);
}

inline WriteBatch crash_batch(std::uint64_t i) {
  WriteBatch b;
  b.put_block(block_hash(i), block_body(i));
  b.commit_block(i, block_hash(i));
  b.put_qc(block_hash(i), as_bytes("qc" + std::to_string(i)));
  const std::string value(512, static_cast<char>('a' + i % 26));
  for (int j = 0; j < kStateKeysPerBatch; ++j)
    b.put_state(as_bytes(state_key(i, j)), as_bytes(value));
  b.put_state(as_bytes("last"), as_bytes(std::to_string(i)));
  return b;
}

}  // namespace ol::storage::test
