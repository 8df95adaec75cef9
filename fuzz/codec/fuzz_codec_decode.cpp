// Fuzzes the canonical decoder: any input either fails cleanly or decodes to a value whose
// re-encoding is byte-identical to the input (canonical: one encoding per value).
#include <cstdlib>

#include "codec/codec.h"
#include "crypto/multisig.h"

namespace {

struct Record {
  std::uint8_t tag = 0;
  std::uint64_t number = 0;
  bool flag = false;
  ol::Bytes blob;
  std::vector<ol::Bytes> list;
  std::optional<ol::FixedBytes<8>> id;

  void encode(ol::codec::Writer& w) const {
    w.u8(tag);
    if (tag == 0) {
      w.u64(number);
    } else {
      w.boolean(flag);
      w.bytes(blob);
      w.vec(list, [](ol::codec::Writer& ww, const ol::Bytes& b) { ww.bytes(b); });
    }
    w.optional(id, [](ol::codec::Writer& ww, const ol::FixedBytes<8>& v) { ww.fixed(v); });
  }
  static ol::Result<Record> decode(ol::codec::Reader& r) {
    Record rec;
    OL_TRY_ASSIGN(rec.tag, r.u8());
    if (rec.tag == 0) {
      OL_TRY_ASSIGN(rec.number, r.u64());
    } else if (rec.tag == 1) {
      OL_TRY_ASSIGN(rec.flag, r.boolean());
      OL_TRY_ASSIGN(rec.blob, r.bytes(256));
      OL_TRY_ASSIGN(rec.list,
                    r.vec<ol::Bytes>(16, 4, [](ol::codec::Reader& rr) { return rr.bytes(64); }));
    } else {
      return ol::codec::Reader::unknown_tag("record", rec.tag);
    }
    OL_TRY_ASSIGN(
        rec.id, r.optional<ol::FixedBytes<8>>([](ol::codec::Reader& rr) { return rr.fixed<8>(); }));
    return rec;
  }
};

template <typename T>
void check_canonical(ol::ByteView input) {
  auto decoded = ol::codec::decode_exact<T>(input);
  if (!decoded.ok()) return;
  ol::Bytes again = ol::codec::encode(*decoded);
  if (again.size() != input.size() || !std::equal(again.begin(), again.end(), input.begin())) {
    std::abort();  // two encodings for one value
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ol::ByteView input(data + 1, size - 1);
  switch (data[0] % 2) {
    case 0:
      check_canonical<Record>(input);
      break;
    case 1:
      check_canonical<ol::crypto::QuorumSignature>(input);
      break;
  }
  return 0;
}
