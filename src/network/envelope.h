// The gossip envelope: what broadcast() actually publishes. u64 big-endian publish time
// (milliseconds since the Unix epoch, the publisher's wall clock) followed by the application
// data, so a receiver can measure propagation time. Receivers hand on only the data.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace ol::network {

inline constexpr std::size_t kEnvelopeHeader = 8;

inline Bytes wrap_gossip(ByteView data, std::uint64_t publish_ms) {
  Bytes out(kEnvelopeHeader + data.size());
  for (std::size_t i = 0; i < kEnvelopeHeader; ++i) {
    out[i] = static_cast<std::uint8_t>(publish_ms >> (8 * (kEnvelopeHeader - 1 - i)));
  }
  std::copy(data.begin(), data.end(), out.begin() + kEnvelopeHeader);
  return out;
}

struct GossipEnvelope {
  std::uint64_t publish_ms = 0;
  ByteView data;  // points into the unwrapped payload
};

/// nullopt if the payload is shorter than the header.
inline std::optional<GossipEnvelope> unwrap_gossip(ByteView payload) {
  if (payload.size() < kEnvelopeHeader) return std::nullopt;
  GossipEnvelope e;
  for (std::size_t i = 0; i < kEnvelopeHeader; ++i) e.publish_ms = (e.publish_ms << 8) | payload[i];
  e.data = payload.subspan(kEnvelopeHeader);
  return e;
}

}  // namespace ol::network
