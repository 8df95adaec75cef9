// Who proposes in a round.
#pragma once

#include "types/basic.h"

namespace ol::consensus {

class LeaderElection {
 public:
  virtual ~LeaderElection() = default;
  /// The single validator allowed to propose in `round`. Deterministic: every replica agrees.
  virtual types::ValidatorIndex leader(types::Round round) const = 0;
};

/// leader(round) = round mod n.
class RoundRobinLeaders final : public LeaderElection {
 public:
  explicit RoundRobinLeaders(std::size_t validator_count) : n_(validator_count) {}
  types::ValidatorIndex leader(types::Round round) const override {
    return static_cast<types::ValidatorIndex>(round % n_);
  }

 private:
  std::size_t n_;
};

}  // namespace ol::consensus
