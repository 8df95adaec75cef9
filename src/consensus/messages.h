// The consensus wire messages. Each is a tagged alternative of Message; the tag is the index.
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "types/block.h"
#include "types/timeout.h"
#include "types/vote.h"

namespace ol::consensus {

using types::Block;
using types::Height;
using types::QuorumCert;
using types::Round;
using types::Timeout;
using types::TimeoutCert;
using types::ValidatorIndex;
using types::Vote;

/// A leader's block for its round, signed over proposal_digest(block id). `tc` is present when
/// the block follows a timed-out round (block.round == tc.round + 1): the TC is what makes it
/// votable.
struct ProposalMsg {
  Block block;
  std::optional<TimeoutCert> tc;
  crypto::Ed25519Signature signature;
};

/// A signed timeout plus the sender's latest TC, so a receiver one round behind catches up.
struct TimeoutMsg {
  Timeout timeout;
  std::optional<TimeoutCert> last_tc;
};

/// Certificates only: the highest QC and latest TC a replica knows (catch-up for lagging peers).
struct SyncInfo {
  QuorumCert high_qc;
  std::optional<TimeoutCert> last_tc;
};

/// "Send me block `block_id` and its ancestors above height `above_height`, newest first."
struct SyncRequest {
  Hash32 block_id{};
  Height above_height = 0;
};

/// Answer to a SyncRequest: a parent-linked chain, newest first, at most kMaxSyncBlocks.
struct SyncResponse {
  std::vector<Block> blocks;
};

inline constexpr std::size_t kMaxSyncBlocks = 64;

using Message = std::variant<ProposalMsg, Vote, TimeoutMsg, SyncInfo, SyncRequest, SyncResponse>;

/// Short kind name for logs and traces ("proposal", "vote", ...).
const char* message_kind(const Message& m);

Bytes encode_message(const Message& m);
/// Strict: unknown tag, truncation, trailing bytes or an over-bound field is an error.
Result<Message> decode_message(ByteView data);

}  // namespace ol::consensus
