#include "p2p/varint.h"

#include <string>

namespace ol::p2p {

void put_uvarint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

std::size_t uvarint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

Result<std::optional<DecodedVarint>> try_get_uvarint(ByteView in) {
  constexpr std::size_t kMaxBytes = 9;  // the multiformats spec caps varints at 63 bits
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i >= kMaxBytes) return make_error(Errc::decode, "varint longer than 9 bytes");
    const std::uint8_t b = in[i];
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) return make_error(Errc::decode, "varint not minimally encoded");
      return std::optional<DecodedVarint>(DecodedVarint{v, i + 1});
    }
  }
  if (in.size() >= kMaxBytes) return make_error(Errc::decode, "varint longer than 9 bytes");
  return std::optional<DecodedVarint>{};
}

Result<std::uint64_t> WireReader::uvarint() {
  OL_TRY_ASSIGN(auto d, try_get_uvarint(in_.subspan(pos_)));
  if (!d) return make_error(Errc::decode, "truncated varint");
  pos_ += d->size;
  return d->value;
}

Result<ByteView> WireReader::take(std::size_t n) {
  if (n > remaining()) {
    return make_error(Errc::decode,
                      "need " + std::to_string(n) + " bytes, have " + std::to_string(remaining()));
  }
  ByteView out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<ByteView> WireReader::length_prefixed(std::size_t max_len) {
  OL_TRY_ASSIGN(auto len, uvarint());
  if (len > max_len) {
    return make_error(Errc::decode,
                      "length " + std::to_string(len) + " above bound " + std::to_string(max_len));
  }
  return take(static_cast<std::size_t>(len));
}

}  // namespace ol::p2p
