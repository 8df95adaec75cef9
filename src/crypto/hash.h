// SHA-256 and Keccak-256 (both Crypto++) (Ethereum's pre-standard Keccak, not SHA3-256).
#pragma once

#include <string_view>

#include "common/bytes.h"

namespace ol::crypto {

Hash32 sha256(ByteView data);

/// Ethereum's Keccak-256 (padding 0x01, not SHA3's 0x06).
Hash32 keccak256(ByteView data);

/// Domain-separated digest: SHA-256(len(tag) as one byte || tag || data). Distinct tags give
/// unrelated digests, so a signature over one message kind never verifies as another.
Hash32 tagged_hash(std::string_view tag, ByteView data);

/// Incremental SHA-256 for large or streamed inputs.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteView data);
  Hash32 finish();

  struct State {
    alignas(64) unsigned char bytes[512];
  };

 private:
  State state_;
};

}  // namespace ol::crypto
