#include "p2p/identify.h"

#include "p2p/protobuf.h"

namespace ol::p2p::identify {

// Field numbers from the identify spec's Identify message.
enum : std::uint32_t {
  kPublicKey = 1,
  kListenAddrs = 2,
  kProtocols = 3,
  kObservedAddr = 4,
  kProtocolVersion = 5,
  kAgentVersion = 6,
};

Bytes encode(const Info& info) {
  Bytes out;
  pb::put_string_field(out, kProtocolVersion, info.protocol_version);
  pb::put_string_field(out, kAgentVersion, info.agent_version);
  if (!info.public_key.empty()) pb::put_bytes_field(out, kPublicKey, info.public_key);
  for (const auto& a : info.listen_addrs) pb::put_bytes_field(out, kListenAddrs, a.to_bytes());
  if (info.observed_addr) pb::put_bytes_field(out, kObservedAddr, info.observed_addr->to_bytes());
  for (const auto& p : info.protocols) pb::put_string_field(out, kProtocols, p);
  return out;
}

Result<Info> decode(ByteView msg) {
  if (msg.size() > kMaxMessage) return make_error(Errc::decode, "identify: message too large");
  Info info;
  std::size_t addrs = 0;
  OL_TRY(pb::for_each_field(msg, [&](const pb::Field& f) -> Status {
    if (f.type != pb::WireType::len) return ok_status();
    const std::string text(f.bytes.begin(), f.bytes.end());
    switch (f.number) {
      case kPublicKey:
        info.public_key = to_bytes(f.bytes);
        break;
      case kListenAddrs:
        if (++addrs > kMaxListEntries)
          return make_error(Errc::decode, "identify: too many addresses");
        if (auto a = Multiaddr::from_bytes(f.bytes)) info.listen_addrs.push_back(std::move(*a));
        break;
      case kProtocols:
        if (info.protocols.size() >= kMaxListEntries) {
          return make_error(Errc::decode, "identify: too many protocols");
        }
        info.protocols.push_back(text);
        break;
      case kObservedAddr:
        if (auto a = Multiaddr::from_bytes(f.bytes)) info.observed_addr = std::move(*a);
        break;
      case kProtocolVersion:
        info.protocol_version = text;
        break;
      case kAgentVersion:
        info.agent_version = text;
        break;
      default:
        break;
    }
    return ok_status();
  }));
  return info;
}

}  // namespace ol::p2p::identify
