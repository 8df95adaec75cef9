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

  /// The state roots a new block on `parent` anchors (see types::Block): heights from
  /// parent.exec_height + 1 up to what this node has executed and at most `committed` (what the
  /// new block's chain of certificates commits, so that every voter has executed it: see
  /// Replica::committed_by_chain), at most Block::kMaxExecRoots of them.
  /// The default (no execution: tests, simulator) anchors nothing new.
  struct ExecAnchor {
    types::Height height = 0;
    std::vector<Hash32> roots;
  };
  virtual ExecAnchor exec_anchor(const types::Block& parent, types::Height /*committed*/) {
    return {parent.exec_height, {}};
  }

  /// Last word before this replica votes for `block` (id `id`), after the consensus rules
  /// passed: what only the application can judge (its anchored execution entries, replayed
  /// transactions). False = no vote (always safe). The default accepts.
  virtual bool votable(const types::Block& /*block*/, const Hash32& /*id*/) { return true; }

  /// The timestamp (Unix ms) of the block next_payload just filled, given the time of the
  /// input that made this replica propose. A source that waits for transactions in next_payload
  /// answers the time after its wait; the default (no wait: tests, simulator) is `input_ms`.
  virtual std::uint64_t proposal_time_ms(std::uint64_t input_ms) { return input_ms; }
};

/// Read access to committed blocks the replica has pruned from its tree (the node's block
/// store), used to answer peers' sync requests.
class CommittedBlocks {
 public:
  virtual ~CommittedBlocks() = default;
  virtual std::optional<types::Block> find(const Hash32& id) const = 0;
};

}  // namespace ol::consensus
