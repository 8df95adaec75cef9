#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "node/tools/runner.h"

namespace ol::node::tools {

LiveLine::LiveLine(std::chrono::seconds plain_every)
    : tty_(::isatty(STDOUT_FILENO) == 1), plain_every_(plain_every) {}

void LiveLine::update(const std::string& line) {
  last_ = line;
  if (tty_) {
    // A line wider than the terminal would wrap, and "\r" would then redraw only its tail.
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        last_.size() >= ws.ws_col) {
      last_.resize(ws.ws_col - 1);
    }
    std::printf("\r%s\x1b[K", last_.c_str());
    showing_ = true;
  } else {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_plain_ < plain_every_) return;
    last_plain_ = now;
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

void LiveLine::message(const std::string& text) {
  if (tty_ && showing_) std::printf("\r\x1b[K");
  std::printf("%s\n", text.c_str());
  if (tty_ && showing_) std::printf("%s", last_.c_str());
  std::fflush(stdout);
}

void LiveLine::finish() {
  if (tty_ && showing_) std::printf("\n");
  showing_ = false;
  std::fflush(stdout);
}

}  // namespace ol::node::tools
