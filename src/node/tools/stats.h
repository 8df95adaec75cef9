// Measurement helpers of the load tools: latency percentiles and a rate pacer. Pure (no I/O, no
// clock reads) so they are unit-tested directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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

}  // namespace ol::node::tools
