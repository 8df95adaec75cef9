// What the core asks its host to do. Effects are returned in order and must be applied in order.
#pragma once

#include <variant>
#include <vector>

#include "consensus/messages.h"

namespace ol::consensus {

/// Send `message` to validator `to`.
struct SendTo {
  ValidatorIndex to = 0;
  Message message;
};
/// Send `message` to every other validator.
struct Broadcast {
  Message message;
};
/// Store `block` (it entered the block tree); recovery after a crash may re-offer it.
struct PersistBlock {
  Block block;
  Hash32 id;  // block.compute_id(): the replica has it already, and hashing a block is not free
};
/// `block` is final. Commits arrive in height order, each height exactly once; `certificate` is a
/// QC for the block (the proof a light client or syncing peer checks).
struct Commit {
  Block block;
  QuorumCert certificate;
};
/// Ask validator `to` for a block and its missing ancestors (answered by a SyncResponse).
struct RequestBlocks {
  ValidatorIndex to = 0;
  SyncRequest request;
};
/// Call Replica::on_timer(round) after `duration_ms`. Replaces any pending timer.
struct SetTimer {
  Round round = 0;
  std::uint64_t duration_ms = 0;
};

using Effect = std::variant<SendTo, Broadcast, PersistBlock, Commit, RequestBlocks, SetTimer>;
using Effects = std::vector<Effect>;

}  // namespace ol::consensus
