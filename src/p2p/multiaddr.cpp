#include "p2p/multiaddr.h"

#include <arpa/inet.h>

#include <charconv>

#include "p2p/varint.h"

namespace ol::p2p {
namespace {

constexpr std::size_t kMaxMultiaddrBytes = 1024;
constexpr std::size_t kMaxDnsName = 255;

struct ProtoInfo {
  Proto proto;
  std::string_view name;
  int size;  // fixed value size in bytes, or -1 for varint-length-prefixed
};
constexpr ProtoInfo kProtos[] = {
    {Proto::ip4, "ip4", 4},    {Proto::tcp, "tcp", 2},    {Proto::ip6, "ip6", 16},
    {Proto::dns4, "dns4", -1}, {Proto::dns6, "dns6", -1}, {Proto::p2p, "p2p", -1},
};

const ProtoInfo* by_name(std::string_view name) {
  for (const auto& p : kProtos) {
    if (p.name == name || (p.proto == Proto::p2p && name == "ipfs")) return &p;
  }
  return nullptr;
}
const ProtoInfo* by_code(std::uint64_t code) {
  for (const auto& p : kProtos) {
    if (static_cast<std::uint64_t>(p.proto) == code) return &p;
  }
  return nullptr;
}

Status check_value(Proto proto, ByteView v) {
  switch (proto) {
    case Proto::dns4:
    case Proto::dns6:
      if (v.empty() || v.size() > kMaxDnsName)
        return make_error(Errc::decode, "multiaddr: bad dns name");
      for (auto c : v) {
        if (c == '/' || c < 0x21 || c > 0x7e)
          return make_error(Errc::decode, "multiaddr: bad dns name");
      }
      return ok_status();
    case Proto::p2p:
      return PeerId::from_bytes(v).ok() ? ok_status()
                                        : make_error(Errc::decode, "multiaddr: bad p2p multihash");
    default:
      return ok_status();
  }
}

Result<Bytes> value_from_text(Proto proto, std::string_view text) {
  const std::string s(text);
  switch (proto) {
    case Proto::ip4: {
      Bytes v(4);
      if (inet_pton(AF_INET, s.c_str(), v.data()) != 1) {
        return make_error(Errc::decode, "multiaddr: bad ip4 address '" + s + "'");
      }
      return v;
    }
    case Proto::ip6: {
      Bytes v(16);
      if (inet_pton(AF_INET6, s.c_str(), v.data()) != 1) {
        return make_error(Errc::decode, "multiaddr: bad ip6 address '" + s + "'");
      }
      return v;
    }
    case Proto::tcp: {
      unsigned port = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
      if (ec != std::errc() || ptr != s.data() + s.size() || port > 65535 || s.empty()) {
        return make_error(Errc::decode, "multiaddr: bad tcp port '" + s + "'");
      }
      return Bytes{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    }
    case Proto::dns4:
    case Proto::dns6:
      OL_TRY(check_value(proto, as_bytes(s)));
      return ol::to_bytes(as_bytes(s));
    case Proto::p2p: {
      OL_TRY_ASSIGN(auto id, PeerId::parse(s));
      return id.bytes();
    }
  }
  return make_error(Errc::decode, "multiaddr: unsupported protocol");
}

std::string value_to_text(Proto proto, const Bytes& v) {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (proto) {
    case Proto::ip4:
      inet_ntop(AF_INET, v.data(), buf, sizeof buf);
      return buf;
    case Proto::ip6:
      inet_ntop(AF_INET6, v.data(), buf, sizeof buf);
      return buf;
    case Proto::tcp:
      return std::to_string((v[0] << 8) | v[1]);
    case Proto::dns4:
    case Proto::dns6:
      return std::string(v.begin(), v.end());
    case Proto::p2p:
      return base58btc_encode(v);
  }
  return {};
}

}  // namespace

Result<Multiaddr> Multiaddr::parse(std::string_view text) {
  if (text.size() > 4 * kMaxMultiaddrBytes) return make_error(Errc::decode, "multiaddr too long");
  if (text.empty() || text[0] != '/')
    return make_error(Errc::decode, "multiaddr must start with '/'");
  Multiaddr ma;
  std::size_t pos = 1;
  auto next = [&]() -> std::optional<std::string_view> {
    if (pos > text.size()) return std::nullopt;
    const auto end = std::min(text.find('/', pos), text.size());
    auto tok = text.substr(pos, end - pos);
    pos = end + 1;
    return tok;
  };
  while (pos < text.size()) {
    auto name = next();
    if (!name || name->empty()) return make_error(Errc::decode, "multiaddr: empty protocol name");
    const ProtoInfo* info = by_name(*name);
    if (!info)
      return make_error(Errc::decode,
                        "multiaddr: unsupported protocol '" + std::string(*name) + "'");
    auto val = next();
    if (!val) return make_error(Errc::decode, "multiaddr: missing value for " + std::string(*name));
    OL_TRY_ASSIGN(auto bytes, value_from_text(info->proto, *val));
    ma.parts_.push_back({info->proto, std::move(bytes)});
  }
  if (ma.parts_.empty()) return make_error(Errc::decode, "multiaddr: no components");
  // The same bound as from_bytes: what parses must also encode into a decodable address.
  if (ma.to_bytes().size() > kMaxMultiaddrBytes)
    return make_error(Errc::decode, "multiaddr too long (over " +
                                        std::to_string(kMaxMultiaddrBytes) + " bytes encoded)");
  return ma;
}

Result<Multiaddr> Multiaddr::from_bytes(ByteView bytes) {
  if (bytes.size() > kMaxMultiaddrBytes) return make_error(Errc::decode, "multiaddr too long");
  WireReader r(bytes);
  Multiaddr ma;
  while (!r.empty()) {
    OL_TRY_ASSIGN(auto code, r.uvarint());
    const ProtoInfo* info = by_code(code);
    if (!info)
      return make_error(Errc::decode,
                        "multiaddr: unsupported protocol code " + std::to_string(code));
    ByteView v;
    if (info->size >= 0) {
      OL_TRY_ASSIGN(v, r.take(static_cast<std::size_t>(info->size)));
    } else {
      OL_TRY_ASSIGN(v, r.length_prefixed(kMaxMultiaddrBytes));
    }
    OL_TRY(check_value(info->proto, v));
    ma.parts_.push_back({info->proto, ol::to_bytes(v)});
  }
  if (ma.parts_.empty()) return make_error(Errc::decode, "multiaddr: no components");
  return ma;
}

Result<Multiaddr> Multiaddr::from_ip_port(std::string_view ip, std::uint16_t port) {
  const bool v6 = ip.find(':') != std::string_view::npos;
  return parse(std::string(v6 ? "/ip6/" : "/ip4/") + std::string(ip) + "/tcp/" +
               std::to_string(port));
}

std::string Multiaddr::to_string() const {
  std::string out;
  for (const auto& c : parts_) {
    out += '/';
    out += by_code(static_cast<std::uint64_t>(c.proto))->name;
    out += '/';
    out += value_to_text(c.proto, c.value);
  }
  return out;
}

Bytes Multiaddr::to_bytes() const {
  Bytes out;
  for (const auto& c : parts_) {
    put_uvarint(out, static_cast<std::uint64_t>(c.proto));
    if (by_code(static_cast<std::uint64_t>(c.proto))->size < 0) put_uvarint(out, c.value.size());
    append(out, c.value);
  }
  return out;
}

std::optional<Multiaddr::TcpTarget> Multiaddr::tcp_target() const {
  if (parts_.size() < 2 || parts_[1].proto != Proto::tcp) return std::nullopt;
  if (parts_.size() > 3 || (parts_.size() == 3 && parts_[2].proto != Proto::p2p))
    return std::nullopt;
  const auto& host = parts_[0];
  if (host.proto == Proto::tcp || host.proto == Proto::p2p) return std::nullopt;
  TcpTarget t;
  t.host = value_to_text(host.proto, host.value);
  t.port = static_cast<std::uint16_t>((parts_[1].value[0] << 8) | parts_[1].value[1]);
  t.dns = host.proto == Proto::dns4 || host.proto == Proto::dns6;
  t.family = host.proto == Proto::ip6 || host.proto == Proto::dns6 ? Family::v6 : Family::v4;
  return t;
}

std::optional<PeerId> Multiaddr::peer_id() const {
  if (parts_.empty() || parts_.back().proto != Proto::p2p) return std::nullopt;
  auto id = PeerId::from_bytes(parts_.back().value);
  if (!id) return std::nullopt;
  return *id;
}

Multiaddr Multiaddr::with_peer_id(const PeerId& id) const {
  Multiaddr out = without_peer_id();
  out.parts_.push_back({Proto::p2p, id.bytes()});
  return out;
}

Multiaddr Multiaddr::without_peer_id() const {
  Multiaddr out = *this;
  if (!out.parts_.empty() && out.parts_.back().proto == Proto::p2p) out.parts_.pop_back();
  return out;
}

}  // namespace ol::p2p
