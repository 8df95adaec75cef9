// The small subset of protobuf wire format that libp2p messages use (varint and length-delimited
// fields). Hand-written rather than generated so every decoder is bounded by its input and by an
// explicit per-field limit, and unknown fields are skipped, as protobuf requires.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace ol::p2p::pb {

enum class WireType : std::uint8_t { varint = 0, i64 = 1, len = 2, i32 = 5 };

void put_varint_field(Bytes& out, std::uint32_t field, std::uint64_t v);
void put_bytes_field(Bytes& out, std::uint32_t field, ByteView v);
inline void put_string_field(Bytes& out, std::uint32_t field, std::string_view s) {
  put_bytes_field(out, field, as_bytes(s));
}

/// One decoded field. For varint fields `varint` is set; for length-delimited ones `bytes`.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t varint = 0;
  ByteView bytes;
};

/// Calls `on_field` for each field of `msg` in order. Stops at the first malformed field, or
/// when `on_field` returns an error, and returns that error. Groups (wire types 3, 4) are rejected.
Status for_each_field(ByteView msg, const std::function<Status(const Field&)>& on_field);

}  // namespace ol::p2p::pb
