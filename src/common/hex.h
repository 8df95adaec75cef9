// Hexadecimal text <-> bytes.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace ol {

/// Lower-case hex of `data`, with a "0x" prefix when `prefix` is true.
std::string to_hex(ByteView data, bool prefix = false);

/// Parses hex with or without a "0x"/"0X" prefix, either case. Errors on odd length or a
/// non-hex character (naming its position).
Result<Bytes> from_hex(std::string_view text);

/// Parses hex that must decode to exactly N bytes.
template <std::size_t N>
Result<FixedBytes<N>> from_hex_fixed(std::string_view text) {
  OL_TRY_ASSIGN(Bytes raw, from_hex(text));
  if (raw.size() != N) {
    return make_error(
        Errc::invalid_argument,
        "expected " + std::to_string(N) + " bytes of hex, got " + std::to_string(raw.size()));
  }
  FixedBytes<N> out{};
  std::copy(raw.begin(), raw.end(), out.begin());
  return out;
}

}  // namespace ol
