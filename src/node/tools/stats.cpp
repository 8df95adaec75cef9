#include "node/tools/stats.h"

#include <algorithm>
#include <cmath>

namespace ol::node::tools {

std::optional<double> percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty() || !(p > 0) || p > 100) return std::nullopt;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencySummary summarize(std::vector<double>& samples) {
  LatencySummary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.p50 = *percentile(samples, 50);
  s.p90 = *percentile(samples, 90);
  s.p99 = *percentile(samples, 99);
  s.max = samples.back();
  return s;
}

RatePacer::RatePacer(double rate, Clock::time_point start, std::chrono::microseconds min_tick)
    : rate_(rate), start_(start), min_tick_(min_tick) {}

std::uint64_t RatePacer::release(Clock::time_point now) {
  if (now <= start_) return 0;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const auto due = static_cast<std::uint64_t>(std::floor(elapsed * rate_));
  if (due <= released_) return 0;
  const std::uint64_t n = due - released_;
  released_ = due;
  return n;
}

RatePacer::Clock::time_point RatePacer::next_due(Clock::time_point now) const {
  const double at_s = static_cast<double>(released_ + 1) / rate_;
  const auto at =
      start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at_s));
  return std::max(at, now + min_tick_);
}

}  // namespace ol::node::tools
