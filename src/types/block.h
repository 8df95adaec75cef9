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
  Hash32 state_root{};             // execution state after the parent (zero until execution lands)
  Payload payload;

  static constexpr std::size_t kMaxTransactions = 20'000;
  static constexpr std::size_t kMaxCommands = 20'000;
  static constexpr std::size_t kMaxCommandSize = 64 * 1024;

  /// The fixed genesis block: round 0, height 0, everything zero, no payload.
  static const Block& genesis();

  /// tagged_hash("openliquid/block/v1", header fields || payload digest). Computed on each call;
  /// holders cache it.
  Hash32 compute_id() const;
  /// tagged_hash("openliquid/payload/v1", canonical payload encoding).
  Hash32 payload_digest() const;

  std::size_t payload_size() const;

  /// Stateless well-formedness: genesis is exactly genesis(); otherwise round ≥ 1, height ≥ 1,
  /// justify certifies parent_id, and justify.round < round. Signatures and parent linkage
  /// (height, round order) are checked by whoever knows the validator set and the parent.
  Status validate_shape() const;

  void encode(codec::Writer& w) const;
  static Result<Block> decode(codec::Reader& r);
  bool operator==(const Block&) const = default;
};

/// Signed by a proposer over its block: tagged_hash("openliquid/proposal/v1", block id).
Hash32 proposal_digest(const Hash32& block_id);

}  // namespace ol::types
