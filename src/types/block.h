// Block: one proposal of the chain. Its id commits to every field, payload included.
#pragma once

#include <variant>
#include <vector>

#include "types/quorum_cert.h"
#include "types/transaction.h"

namespace ol::types {

/// Opaque commands (tests, simulator) or user transactions. Tag 0 = transactions, 1 = commands.
using Command = Bytes;
using Payload = std::variant<std::vector<Transaction>, std::vector<Command>>;

struct Block {
  Round round = 0;
  Height height = 0;
  Hash32 parent_id{};
  QuorumCert justify;  // certifies the parent: justify.block_id == parent_id
  ValidatorIndex proposer = 0;
  std::uint64_t timestamp_ms = 0;  // proposer's clock, Unix milliseconds
  // Execution anchoring. For each committed height in (exec_height - exec_roots.size(),
  // exec_height] the block carries exec_commitment(id of the block committed there, state root
  // after it): the heights anchored since its parent, so exec_height == parent.exec_height +
  // exec_roots.size() and the chain anchors every height once, in order. A proposer anchors what
  // it has executed; an honest validator votes only if every entry equals its own, so a certified
  // block vouches for them (divergence is caught, and a state snapshot of any anchored height is
  // verifiable against the block's QC).
  Height exec_height = 0;
  std::vector<Hash32> exec_roots;
  Payload payload;

  static constexpr std::size_t kMaxTransactions = 20'000;
  static constexpr std::size_t kMaxCommands = 20'000;
  static constexpr std::size_t kMaxCommandSize = 64 * 1024;
  static constexpr std::size_t kMaxExecRoots = 64;

  /// The fixed genesis block: round 0, height 0, everything zero, no payload.
  static const Block& genesis();

  /// tagged_hash("openliquid/block/v1", header fields || payload digest). Computed on each call;
  /// holders cache it.
  Hash32 compute_id() const;
  /// tagged_hash("openliquid/payload/v1", canonical payload encoding).
  Hash32 payload_digest() const;

  std::size_t payload_size() const;

  /// The first height this block anchors (exec_height + 1 when it anchors none).
  Height first_exec_height() const { return exec_height + 1 - exec_roots.size(); }
  /// The root this block anchors for height `h`, if it anchors `h`.
  const Hash32* exec_root_at(Height h) const {
    if (h < first_exec_height() || h > exec_height) return nullptr;
    return &exec_roots[h - first_exec_height()];
  }

  /// Stateless well-formedness: genesis is exactly genesis(); otherwise round ≥ 1, height ≥ 1,
  /// justify certifies parent_id, justify.round < round, at most kMaxExecRoots roots, and the
  /// anchored heights lie in [1, height - 1]. Signatures and parent linkage
  /// (height, round order) are checked by whoever knows the validator set and the parent.
  Status validate_shape() const;

  void encode(codec::Writer& w) const;
  static Result<Block> decode(codec::Reader& r);
  bool operator==(const Block&) const = default;
};

/// One anchored height: tagged_hash("openliquid/exec/v1", block_id || state_root).
Hash32 exec_commitment(const Hash32& block_id, const Hash32& state_root);

/// Signed by a proposer over its block: tagged_hash("openliquid/proposal/v1", block id).
Hash32 proposal_digest(const Hash32& block_id);

}  // namespace ol::types
