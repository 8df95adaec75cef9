// QuorumCert: n - f validators voted for one block in one round.
#pragma once

#include "codec/codec.h"
#include "crypto/multisig.h"
#include "types/basic.h"

namespace ol::types {

/// The digest a validator signs to vote for `block_id` in `round`. Tag "openliquid/vote/v1": no
/// other message kind shares it, so a vote signature never verifies as a timeout or proposal.
Hash32 vote_digest(const Hash32& block_id, Round round);

/// Certifies `block_id` (proposed in `round`) with a quorum of votes over vote_digest.
///
/// Round 0 is reserved for the genesis certificate: it certifies genesis and carries no
/// signature (nothing precedes genesis to vote on it). Every other QC carries a QuorumSignature.
struct QuorumCert {
  Hash32 block_id{};
  Round round = 0;
  crypto::QuorumSignature signature;  // empty iff round == 0

  /// The certificate of the genesis block.
  static QuorumCert genesis(const Hash32& genesis_id);

  bool is_genesis() const { return round == 0; }

  /// Ok iff this is the genesis certificate of `genesis_id`, or a quorum of `set` signed
  /// vote_digest(block_id, round). Pure: no state.
  Status verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const;
  /// As `verify`, given `verified`, a certificate that has passed `verify`: if it certifies the
  /// same block in the same round, signatures identical to its own are not checked again (two
  /// validators may form certificates for one block from different votes).
  Status verify(const crypto::ValidatorSet& set, const Hash32& genesis_id,
                const QuorumCert& verified) const;

  /// block_id, round, then (for round > 0) the quorum signature.
  void encode(codec::Writer& w) const;
  static Result<QuorumCert> decode(codec::Reader& r);

  bool operator==(const QuorumCert&) const = default;
};

}  // namespace ol::types
