// Multiaddr (multiformats): self-describing network addresses, in text ("/ip4/1.2.3.4/tcp/4001/
// p2p/12D3KooW...") and binary (<varint code><value>...) forms. Supported protocols: ip4, ip6,
// dns4, dns6, tcp, p2p; anything else is rejected rather than carried opaquely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "p2p/peer_id.h"

namespace ol::p2p {

enum class Proto : std::uint32_t { ip4 = 4, tcp = 6, ip6 = 41, dns4 = 54, dns6 = 55, p2p = 421 };

class Multiaddr {
 public:
  struct Component {
    Proto proto;
    Bytes value;  // binary value as on the wire (p2p: multihash bytes; dns: UTF-8 name)
    bool operator==(const Component&) const = default;
  };

  Multiaddr() = default;
  static Result<Multiaddr> parse(std::string_view text);
  static Result<Multiaddr> from_bytes(ByteView bytes);
  /// "/ip4/<host>/tcp/<port>" or "/ip6/..." for an IP literal.
  static Result<Multiaddr> from_ip_port(std::string_view ip, std::uint16_t port);

  std::string to_string() const;
  Bytes to_bytes() const;
  const std::vector<Component>& components() const { return parts_; }

  /// The TCP dial target, if the address is <ip4|ip6|dns4|dns6>/tcp[/p2p].
  enum class Family { v4, v6 };
  struct TcpTarget {
    std::string host;
    std::uint16_t port = 0;
    bool dns = false;
    Family family = Family::v4;  // ip6 and dns6 are v6
  };
  std::optional<TcpTarget> tcp_target() const;
  /// The /p2p component, if any.
  std::optional<PeerId> peer_id() const;
  /// This address with /p2p/<id> appended (or replaced).
  Multiaddr with_peer_id(const PeerId& id) const;
  /// This address without a trailing /p2p component.
  Multiaddr without_peer_id() const;

  bool operator==(const Multiaddr&) const = default;

 private:
  std::vector<Component> parts_;
};

}  // namespace ol::p2p
