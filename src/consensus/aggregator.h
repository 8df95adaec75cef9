// VoteAggregator and TimeoutAggregator: collect signed votes/timeouts per round until n - f
// distinct, valid, in-set signers agree, then form the certificate. Bad input is dropped and
// counted, never fatal.
//
// The caller hands over only votes and timeouts that arrived from their signer, on the signer's
// own authenticated channel (Replica drops any other), so a signer's messages can only be its
// own doing. That lets each aggregator check at most one signature per signer and round: the
// first message decides, and whatever else the signer sends for that round is dropped unchecked
// (it could add nothing). A faulty validator therefore costs the others no more signature checks
// than an honest one, however many messages it sends.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <set>

#include "crypto/validator_set.h"
#include "types/timeout.h"
#include "types/vote.h"

namespace ol::consensus {

using types::Round;
using types::ValidatorIndex;

/// Why inputs were dropped (observable in tests and metrics).
struct DropCounts {
  std::size_t stale = 0;           // for a round below the window: already left (late votes)
  std::size_t wrong_round = 0;     // for a round above the window: too far ahead
  std::size_t unknown_signer = 0;  // index not in the validator set
  std::size_t bad_signature = 0;
  /// The signer's first message this round had a bad signature: the rest are not checked.
  std::size_t after_bad_signature = 0;
  std::size_t duplicate = 0;     // same signer and round as a kept one, same block (unchecked)
  std::size_t equivocation = 0;  // same signer and round as a kept one, other block (unchecked)
  std::size_t after_quorum = 0;  // certificate for that round already formed
  std::size_t total() const {
    return stale + wrong_round + unknown_signer + bad_signature + after_bad_signature + duplicate +
           equivocation + after_quorum;
  }
  /// The counts in the order of kReasons (the names metrics use).
  static constexpr std::array<const char*, 8> kReasons = {
      "stale",     "wrong_round",  "unknown_signer", "bad_signature", "after_bad_signature",
      "duplicate", "equivocation", "after_quorum"};
  std::array<std::size_t, kReasons.size()> by_reason() const {
    return {stale,     wrong_round,  unknown_signer, bad_signature, after_bad_signature,
            duplicate, equivocation, after_quorum};
  }
};

/// Accepted rounds: [min, max]. Inputs below are dropped as stale, above as wrong_round.
struct RoundWindow {
  Round min = 0;
  Round max = 0;
};

class VoteAggregator {
 public:
  explicit VoteAggregator(const crypto::ValidatorSet& set) : set_(set) {}

  /// Adds `vote`, which came from its voter; returns the QC the moment its block reaches a
  /// quorum (once per round). Only a voter's first vote in a round is checked: later ones are
  /// dropped unchecked (duplicate, equivocation, after_bad_signature), and so is every vote once
  /// the round is certified (after_quorum): they could change nothing. `own` marks this
  /// replica's own vote, which its SafetyRules just signed: its signature is not checked again.
  std::optional<types::QuorumCert> add(const types::Vote& vote, RoundWindow window,
                                       bool own = false);
  /// Forgets rounds below `round`.
  void prune_below(Round round);
  const DropCounts& drops() const { return drops_; }

 private:
  struct RoundVotes {
    std::map<ValidatorIndex, types::Vote> by_voter;
    std::set<ValidatorIndex> bad_signers;  // their first vote this round did not verify
    bool certified = false;
  };
  const crypto::ValidatorSet& set_;
  std::map<Round, RoundVotes> rounds_;
  DropCounts drops_;
};

class TimeoutAggregator {
 public:
  explicit TimeoutAggregator(const crypto::ValidatorSet& set) : set_(set) {}

  /// Adds `timeout`, which came from its author (its high_qc already verified by the caller);
  /// returns the TC the moment the round reaches a quorum of distinct signers (once per round).
  /// The TC's high_qc is the highest QC among the signers'. Only an author's first timeout in a
  /// round is checked and kept (one re-sent with a higher QC adds nothing to the quorum).
  std::optional<types::TimeoutCert> add(const types::Timeout& timeout, RoundWindow window);
  void prune_below(Round round);
  /// Distinct valid signers collected for `round` so far.
  std::size_t count(Round round) const;
  const DropCounts& drops() const { return drops_; }

 private:
  struct RoundTimeouts {
    std::map<ValidatorIndex, types::Timeout> by_author;
    std::set<ValidatorIndex> bad_signers;  // their first timeout this round did not verify
    bool certified = false;
  };
  const crypto::ValidatorSet& set_;
  std::map<Round, RoundTimeouts> rounds_;
  DropCounts drops_;
};

}  // namespace ol::consensus
