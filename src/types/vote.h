// Vote: one validator's signed support for one block in one round.
#pragma once

#include "crypto/ed25519.h"
#include "types/quorum_cert.h"

namespace ol::types {

struct Vote {
  Hash32 block_id{};
  Round round = 0;
  ValidatorIndex voter = 0;
  crypto::Ed25519Signature signature;  // over vote_digest(block_id, round)

  /// Ok iff `voter` is in `set`, round > 0, and the signature verifies under the voter's key.
  Status verify(const crypto::ValidatorSet& set) const;

  void encode(codec::Writer& w) const;
  static Result<Vote> decode(codec::Reader& r);
  bool operator==(const Vote&) const = default;
};

}  // namespace ol::types
