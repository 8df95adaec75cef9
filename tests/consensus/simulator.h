// A deterministic, seeded network simulator for the consensus core: virtual time, per-link
// delay/loss/duplication (reordering follows from delay jitter), partitions that heal at GST,
// crashes with restart from persisted safety data, and Byzantine validators. Every run checks
// safety, no honest double vote, and liveness; a failing run reports its seed and a trace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/messages.h"

namespace ol::sim {

using consensus::ValidatorIndex;

struct Crash {
  ValidatorIndex node = 0;
  std::uint64_t at_ms = 0;
  std::uint64_t restart_ms = 0;  // 0 = never restarts
};

/// What the Byzantine validators (the last `byzantine` indices) do, each a switch.
struct Byzantine {
  bool equivocate = false;       // as leader: two blocks for the round, one to each half
  bool vote_everything = false;  // votes for every proposal it sees (conflicting blocks)
  bool withhold_votes = false;   // never sends its own honest votes
  bool garbage = false;          // random bytes and bit-flipped (mis-signed) copies of messages
  bool replay = false;           // re-sends old messages it received
};

struct Scenario {
  std::string name;
  std::size_t n = 4;
  std::size_t byzantine = 0;
  Byzantine behaviour;
  std::uint64_t min_delay_ms = 2;
  std::uint64_t max_delay_ms = 20;
  double loss_before_gst = 0.0;                        // drop probability per message before GST
  double duplicate = 0.0;                              // duplication probability (any time)
  std::uint64_t gst_ms = 0;                            // partitions heal and loss stops here
  std::vector<std::vector<ValidatorIndex>> partition;  // groups, active before GST
  std::vector<Crash> crashes;
  std::uint64_t duration_ms = 3000;
  std::uint64_t base_timeout_ms = 200;
  std::uint64_t max_timeout_ms = 1600;
  std::size_t min_commits_after_gst = 5;   // per honest, up node
  bool expect_commit_every_round = false;  // fault-free: one commit per round after warm-up
};

struct RunResult {
  bool ok = true;
  std::string failure;  // first violated property
  std::string trace;    // last events, readable
  std::uint64_t rounds = 0;
  std::uint64_t max_height = 0;
  std::uint64_t messages = 0;
};

/// Runs `scenario` with `seed`. Same inputs, same result.
RunResult run(const Scenario& scenario, std::uint64_t seed);

}  // namespace ol::sim
