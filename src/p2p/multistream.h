// multistream-select 1.0 (`/multistream/1.0.0`): agreeing on the protocol spoken over a fresh
// connection or stream. Each message is varint(len) || text || '\n'; messages are bounded to
// kMaxMessage bytes and a listener answers at most kMaxProposals proposals before giving up.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "p2p/byte_stream.h"

namespace ol::p2p::multistream {

inline constexpr std::string_view kProtocolId = "/multistream/1.0.0";
inline constexpr std::string_view kNotAvailable = "na";
inline constexpr std::size_t kMaxMessage = 1024;
inline constexpr int kMaxProposals = 32;

/// varint(len(text)+1) || text || '\n'.
Bytes encode_message(std::string_view text);

struct Decoded {
  std::string text;  // without the trailing newline
  std::size_t size;  // bytes consumed
};
/// Decodes one message at the start of `in`: nullopt if more bytes are needed; an error when the
/// length is zero or above kMaxMessage, or the message does not end in '\n'.
Result<std::optional<Decoded>> try_decode_message(ByteView in);

/// Reads exactly one message from `s`.
Task<Result<std::string>> read_message(ByteStream& s);

/// Dialer side: proposes `protocols` in order until the listener accepts one; returns it.
/// Errc::not_found when the listener declines all of them.
Task<Result<std::string>> select(ByteStream& s, const std::vector<std::string>& protocols);

/// Listener side: answers proposals until one satisfies `supported`; returns it.
Task<Result<std::string>> handle(ByteStream& s,
                                 const std::function<bool(std::string_view)>& supported);

}  // namespace ol::p2p::multistream
