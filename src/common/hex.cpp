#include "common/hex.h"

namespace ol {
namespace {
int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(ByteView data, bool prefix) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2 + (prefix ? 2 : 0));
  if (prefix) out += "0x";
  for (auto b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<Bytes> from_hex(std::string_view text) {
  std::size_t offset = 0;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) offset = 2;
  text.remove_prefix(offset);
  if (text.size() % 2 != 0) {
    return make_error(Errc::invalid_argument,
                      "hex string has odd length " + std::to_string(text.size()));
  }
  Bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(text[2 * i]);
    int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      std::size_t pos = offset + 2 * i + (hi < 0 ? 0 : 1);
      return make_error(Errc::invalid_argument,
                        "invalid hex character at position " + std::to_string(pos));
    }
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

}  // namespace ol
