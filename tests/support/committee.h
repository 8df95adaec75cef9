// A validator committee with fixed keys (seed byte i + 1 for validator i: the same keys on every
// run) and helpers that sign votes, QCs, timeouts and TCs with them. Shared by the crypto, types
// and consensus tests.
#pragma once

#include <utility>
#include <vector>

#include "crypto/multisig.h"
#include "crypto/validator_set.h"
#include "types/quorum_cert.h"
#include "types/timeout.h"
#include "types/vote.h"

namespace ol::testing {

struct Committee {
  std::vector<crypto::Ed25519KeyPair> keys;
  crypto::ValidatorSet set;

  static Committee make(std::size_t n) {
    std::vector<crypto::Ed25519KeyPair> keys;
    std::vector<crypto::Ed25519PublicKey> pubs;
    for (std::size_t i = 0; i < n; ++i) {
      FixedBytes<32> seed{};
      seed[0] = static_cast<std::uint8_t>(i + 1);
      keys.push_back(*crypto::Ed25519KeyPair::from_seed(seed));
      pubs.push_back(keys.back().public_key());
    }
    return Committee{std::move(keys), *crypto::ValidatorSet::create(std::move(pubs))};
  }

  /// A QuorumSignature over `msg` by the validators in `who`.
  crypto::QuorumSignature sign_by(ByteView msg, const std::vector<std::size_t>& who) const {
    std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
    for (auto i : who) parts.emplace_back(i, keys[i].sign(msg));
    return *crypto::QuorumSignature::from_parts(set.size(), parts);
  }

  types::Vote vote(types::ValidatorIndex i, const Hash32& block, types::Round round) const {
    return types::Vote{block, round, i, keys[i].sign(types::vote_digest(block, round))};
  }
  /// A QC signed by the first `signers` validators.
  types::QuorumCert qc(const Hash32& block, types::Round round, std::size_t signers) const {
    std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
    for (std::size_t i = 0; i < signers; ++i) {
      parts.emplace_back(i, keys[i].sign(types::vote_digest(block, round)));
    }
    return types::QuorumCert{block, round, *crypto::QuorumSignature::from_parts(set.size(), parts)};
  }
  /// A QC signed by exactly a quorum.
  types::QuorumCert qc(const Hash32& block, types::Round round) const {
    return qc(block, round, set.quorum());
  }
  types::Timeout timeout(types::ValidatorIndex i, types::Round round,
                         const types::QuorumCert& hqc) const {
    return types::Timeout{round, hqc, i, keys[i].sign(types::timeout_digest(round, hqc.round))};
  }
  /// A TC from the first hqc_rounds.size() validators, signer i reporting hqc_rounds[i].
  types::TimeoutCert tc(types::Round round, const std::vector<types::Round>& hqc_rounds,
                        const types::QuorumCert& high_qc) const {
    std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
    for (std::size_t i = 0; i < hqc_rounds.size(); ++i) {
      parts.emplace_back(i, keys[i].sign(types::timeout_digest(round, hqc_rounds[i])));
    }
    return types::TimeoutCert{round, high_qc, hqc_rounds,
                              *crypto::QuorumSignature::from_parts(set.size(), parts)};
  }
};

}  // namespace ol::testing
