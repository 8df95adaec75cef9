// Inbound rate limiting: a token bucket per peer for messages and one for bytes, each refilled at
// its configured rate and holding at most one second's worth (the burst). A peer over either limit
// has that message dropped; a peer over a limit in `violations_before_ban` consecutive one-second
// windows is to be disconnected and banned (the caller acts on InboundLimiter::end_window()).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace ol::network {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts full: `rate` tokens per second, capacity `rate` (burst = 1 s).
  TokenBucket(double rate, Clock::time_point now) : rate_(rate), tokens_(rate), last_(now) {}

  /// Refills for the time since the last call, then reports whether `n` tokens are available.
  /// An `n` above the capacity is treated as the capacity, so one large item can still pass when
  /// the bucket is full.
  bool available(double n, Clock::time_point now) {
    refill(now);
    return tokens_ >= std::min(n, rate_);
  }
  /// Takes `n` tokens (call after available()); may go negative by nothing: clamped at zero.
  void take(double n) { tokens_ = std::max(0.0, tokens_ - std::min(n, rate_)); }
  double tokens() const { return tokens_; }

 private:
  void refill(Clock::time_point now) {
    if (now <= last_) return;
    const double dt = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(rate_, tokens_ + dt * rate_);
    last_ = now;
  }

  double rate_;
  double tokens_;
  Clock::time_point last_;
};

/// One peer's inbound limits: messages/s and bytes/s, plus the count of consecutive one-second
/// windows in which the peer went over a limit.
class InboundLimiter {
 public:
  using Clock = TokenBucket::Clock;

  InboundLimiter(double msgs_per_sec, double bytes_per_sec, Clock::time_point now)
      : msgs_(msgs_per_sec, now), bytes_(bytes_per_sec, now) {}

  /// Admits `msgs` messages of `size` bytes in all if both buckets allow it (taking from both);
  /// otherwise takes nothing, marks the current window as violated and returns false.
  bool admit(std::size_t size, Clock::time_point now, std::size_t msgs = 1) {
    const double b = static_cast<double>(size);
    const double m = static_cast<double>(msgs);
    const bool ok = msgs_.available(m, now) && bytes_.available(b, now);
    if (!ok) {
      violated_ = true;
      return false;
    }
    msgs_.take(m);
    bytes_.take(b);
    return true;
  }

  /// Closes the current one-second window. Returns the number of consecutive violated windows
  /// ending with this one (0 if this window was clean).
  std::size_t end_window() {
    consecutive_ = violated_ ? consecutive_ + 1 : 0;
    violated_ = false;
    return consecutive_;
  }
  bool idle() const { return !violated_ && consecutive_ == 0; }

 private:
  TokenBucket msgs_, bytes_;
  bool violated_ = false;
  std::size_t consecutive_ = 0;
};

}  // namespace ol::network
