// Measurement helpers of the load tools: latency percentiles and a rate pacer. Pure (no I/O, no
// clock reads) so they are unit-tested directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ol::node::tools {

/// Nearest-rank percentile of `sorted` (ascending): the smallest sample such that at least
/// `p` percent of the samples are at or below it. `p` in (0, 100]; nullopt for no samples.
std::optional<double> percentile(const std::vector<double>& sorted, double p);

/// Percentiles of a set of latencies in milliseconds.
struct LatencySummary {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

/// Sorts `samples` in place and summarises them (all zero for no samples).
LatencySummary summarize(std::vector<double>& samples);

/// Latencies in milliseconds kept as counts, in bounded memory however many are added (a devnet's
/// load never ends). Below 2.048 ms each microsecond has its bucket; above, each power of two is
/// split into 1,024 buckets, so a percentile is off by under 0.1% of its value. Percentiles are
/// nearest-rank, reported as their bucket's upper end (never above the largest sample); the
/// count and the maximum are exact.
class LatencyHistogram {
 public:
  void add(double ms);
  LatencySummary summary() const;

 private:
  double value_at_rank(std::uint64_t rank) const;
  std::vector<std::uint64_t> counts_;  // grows to the largest bucket used (at most ~260 KB)
  std::uint64_t count_ = 0;
  double max_ = 0;
};

/// Spreads `rate` events per second evenly over time from `start`: by time t it has released
/// floor(rate × (t - start)) events, never more, so a late tick catches up instead of losing
/// events. The caller sleeps until next_due() between calls (a timer, never a spin).
class RatePacer {
 public:
  using Clock = std::chrono::steady_clock;

  /// `rate` > 0 events per second. `min_tick` bounds how often next_due() asks to wake up at
  /// high rates (events are then released in small bursts).
  RatePacer(double rate, Clock::time_point start,
            std::chrono::microseconds min_tick = std::chrono::milliseconds(1));

  /// Events that became due since the last call (and counts them as released).
  std::uint64_t release(Clock::time_point now);
  /// When the next event is due, but at least `min_tick` after `now`.
  Clock::time_point next_due(Clock::time_point now) const;
  std::uint64_t released() const { return released_; }

 private:
  double rate_;
  Clock::time_point start_;
  std::chrono::microseconds min_tick_;
  std::uint64_t released_ = 0;
};

/// The median (nearest rank: the lower middle of an even count) of `values`; 0 for none.
double median(std::vector<double> values);

/// What one signed run of a rate sweep offered and what came of it.
struct SweepRun {
  double offered_tps = 0;      // the rate asked for
  double committed_tps = 0;    // per second, over the load's length from the first commit on
  double p50_ms = 0;           // submit-to-commit median
  bool client_kept_up = true;  // the load generator sent what the rate made due
  std::uint64_t lost = 0;      // accepted but not committed by the end of the drain
};

/// Why `run` did not sustain its offered rate, or an empty string if it did. Sustained means:
/// at least 97% of the offered rate committed (over the load's length, counted from the first
/// commit so that the pipeline's initial latency does not count against it), every accepted
/// transaction committed by the end of the drain, the client sent what was due (otherwise the
/// rate was never really offered: with every connection waiting for a reply, the nodes answer
/// too slowly, or there are too few connections), and a median latency under one second (a queue
/// that keeps growing shows there first).
std::string unsustained_reason(const SweepRun& run);

/// The rates a sweep offers, one run at a time: `start`, then `step` higher while each run is
/// sustained, up to `max`; after the first rate that is not sustained, one run halfway back
/// (when the step allows) to narrow the answer. Pure: the caller runs each rate and records it.
class RateSweep {
 public:
  RateSweep(double start, double step, double max);

  /// The next rate to offer, or nullopt when the sweep is over.
  std::optional<double> next() const { return next_; }
  /// The outcome of the run at next(); returns unsustained_reason(run).
  std::string record(const SweepRun& run);

  /// The highest rate sustained so far (0: none).
  double highest_sustained() const { return highest_; }
  /// The lowest rate found not sustained (0: none, e.g. the sweep stopped at `max`).
  double lowest_unsustained() const { return lowest_failed_; }
  bool reached_max() const { return reached_max_; }
  const std::vector<SweepRun>& runs() const { return runs_; }

 private:
  double step_, max_;
  std::optional<double> next_;
  double highest_ = 0, lowest_failed_ = 0;
  bool refined_ = false, reached_max_ = false;
  std::vector<SweepRun> runs_;
};

}  // namespace ol::node::tools
