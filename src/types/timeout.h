// Timeout and TimeoutCert: the view change of two-chain HotStuff (Jolteon / DiemBFT v4 / Aptos).
#pragma once

#include <vector>

#include "crypto/ed25519.h"
#include "types/quorum_cert.h"

namespace ol::types {

/// The digest a validator signs to give up on `round` while holding a QC of `hqc_round`.
/// Tag "openliquid/timeout/v1". Binding hqc_round stops anyone from lowering it in a TC.
Hash32 timeout_digest(Round round, Round hqc_round);

/// One validator's signed statement "round `round` made no progress for me; my highest QC is
/// `high_qc`". The signature covers (round, high_qc.round) only; high_qc carries its own proof.
struct Timeout {
  Round round = 0;
  QuorumCert high_qc;
  ValidatorIndex author = 0;
  crypto::Ed25519Signature signature;

  /// Ok iff author is in `set`, high_qc.round < round, and the author's signature verifies
  /// (high_qc itself not checked: callers that cache verified QCs check it separately).
  Status verify_signature(const crypto::ValidatorSet& set) const;
  /// verify_signature, then high_qc verifies.
  Status verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const;

  void encode(codec::Writer& w) const;
  static Result<Timeout> decode(codec::Reader& r);
  bool operator==(const Timeout&) const = default;
};

/// n - f timeouts for one round.
///
/// Choice (as Aptos): the TC keeps every signer's hqc_round, one entry per signer in ascending
/// signer order, because each signer signed its own (round, hqc_round); and it carries the
/// highest of the signers' QCs itself, so a receiver can check `high_qc.round ==
/// max(hqc_rounds)` and adopt that QC without another round trip.
struct TimeoutCert {
  Round round = 0;
  QuorumCert high_qc;
  std::vector<Round> hqc_rounds;  // hqc_rounds[i] belongs to signature.signers()[i]
  crypto::QuorumSignature signature;

  /// The highest QC round any signer reported (the voting rule compares against it).
  Round highest_qc_round() const { return high_qc.round; }

  /// Ok iff round > 0, one hqc_round per signer, each hqc_round < round, high_qc.round is their
  /// maximum, a quorum of `set` signed timeout_digest(round, hqc_round_i), and high_qc verifies.
  Status verify(const crypto::ValidatorSet& set, const Hash32& genesis_id) const;

  void encode(codec::Writer& w) const;
  static Result<TimeoutCert> decode(codec::Reader& r);
  bool operator==(const TimeoutCert&) const = default;
};

}  // namespace ol::types
