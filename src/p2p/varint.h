// Unsigned LEB128 varints as libp2p uses them (multiformats unsigned-varint): at most 9 bytes,
// minimal encoding required so one value has exactly one wire form.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/result.h"

namespace ol::p2p {

/// Appends the varint encoding of `v` to `out`.
void put_uvarint(Bytes& out, std::uint64_t v);

/// Number of bytes put_uvarint would append.
std::size_t uvarint_size(std::uint64_t v);

struct DecodedVarint {
  std::uint64_t value = 0;
  std::size_t size = 0;  // bytes consumed
};

/// Decodes a varint at the start of `in`. Returns nullopt when `in` ends before the varint does
/// (more bytes needed); an error when it is longer than 9 bytes or not minimally encoded.
Result<std::optional<DecodedVarint>> try_get_uvarint(ByteView in);

/// Cursor over a byte view for the small libp2p wire formats (multiaddr, protobuf, CID).
/// Every read is bounded by the view; failures leave the cursor unspecified.
class WireReader {
 public:
  explicit WireReader(ByteView in) : in_(in) {}
  bool empty() const { return pos_ >= in_.size(); }
  std::size_t remaining() const { return in_.size() - pos_; }
  Result<std::uint64_t> uvarint();
  Result<ByteView> take(std::size_t n);
  /// A varint length followed by that many bytes (at most `max_len`).
  Result<ByteView> length_prefixed(std::size_t max_len);

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

}  // namespace ol::p2p
