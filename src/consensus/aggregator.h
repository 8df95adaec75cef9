// VoteAggregator and TimeoutAggregator: collect signed votes/timeouts per round until n - f
// distinct, valid, in-set signers agree, then form the certificate. Bad input is dropped and
// counted, never fatal.
#pragma once

#include <map>
#include <optional>

#include "crypto/validator_set.h"
#include "types/timeout.h"
#include "types/vote.h"

namespace ol::consensus {

using types::Round;
using types::ValidatorIndex;

/// Why inputs were dropped (observable in tests and metrics).
struct DropCounts {
  std::size_t wrong_round = 0;     // outside the accepted round window
  std::size_t unknown_signer = 0;  // index not in the validator set
  std::size_t bad_signature = 0;
  std::size_t duplicate = 0;     // same signer, same round, same content (replays)
  std::size_t equivocation = 0;  // same signer, same round, different block
  std::size_t after_quorum = 0;  // certificate for that round already formed
  std::size_t total() const {
    return wrong_round + unknown_signer + bad_signature + duplicate + equivocation + after_quorum;
  }
};

/// Accepted rounds: [min, max]. Inputs outside are dropped as wrong_round.
struct RoundWindow {
  Round min = 0;
  Round max = 0;
  bool contains(Round r) const { return r >= min && r <= max; }
};

class VoteAggregator {
 public:
  explicit VoteAggregator(const crypto::ValidatorSet& set) : set_(set) {}

  /// Adds `vote`; returns the QC the moment its block reaches a quorum (once per round). Once a
  /// round is certified, further votes for it are dropped (after_quorum) before their signature
  /// is checked: they could change nothing. `own` marks this replica's own vote, which its
  /// SafetyRules just signed: its signature is not checked again.
  std::optional<types::QuorumCert> add(const types::Vote& vote, RoundWindow window,
                                       bool own = false);
  /// Forgets rounds below `round`.
  void prune_below(Round round);
  const DropCounts& drops() const { return drops_; }

 private:
  struct RoundVotes {
    std::map<ValidatorIndex, types::Vote> by_voter;
    bool certified = false;
  };
  const crypto::ValidatorSet& set_;
  std::map<Round, RoundVotes> rounds_;
  DropCounts drops_;
};

class TimeoutAggregator {
 public:
  explicit TimeoutAggregator(const crypto::ValidatorSet& set) : set_(set) {}

  /// Adds `timeout` (its high_qc already verified by the caller); returns the TC the moment the
  /// round reaches a quorum of distinct signers (once per round). The TC's high_qc is the
  /// highest QC among the signers'.
  std::optional<types::TimeoutCert> add(const types::Timeout& timeout, RoundWindow window);
  void prune_below(Round round);
  /// Distinct valid signers collected for `round` so far.
  std::size_t count(Round round) const;
  const DropCounts& drops() const { return drops_; }

 private:
  struct RoundTimeouts {
    std::map<ValidatorIndex, types::Timeout> by_author;
    bool certified = false;
  };
  const crypto::ValidatorSet& set_;
  std::map<Round, RoundTimeouts> rounds_;
  DropCounts drops_;
};

}  // namespace ol::consensus
