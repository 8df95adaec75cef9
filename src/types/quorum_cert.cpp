#include "types/quorum_cert.h"

#include "crypto/hash.h"

namespace ol::types {

Hash32 vote_digest(const Hash32& block_id, Round round) {
  codec::Writer w(40);
  w.fixed(block_id);
  w.u64(round);
  return crypto::tagged_hash("openliquid/vote/v1", w.data());
}

QuorumCert QuorumCert::genesis(const Hash32& genesis_id) {
  QuorumCert qc;
  qc.block_id = genesis_id;
  return qc;
}

namespace {
/// A quorum signature's verdict, in the words of the QC it belongs to.
Status qc_status(Round round, const Status& s) {
  if (!s)
    return make_error(Errc::verify, "QC round " + std::to_string(round) + ": " + s.error().message);
  return {};
}
}  // namespace

Status QuorumCert::verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const {
  if (round == 0) {
    if (block_id != genesis_id)
      return make_error(Errc::verify, "round-0 QC for a non-genesis block");
    return {};
  }
  return qc_status(round, signature.verify(set, vote_digest(block_id, round)));
}

Status QuorumCert::verify(const crypto::ValidatorSet& set, const Hash32& genesis_id,
                          const QuorumCert& verified) const {
  if (round == 0 || verified.round != round || verified.block_id != block_id) {
    return verify(set, genesis_id);
  }
  return qc_status(round, signature.verify(set, vote_digest(block_id, round), verified.signature));
}

void QuorumCert::encode(codec::Writer& w) const {
  w.fixed(block_id);
  w.u64(round);
  if (round != 0) signature.encode(w);
}

Result<QuorumCert> QuorumCert::decode(codec::Reader& r) {
  QuorumCert qc;
  OL_TRY_ASSIGN(qc.block_id, r.fixed<32>());
  OL_TRY_ASSIGN(qc.round, r.u64());
  if (qc.round != 0) {
    OL_TRY_ASSIGN(qc.signature, crypto::QuorumSignature::decode(r));
  }
  return qc;
}

}  // namespace ol::types
