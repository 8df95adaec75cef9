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
inline constexpr std::size_t kMaxListEntries = 256;  // listen addresses; protocols
inline constexpr std::size_t kMaxString = 1024;      // a protocol id or version string
inline constexpr std::size_t kMaxAddress = 1024;     // one binary multiaddr

struct Info {
  std::string protocol_version;
  std::string agent_version;
  Bytes public_key;                     // PublicKey protobuf
  std::vector<Multiaddr> listen_addrs;  // unparseable entries are skipped
  std::optional<Multiaddr> observed_addr;
  std::vector<std::string> protocols;
};

Bytes encode(const Info& info);
/// Decodes an Identify message (Errc::decode on failure, never throws). Unknown fields are skipped.
/// Rejected: messages above kMaxMessage, truncated or malformed protobuf, more than
/// kMaxListEntries addresses or protocols, and strings, addresses or keys above their bounds.
/// Addresses within bounds that are not valid multiaddrs are skipped, as other libp2p nodes do.
Result<Info> decode(ByteView msg);

}  // namespace ol::p2p::identify
