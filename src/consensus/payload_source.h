// Where proposals get their contents and where committed blocks are looked up.
#pragma once

#include <optional>

#include "types/block.h"

namespace ol::consensus {

/// Fills a leader's proposal. The mempool implements it in the node; tests use counters.
class PayloadSource {
 public:
  virtual ~PayloadSource() = default;
  /// The payload for a new block at `height` in `round`, extending `parent_id`.
  virtual types::Payload next_payload(types::Round round, types::Height height,
                                      const Hash32& parent_id) = 0;
};

/// Read access to committed blocks the replica has pruned from its tree (the node's block
/// store), used to answer peers' sync requests.
class CommittedBlocks {
 public:
  virtual ~CommittedBlocks() = default;
  virtual std::optional<types::Block> find(const Hash32& id) const = 0;
};

}  // namespace ol::consensus
