// Pacemaker: which round this replica is in and how long it waits before timing out.
//
// Rounds advance only on certificates: a QC for round r or a TC for round r moves the replica to
// r + 1 (never backwards). The round timer is base * 2^k capped at max, where k counts the rounds
// in a row entered through a TC; entering a round through a QC (progress) resets k to 0.
#pragma once

#include <cstdint>
#include <optional>

#include "types/timeout.h"

namespace ol::consensus {

struct PacemakerConfig {
  std::uint64_t base_timeout_ms = 1000;
  std::uint64_t max_timeout_ms = 30'000;
};

class Pacemaker {
 public:
  explicit Pacemaker(PacemakerConfig config, types::Round start_round = 1)
      : config_(config), round_(start_round) {}

  types::Round current_round() const { return round_; }

  /// Enters qc_round + 1 if that is ahead of the current round. Returns true if it did.
  bool advance_on_qc(types::Round qc_round);
  /// Enters tc.round + 1 if ahead; remembers the TC (it justifies proposals and timeouts there).
  bool advance_on_tc(const types::TimeoutCert& tc);

  /// The TC that opened the current round, if it was opened by one (else the latest seen).
  const std::optional<types::TimeoutCert>& last_tc() const { return last_tc_; }

  /// Timer duration for the current round.
  std::uint64_t round_timeout_ms() const { return backoff_ms(config_, consecutive_timeouts_); }

  /// min(base * 2^k, max), saturating.
  static std::uint64_t backoff_ms(const PacemakerConfig& config, std::uint32_t k);

 private:
  PacemakerConfig config_;
  types::Round round_;
  std::uint32_t consecutive_timeouts_ = 0;
  std::optional<types::TimeoutCert> last_tc_;
};

}  // namespace ol::consensus
