// Canonical binary encoding for everything that is hashed or signed.
//
// Format:
//   - integers: fixed width, little-endian (u8, u16, u32, u64, i64);
//   - bool: one byte, 0 or 1 (anything else is non-canonical and rejected);
//   - byte strings: u32 length, then the bytes; every read names a maximum length;
//   - fixed arrays: the bytes, no length;
//   - vectors: u32 count, then the elements; every read names a maximum count;
//   - optionals: one byte 0 (absent) or 1 (present) then the value;
//   - tagged variants: one u8 tag, then the alternative's encoding; unknown tags are rejected.
// Encoding is deterministic: one byte string per value. Decoding is strict: truncation, trailing
// bytes (via `decode_exact`), over-bound lengths, unknown tags and non-canonical forms are errors,
// never exceptions, and no read allocates more than the remaining input could justify.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace ol::codec {

/// Appends canonical encodings to an owned buffer.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve) { buf_.reserve(reserve); }

  void u8(std::uint8_t v) { buf_.push_back(v); }
  void u16(std::uint16_t v) { put_le(v); }
  void u32(std::uint32_t v) { put_le(v); }
  void u64(std::uint64_t v) { put_le(v); }
  void i64(std::int64_t v) { put_le(static_cast<std::uint64_t>(v)); }
  void boolean(bool v) { buf_.push_back(v ? 1 : 0); }

  /// Raw bytes with no length prefix (fixed-size fields such as hashes and keys).
  void fixed(ByteView v) { append(buf_, v); }
  /// u32 length prefix then the bytes. The caller guarantees `v.size()` is within the bound its
  /// decoder declares; encoders of validated values never exceed it.
  void bytes(ByteView v) {
    u32(static_cast<std::uint32_t>(v.size()));
    append(buf_, v);
  }
  void string(std::string_view s) { bytes(as_bytes(s)); }

  /// u32 count then each element via `enc(Writer&, const T&)`.
  template <typename T, typename Enc>
  void vec(const std::vector<T>& items, Enc&& enc) {
    u32(static_cast<std::uint32_t>(items.size()));
    for (const auto& item : items) enc(*this, item);
  }

  template <typename T, typename Enc>
  void optional(const std::optional<T>& v, Enc&& enc) {
    boolean(v.has_value());
    if (v) enc(*this, *v);
  }

  const Bytes& data() const { return buf_; }
  Bytes take() { return std::move(buf_); }
  std::size_t size() const { return buf_.size(); }

 private:
  template <typename U>
  void put_le(U v) {
    for (std::size_t i = 0; i < sizeof(U); ++i)
      buf_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes buf_;
};

/// Reads canonical encodings from a borrowed byte view. Every read is bounds-checked; a failed
/// read leaves the position unspecified, so callers stop at the first error.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  Result<std::uint8_t> u8();
  Result<std::uint16_t> u16() { return get_le<std::uint16_t>(); }
  Result<std::uint32_t> u32() { return get_le<std::uint32_t>(); }
  Result<std::uint64_t> u64() { return get_le<std::uint64_t>(); }
  Result<std::int64_t> i64();
  Result<bool> boolean();

  /// Exactly N bytes.
  template <std::size_t N>
  Result<FixedBytes<N>> fixed() {
    OL_TRY(need(N, "fixed field"));
    FixedBytes<N> out;
    std::memcpy(out.data(), data_.data() + pos_, N);
    pos_ += N;
    return out;
  }
  /// A view of exactly `n` bytes (no copy).
  Result<ByteView> raw(std::size_t n);
  /// u32-prefixed bytes of at most `max_len`.
  Result<Bytes> bytes(std::size_t max_len);
  Result<std::string> string(std::size_t max_len);

  /// u32 count (at most `max_count`) then elements via `dec(Reader&) -> Result<T>`.
  /// `min_elem_size` (≥ 1) is the smallest encoding of one element; the count is checked against
  /// the remaining input with it before anything is reserved.
  template <typename T, typename Dec>
  Result<std::vector<T>> vec(std::size_t max_count, std::size_t min_elem_size, Dec&& dec) {
    OL_TRY_ASSIGN(std::uint32_t count, u32());
    if (count > max_count) return over_bound("vector count", count, max_count);
    if (min_elem_size == 0) min_elem_size = 1;
    if (count > remaining() / min_elem_size) return truncated("vector elements");
    std::vector<T> out;
    out.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      OL_TRY_ASSIGN(T item, dec(*this));
      out.push_back(std::move(item));
    }
    return out;
  }

  template <typename T, typename Dec>
  Result<std::optional<T>> optional(Dec&& dec) {
    OL_TRY_ASSIGN(std::uint8_t flag, u8());
    if (flag == 0) return std::optional<T>{};
    if (flag != 1) return non_canonical("optional flag " + std::to_string(flag));
    OL_TRY_ASSIGN(T v, dec(*this));
    return std::optional<T>(std::move(v));
  }

  /// Error unless every byte was consumed.
  Status finish() const;

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }

  static Error truncated(const char* what);
  static Error over_bound(const char* what, std::uint64_t got, std::uint64_t max);
  static Error non_canonical(const std::string& what);
  static Error unknown_tag(const char* what, std::uint64_t tag);

 private:
  Status need(std::size_t n, const char* what) const {
    if (remaining() < n) return truncated(what);
    return {};
  }
  template <typename U>
  Result<U> get_le() {
    OL_TRY(need(sizeof(U), "integer"));
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(U(data_[pos_ + i]) << (8 * i));
    pos_ += sizeof(U);
    return v;
  }

  ByteView data_;
  std::size_t pos_ = 0;
};

/// Types that encode canonically: `void encode(Writer&) const` and
/// `static Result<T> decode(Reader&)`.
template <typename T>
concept Encodable = requires(const T& t, Writer& w, Reader& r) {
  t.encode(w);
  { T::decode(r) } -> std::same_as<Result<T>>;
};

template <Encodable T>
Bytes encode(const T& value) {
  Writer w;
  value.encode(w);
  return w.take();
}

/// Decodes a whole buffer: the value must use every byte.
template <Encodable T>
Result<T> decode_exact(ByteView data) {
  Reader r(data);
  OL_TRY_ASSIGN(T value, T::decode(r));
  OL_TRY(r.finish());
  return value;
}

}  // namespace ol::codec
