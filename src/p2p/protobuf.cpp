#include "p2p/protobuf.h"

#include <string>

#include "p2p/varint.h"

namespace ol::p2p::pb {

void put_varint_field(Bytes& out, std::uint32_t field, std::uint64_t v) {
  put_uvarint(out, (static_cast<std::uint64_t>(field) << 3) | 0);
  put_uvarint(out, v);
}

void put_bytes_field(Bytes& out, std::uint32_t field, ByteView v) {
  put_uvarint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  put_uvarint(out, v.size());
  append(out, v);
}

Status for_each_field(ByteView msg, const std::function<Status(const Field&)>& on_field) {
  WireReader r(msg);
  while (!r.empty()) {
    OL_TRY_ASSIGN(auto key, r.uvarint());
    Field f;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
      return make_error(Errc::decode, "protobuf: bad field number");
    }
    f.number = static_cast<std::uint32_t>(key >> 3);
    switch (key & 7) {
      case 0: {
        f.type = WireType::varint;
        OL_TRY_ASSIGN(f.varint, r.uvarint());
        break;
      }
      case 1: {
        f.type = WireType::i64;
        OL_TRY_ASSIGN(f.bytes, r.take(8));
        break;
      }
      case 2: {
        f.type = WireType::len;
        OL_TRY_ASSIGN(f.bytes, r.length_prefixed(msg.size()));
        break;
      }
      case 5: {
        f.type = WireType::i32;
        OL_TRY_ASSIGN(f.bytes, r.take(4));
        break;
      }
      default:
        return make_error(Errc::decode,
                          "protobuf: unsupported wire type " + std::to_string(key & 7));
    }
    OL_TRY(on_field(f));
  }
  return ok_status();
}

}  // namespace ol::p2p::pb
