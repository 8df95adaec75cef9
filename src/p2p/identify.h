// identify (`/ipfs/id/1.0.0`): on a new stream the listener sends one varint-length-prefixed
// Identify protobuf describing itself and closes; the dialer reads it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "p2p/multiaddr.h"
#include "p2p/peer_id.h"

namespace ol::p2p::identify {

inline constexpr std::string_view kProtocolId = "/ipfs/id/1.0.0";
inline constexpr std::size_t kMaxMessage = 64 * 1024;
inline constexpr std::size_t kMaxListEntries = 256;

struct Info {
  std::string protocol_version;
  std::string agent_version;
  Bytes public_key;                     // PublicKey protobuf
  std::vector<Multiaddr> listen_addrs;  // unparseable entries are skipped
  std::optional<Multiaddr> observed_addr;
  std::vector<std::string> protocols;
};

Bytes encode(const Info& info);
/// Decodes an Identify message; lists longer than kMaxListEntries are an error.
Result<Info> decode(ByteView msg);

}  // namespace ol::p2p::identify
