#include "codec/codec.h"

namespace ol::codec {

Result<std::uint8_t> Reader::u8() {
  OL_TRY(need(1, "u8"));
  return data_[pos_++];
}

Result<std::int64_t> Reader::i64() {
  OL_TRY_ASSIGN(std::uint64_t v, u64());
  return static_cast<std::int64_t>(v);
}

Result<bool> Reader::boolean() {
  OL_TRY_ASSIGN(std::uint8_t v, u8());
  if (v > 1) return non_canonical("bool byte " + std::to_string(v));
  return v == 1;
}

Result<ByteView> Reader::raw(std::size_t n) {
  OL_TRY(need(n, "raw bytes"));
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<Bytes> Reader::bytes(std::size_t max_len) {
  OL_TRY_ASSIGN(std::uint32_t len, u32());
  if (len > max_len) return over_bound("byte string length", len, max_len);
  OL_TRY_ASSIGN(ByteView view, raw(len));
  return to_bytes(view);
}

Result<std::string> Reader::string(std::size_t max_len) {
  OL_TRY_ASSIGN(Bytes b, bytes(max_len));
  return std::string(b.begin(), b.end());
}

Status Reader::finish() const {
  if (remaining() != 0) {
    return make_error(Errc::decode, std::to_string(remaining()) + " trailing bytes");
  }
  return {};
}

Error Reader::truncated(const char* what) {
  return make_error(Errc::decode, std::string("truncated input reading ") + what);
}

Error Reader::over_bound(const char* what, std::uint64_t got, std::uint64_t max) {
  return make_error(Errc::decode, std::string(what) + " " + std::to_string(got) + " above bound " +
                                      std::to_string(max));
}

Error Reader::non_canonical(const std::string& what) {
  return make_error(Errc::decode, "non-canonical " + what);
}

Error Reader::unknown_tag(const char* what, std::uint64_t tag) {
  return make_error(Errc::decode, std::string("unknown ") + what + " tag " + std::to_string(tag));
}

}  // namespace ol::codec
