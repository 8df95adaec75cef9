#include "types/vote.h"

namespace ol::types {

Status Vote::verify(const crypto::ValidatorSet& set) const {
  if (round == 0) return make_error(Errc::verify, "vote for round 0");
  if (voter >= set.size()) return make_error(Errc::verify, "vote from unknown validator");
  if (!crypto::ed25519_verify(set.key(voter), vote_digest(block_id, round), signature)) {
    return make_error(Errc::verify, "bad vote signature from validator " + std::to_string(voter));
  }
  return {};
}

void Vote::encode(codec::Writer& w) const {
  w.fixed(block_id);
  w.u64(round);
  w.u32(voter);
  w.fixed(signature.bytes);
}

Result<Vote> Vote::decode(codec::Reader& r) {
  Vote v;
  OL_TRY_ASSIGN(v.block_id, r.fixed<32>());
  OL_TRY_ASSIGN(v.round, r.u64());
  OL_TRY_ASSIGN(v.voter, r.u32());
  OL_TRY_ASSIGN(v.signature.bytes, r.fixed<64>());
  return v;
}

}  // namespace ol::types
