#include "p2p/multistream.h"

#include "p2p/varint.h"

namespace ol::p2p::multistream {

Bytes encode_message(std::string_view text) {
  Bytes out;
  out.reserve(text.size() + 3);
  put_uvarint(out, text.size() + 1);
  append(out, as_bytes(text));
  out.push_back('\n');
  return out;
}

namespace {
Result<std::string> check_body(ByteView body) {
  if (body.empty() || body.back() != '\n') {
    return make_error(Errc::decode, "multistream: message does not end in newline");
  }
  return std::string(body.begin(), body.end() - 1);
}
}  // namespace

Result<std::optional<Decoded>> try_decode_message(ByteView in) {
  OL_TRY_ASSIGN(auto v, try_get_uvarint(in));
  if (!v) return std::optional<Decoded>{};
  if (v->value == 0 || v->value > kMaxMessage) {
    return make_error(Errc::decode,
                      "multistream: message length " + std::to_string(v->value) + " out of bounds");
  }
  const std::size_t total = v->size + static_cast<std::size_t>(v->value);
  if (in.size() < total) return std::optional<Decoded>{};
  OL_TRY_ASSIGN(auto text, check_body(in.subspan(v->size, v->value)));
  return std::optional<Decoded>(Decoded{std::move(text), total});
}

Task<Result<std::string>> read_message(ByteStream& s) {
  auto body = co_await read_length_prefixed(s, kMaxMessage);
  if (!body) co_return make_error(Errc::decode, "multistream: " + body.error().message);
  if (body->empty()) co_return make_error(Errc::decode, "multistream: empty message");
  co_return check_body(*body);
}

Task<Result<std::string>> select(ByteStream& s, const std::vector<std::string>& protocols) {
  if (protocols.empty()) co_return make_error(Errc::invalid_argument, "no protocols to propose");
  // Header and first proposal go out together (one round trip in the common case).
  OL_CO_TRY(co_await s.write(concat(encode_message(kProtocolId), encode_message(protocols[0]))));
  OL_CO_TRY_ASSIGN(auto header, co_await read_message(s));
  if (header != kProtocolId) {
    co_return make_error(Errc::decode, "multistream: unexpected header '" + header + "'");
  }
  for (std::size_t i = 0; i < protocols.size(); ++i) {
    if (i > 0) OL_CO_TRY(co_await s.write(encode_message(protocols[i])));
    OL_CO_TRY_ASSIGN(auto reply, co_await read_message(s));
    if (reply == protocols[i]) co_return reply;
    if (reply != kNotAvailable) {
      co_return make_error(Errc::decode, "multistream: unexpected reply '" + reply + "'");
    }
  }
  co_return make_error(Errc::not_found, "multistream: protocol not supported by remote");
}

Task<Result<std::string>> handle(ByteStream& s,
                                 const std::function<bool(std::string_view)>& supported) {
  OL_CO_TRY(co_await s.write(encode_message(kProtocolId)));
  OL_CO_TRY_ASSIGN(auto header, co_await read_message(s));
  if (header != kProtocolId) {
    co_return make_error(Errc::decode, "multistream: unexpected header '" + header + "'");
  }
  for (int i = 0; i < kMaxProposals; ++i) {
    OL_CO_TRY_ASSIGN(auto proposal, co_await read_message(s));
    if (proposal != "ls" && supported(proposal)) {
      OL_CO_TRY(co_await s.write(encode_message(proposal)));
      co_return proposal;
    }
    OL_CO_TRY(co_await s.write(encode_message(kNotAvailable)));
  }
  co_return make_error(Errc::limit, "multistream: too many proposals");
}

}  // namespace ol::p2p::multistream
