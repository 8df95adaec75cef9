#include "consensus/pacemaker.h"

#include <algorithm>

namespace ol::consensus {

bool Pacemaker::advance_on_qc(types::Round qc_round) {
  if (qc_round + 1 <= round_) return false;
  round_ = qc_round + 1;
  consecutive_timeouts_ = 0;
  return true;
}

bool Pacemaker::advance_on_tc(const types::TimeoutCert& tc) {
  if (!last_tc_ || tc.round > last_tc_->round) last_tc_ = tc;
  if (tc.round + 1 <= round_) return false;
  round_ = tc.round + 1;
  ++consecutive_timeouts_;
  return true;
}

std::uint64_t Pacemaker::backoff_ms(const PacemakerConfig& config, std::uint32_t k) {
  std::uint64_t d = config.base_timeout_ms;
  for (std::uint32_t i = 0; i < k && d < config.max_timeout_ms; ++i) d *= 2;
  return std::min(d, config.max_timeout_ms);
}

}  // namespace ol::consensus
