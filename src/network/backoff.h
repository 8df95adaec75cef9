// Redial backoff for lost validator connections: exponential with jitter, never below `base` and
// never above `cap`.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace ol::network {

/// The delay before redial attempt `attempt` (0 for the first retry): uniform in [base, d] where
/// d = min(cap, base * 2^attempt); `u01` is a uniform draw from [0, 1]. Spreading retries over the
/// whole range keeps validators that lost the same peer from redialling it in lockstep.
inline std::chrono::milliseconds redial_delay(std::chrono::milliseconds base,
                                              std::chrono::milliseconds cap, std::size_t attempt,
                                              double u01) {
  const double b = static_cast<double>(std::max<std::chrono::milliseconds::rep>(base.count(), 1));
  const double c = std::max(b, static_cast<double>(cap.count()));
  double d = b;
  for (std::size_t i = 0; i < attempt && d < c; ++i) d *= 2;
  d = std::min(d, c);
  const double u = std::clamp(u01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(b + u * (d - b)));
}

}  // namespace ol::network
