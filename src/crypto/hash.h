// SHA-256 and Keccak-256 (both Crypto++) (Ethereum's pre-standard Keccak, not SHA3-256).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/bytes.h"

namespace ol::crypto {

Hash32 sha256(ByteView data);

/// Ethereum's Keccak-256 (padding 0x01, not SHA3's 0x06).
Hash32 keccak256(ByteView data);

/// Domain-separated digest: SHA-256(len(tag) as one byte || tag || data). Distinct tags give
/// unrelated digests, so a signature over one message kind never verifies as another.
Hash32 tagged_hash(std::string_view tag, ByteView data);

/// SipHash-2-4 (libsodium's crypto_shorthash) under a secret key drawn once per process. For
/// hash tables whose keys someone else chooses (transaction ids, block ids, gossip ids): without
/// the key nobody can aim many keys at one bucket. Not stable across processes; never persist
/// it or let it decide anything that has to agree between nodes.
std::uint64_t keyed_hash64(ByteView data) noexcept;

/// Hasher for hash tables keyed by 32-byte digests. The digests' own bytes are uniform, but the
/// keys' makers can grind them (one Keccak or SHA-256 per try), so the table's hash is keyed.
struct Hash32Hasher {
  std::size_t operator()(const Hash32& h) const noexcept {
    return static_cast<std::size_t>(keyed_hash64(h));
  }
};

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

// libstdc++'s unordered containers keep each element's hash code in its node only for a hasher
// that std::__is_fast_hash calls slow ("If not fast the hash-based containers will cache the
// hash code"), and by default every hasher is fast. A keyed hasher is a SipHash (~20-30 ns), and
// an uncached one is recomputed for every element on each rehash, on each erase (to find the
// predecessor in its bucket), and for the next node at each step of a lookup's bucket walk. The
// code costs 8 bytes per node. OL_SLOW_HASHER(H) says so for H; other standard libraries
// decide by themselves.
#if defined(__GLIBCXX__)
#define OL_SLOW_HASHER(H) \
  template <>             \
  struct std::__is_fast_hash<H> : std::false_type {}
#else
#define OL_SLOW_HASHER(H) static_assert(true)
#endif

OL_SLOW_HASHER(ol::crypto::Hash32Hasher);
