#include "types/timeout.h"

#include <algorithm>

#include "crypto/hash.h"

namespace ol::types {

Hash32 timeout_digest(Round round, Round hqc_round) {
  codec::Writer w(16);
  w.u64(round);
  w.u64(hqc_round);
  return crypto::tagged_hash("openliquid/timeout/v1", w.data());
}

Status Timeout::verify_signature(const crypto::ValidatorSet& set) const {
  if (author >= set.size()) return make_error(Errc::verify, "timeout from unknown validator");
  if (high_qc.round >= round)
    return make_error(Errc::verify, "timeout's QC is not below its round");
  if (!crypto::ed25519_verify(set.key(author), timeout_digest(round, high_qc.round), signature)) {
    return make_error(Errc::verify,
                      "bad timeout signature from validator " + std::to_string(author));
  }
  return {};
}

Status Timeout::verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const {
  OL_TRY(verify_signature(set));
  return high_qc.verify(set, genesis_id);
}

void Timeout::encode(codec::Writer& w) const {
  w.u64(round);
  high_qc.encode(w);
  w.u32(author);
  w.fixed(signature.bytes);
}

Result<Timeout> Timeout::decode(codec::Reader& r) {
  Timeout t;
  OL_TRY_ASSIGN(t.round, r.u64());
  OL_TRY_ASSIGN(t.high_qc, QuorumCert::decode(r));
  OL_TRY_ASSIGN(t.author, r.u32());
  OL_TRY_ASSIGN(t.signature.bytes, r.fixed<64>());
  return t;
}

Status TimeoutCert::verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const {
  if (round == 0) return make_error(Errc::verify, "TC for round 0");
  const auto signers = signature.signers();
  if (hqc_rounds.size() != signers.size()) {
    return make_error(Errc::verify, "TC has " + std::to_string(hqc_rounds.size()) +
                                        " hqc rounds for " + std::to_string(signers.size()) +
                                        " signers");
  }
  if (hqc_rounds.empty()) return make_error(Errc::verify, "TC without signers");
  const Round max_hqc = *std::max_element(hqc_rounds.begin(), hqc_rounds.end());
  if (max_hqc >= round) return make_error(Errc::verify, "TC hqc round not below its round");
  if (high_qc.round != max_hqc) return make_error(Errc::verify, "TC's QC is not its highest");
  OL_TRY(signature.verify_each(set, [&](std::size_t signer) {
    const auto pos = std::lower_bound(signers.begin(), signers.end(), signer) - signers.begin();
    const Hash32 d = timeout_digest(round, hqc_rounds[static_cast<std::size_t>(pos)]);
    return Bytes(d.begin(), d.end());
  }));
  return high_qc.verify(set, genesis_id);
}

void TimeoutCert::encode(codec::Writer& w) const {
  w.u64(round);
  high_qc.encode(w);
  w.vec(hqc_rounds, [](codec::Writer& ww, Round r) { ww.u64(r); });
  signature.encode(w);
}

Result<TimeoutCert> TimeoutCert::decode(codec::Reader& r) {
  TimeoutCert tc;
  OL_TRY_ASSIGN(tc.round, r.u64());
  OL_TRY_ASSIGN(tc.high_qc, QuorumCert::decode(r));
  OL_TRY_ASSIGN(tc.hqc_rounds, r.vec<Round>(crypto::QuorumSignature::kMaxValidators, 8,
                                            [](codec::Reader& rr) { return rr.u64(); }));
  OL_TRY_ASSIGN(tc.signature, crypto::QuorumSignature::decode(r));
  if (tc.hqc_rounds.size() != tc.signature.signer_count()) {
    return make_error(Errc::decode, "TC hqc round count does not match its signers");
  }
  return tc;
}

}  // namespace ol::types
