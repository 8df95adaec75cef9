// Byte containers and views used across every layer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ol {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
template <std::size_t N>
using FixedBytes = std::array<std::uint8_t, N>;

/// A 32-byte digest (SHA-256 or Keccak-256 output, block and transaction hashes).
using Hash32 = FixedBytes<32>;

/// Views the characters of a string as bytes (no copy).
inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Copies a byte view into an owned vector.
inline Bytes to_bytes(ByteView v) {
  return Bytes(v.begin(), v.end());
}

/// Appends `src` to `dst`.
inline void append(Bytes& dst, ByteView src) {
  dst.insert(dst.end(), src.begin(), src.end());
}

/// Concatenates any number of byte views.
template <typename... Views>
Bytes concat(const Views&... views) {
  Bytes out;
  out.reserve((ByteView(views).size() + ... + 0));
  (append(out, ByteView(views)), ...);
  return out;
}

/// Constant-time comparison for secrets and MACs (sizes are public).
bool constant_time_equal(ByteView a, ByteView b);

/// Overwrites memory holding secrets so it does not linger after use.
void secure_wipe(void* data, std::size_t size);

}  // namespace ol
