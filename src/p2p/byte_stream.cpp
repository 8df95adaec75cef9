#include "p2p/byte_stream.h"

#include "p2p/varint.h"

namespace ol::p2p {

Task<Status> read_exact(ByteStream& s, std::span<std::uint8_t> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    auto n = co_await s.read_some(buf.subspan(got));
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error(Errc::io, "stream ended early");
    got += *n;
  }
  co_return ok_status();
}

Task<Result<Bytes>> read_length_prefixed(ByteStream& s, std::size_t max_len) {
  // The varint is read a byte at a time so nothing after the message is consumed.
  std::uint8_t hdr[10];
  std::size_t n = 0;
  std::uint64_t len = 0;
  for (;;) {
    if (n == sizeof hdr) co_return make_error(Errc::decode, "length varint too long");
    OL_CO_TRY(co_await read_exact(s, std::span(hdr + n, 1)));
    ++n;
    auto d = try_get_uvarint(ByteView(hdr, n));
    if (!d) co_return d.error();
    if (d->has_value()) {
      len = (*d)->value;
      break;
    }
  }
  if (len > max_len) {
    co_return make_error(Errc::limit, "message length " + std::to_string(len) + " above bound " +
                                          std::to_string(max_len));
  }
  Bytes out(static_cast<std::size_t>(len));
  OL_CO_TRY(co_await read_exact(s, out));
  co_return out;
}

Task<Status> write_length_prefixed(ByteStream& s, ByteView data) {
  Bytes out;
  out.reserve(data.size() + 10);
  put_uvarint(out, data.size());
  append(out, data);
  co_return co_await s.write(out);
}

}  // namespace ol::p2p
