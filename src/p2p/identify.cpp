#include "p2p/identify.h"

#include "p2p/proto/identify.pb.h"

namespace ol::p2p::identify {
namespace {

void set_bytes(std::string* field, ByteView v) {
  field->assign(reinterpret_cast<const char*>(v.data()), v.size());
}

Status check_length(const std::string& field, std::size_t max, std::string_view what) {
  if (field.size() <= max) return ok_status();
  return make_error(Errc::decode, "identify: " + std::string(what) + " of " +
                                      std::to_string(field.size()) + " bytes (bound " +
                                      std::to_string(max) + ")");
}

}  // namespace

Bytes encode(const Info& info) {
  proto::Identify pb;
  pb.set_protocolversion(info.protocol_version);
  pb.set_agentversion(info.agent_version);
  if (!info.public_key.empty()) set_bytes(pb.mutable_publickey(), info.public_key);
  for (const auto& a : info.listen_addrs) set_bytes(pb.add_listenaddrs(), a.to_bytes());
  if (info.observed_addr) set_bytes(pb.mutable_observedaddr(), info.observed_addr->to_bytes());
  for (const auto& p : info.protocols) pb.add_protocols(p);
  Bytes out(pb.ByteSizeLong());
  pb.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<Info> decode(ByteView msg) {
  // The size bound comes first: it is what bounds the parser's allocations.
  if (msg.size() > kMaxMessage) return make_error(Errc::decode, "identify: message too large");
  proto::Identify pb;
  if (!pb.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
    return make_error(Errc::decode, "identify: malformed message");
  }
  if (static_cast<std::size_t>(pb.listenaddrs_size()) > kMaxListEntries)
    return make_error(Errc::decode, "identify: too many addresses");
  if (static_cast<std::size_t>(pb.protocols_size()) > kMaxListEntries)
    return make_error(Errc::decode, "identify: too many protocols");
  OL_TRY(check_length(pb.protocolversion(), kMaxString, "protocol version"));
  OL_TRY(check_length(pb.agentversion(), kMaxString, "agent version"));
  OL_TRY(check_length(pb.publickey(), kMaxPublicKeyBytes, "public key"));
  OL_TRY(check_length(pb.observedaddr(), kMaxAddress, "observed address"));
  for (const auto& a : pb.listenaddrs()) OL_TRY(check_length(a, kMaxAddress, "listen address"));
  for (const auto& p : pb.protocols()) OL_TRY(check_length(p, kMaxString, "protocol id"));

  Info info;
  info.protocol_version = pb.protocolversion();
  info.agent_version = pb.agentversion();
  info.public_key = to_bytes(as_bytes(pb.publickey()));
  for (const auto& a : pb.listenaddrs()) {
    if (auto m = Multiaddr::from_bytes(as_bytes(a))) info.listen_addrs.push_back(std::move(*m));
  }
  if (pb.has_observedaddr()) {
    if (auto m = Multiaddr::from_bytes(as_bytes(pb.observedaddr())))
      info.observed_addr = std::move(*m);
  }
  info.protocols.assign(pb.protocols().begin(), pb.protocols().end());
  return info;
}

}  // namespace ol::p2p::identify
