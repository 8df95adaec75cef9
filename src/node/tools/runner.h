// Internal to the tools library: the two commands' bodies and their shared console handling.
#pragma once

#include <chrono>
#include <string>

#include "node/tools/options.h"

namespace ol::node::tools {

/// Each returns the process exit status (0 success, 1 failure, 2 bad arguments) after printing
/// what happened.
int run_devnet(const DevnetOptions& opts);
int run_bench(const BenchOptions& opts);

/// A status line refreshed in place on a terminal; elsewhere (pipes, logs) one line per
/// `plain_every` so a captured log stays readable.
class LiveLine {
 public:
  explicit LiveLine(std::chrono::seconds plain_every = std::chrono::seconds(5));
  /// Shows `line` (in place on a terminal).
  void update(const std::string& line);
  /// Prints `text` on lines of its own, keeping the live line below it.
  void message(const std::string& text);
  /// Ends the live line (a newline on a terminal if one is showing).
  void finish();
  bool tty() const { return tty_; }

 private:
  bool tty_;
  bool showing_ = false;
  std::string last_;
  std::chrono::seconds plain_every_;
  std::chrono::steady_clock::time_point last_plain_{};
};

}  // namespace ol::node::tools
