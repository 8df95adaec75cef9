#include "node/tools/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ol::node::tools {

namespace {

// The nearest rank of percentile `p` among `n` samples: 1-based, in [1, n] (n > 0).
std::uint64_t nearest_rank(double p, std::uint64_t n) {
  const auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return std::clamp<std::uint64_t>(rank, 1, n);
}

}  // namespace

std::optional<double> percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty() || !(p > 0) || p > 100) return std::nullopt;
  return sorted[nearest_rank(p, sorted.size()) - 1];
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

namespace {

constexpr std::uint64_t kExactMicros = 2048;  // below: one bucket per microsecond
constexpr unsigned kSubBits = 10;             // above: 2^10 buckets per power of two
constexpr unsigned kFirstExponent = 11;       // log2(kExactMicros)

std::size_t bucket_of(std::uint64_t us) {
  if (us < kExactMicros) return static_cast<std::size_t>(us);
  const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(us));
  const std::uint64_t sub = (us >> (e - kSubBits)) & ((1u << kSubBits) - 1);
  return static_cast<std::size_t>(kExactMicros + ((e - kFirstExponent) << kSubBits) + sub);
}

// The largest microsecond value in bucket `b`.
std::uint64_t bucket_top(std::size_t b) {
  if (b < kExactMicros) return b;
  const std::size_t i = b - kExactMicros;
  const unsigned e = kFirstExponent + static_cast<unsigned>(i >> kSubBits);
  const std::uint64_t sub = i & ((1u << kSubBits) - 1);
  return (((std::uint64_t{1} << kSubBits) + sub + 1) << (e - kSubBits)) - 1;
}

}  // namespace

void LatencyHistogram::add(double ms) {
  // Negative or not-a-number samples (a clock step) count as zero; 2^40 us is ~12 days.
  const double us = ms > 0 ? std::min(ms * 1000.0, 1099511627775.0) : 0.0;
  const std::size_t b = bucket_of(static_cast<std::uint64_t>(std::llround(us)));
  if (b >= counts_.size()) counts_.resize(b + 1, 0);
  ++counts_[b];
  ++count_;
  max_ = std::max(max_, ms > 0 ? ms : 0.0);
}

double LatencyHistogram::value_at_rank(std::uint64_t rank) const {
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) return std::min(static_cast<double>(bucket_top(b)) / 1000.0, max_);
  }
  return max_;
}

LatencySummary LatencyHistogram::summary() const {
  LatencySummary s;
  if (count_ == 0) return s;
  s.count = static_cast<std::size_t>(count_);
  auto at = [&](double p) { return value_at_rank(nearest_rank(p, count_)); };
  s.p50 = at(50);
  s.p90 = at(90);
  s.p99 = at(99);
  s.max = max_;
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

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return *percentile(values, 50);
}

std::string unsustained_reason(const SweepRun& run) {
  char buf[160];
  if (!run.client_kept_up) {
    return "not all that was due was sent (every connection was waiting for a reply)";
  }
  if (run.committed_tps < 0.97 * run.offered_tps) {
    std::snprintf(buf, sizeof buf, "committed %.0f tx/s, %.0f%% of the offered rate",
                  run.committed_tps,
                  run.offered_tps > 0 ? 100.0 * run.committed_tps / run.offered_tps : 0.0);
    return buf;
  }
  if (run.lost > 0) {
    std::snprintf(buf, sizeof buf, "%llu accepted transactions not committed by the end",
                  static_cast<unsigned long long>(run.lost));
    return buf;
  }
  if (run.p50_ms >= 1000) {
    std::snprintf(buf, sizeof buf, "median latency %.0f ms (a growing queue)", run.p50_ms);
    return buf;
  }
  return {};
}

RateSweep::RateSweep(double start, double step, double max) : step_(step), max_(max) {
  if (start > 0 && step > 0 && start <= max) next_ = start;
}

std::string RateSweep::record(const SweepRun& run) {
  runs_.push_back(run);
  const double rate = run.offered_tps;
  std::string why = unsustained_reason(run);
  const bool sustained = why.empty();
  if (sustained) {
    highest_ = std::max(highest_, rate);
  } else if (lowest_failed_ == 0 || rate < lowest_failed_) {
    lowest_failed_ = rate;
  }
  if (refined_) {  // the run halfway back was the last
    next_.reset();
    return why;
  }
  if (sustained) {
    if (rate + step_ <= max_) {
      next_ = rate + step_;
    } else {
      reached_max_ = true;
      next_.reset();
    }
    return why;
  }
  // The first rate not sustained: narrow the gap once, if anything below it was sustained and
  // the half step is not too fine to tell apart on a noisy machine.
  const double half = std::round(step_ / 2 / 10) * 10;
  if (highest_ > 0 && half >= 50) {
    refined_ = true;
    next_ = highest_ + half;
  } else {
    next_.reset();
  }
  return why;
}

}  // namespace ol::node::tools
