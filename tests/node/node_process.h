// One real `openliquid node --home DIR [args]` process for the multi-process tests; its output
// goes to DIR/node.log. The including test target defines OL_OPENLIQUID_BIN.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace ol::node::test {

class NodeProcess {
 public:
  explicit NodeProcess(std::filesystem::path home) : home_(std::move(home)) {}
  ~NodeProcess() { kill_now(); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {OL_OPENLIQUID_BIN, "node", "--home", home_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = (home_ / "node.log").string();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    ASSERT_EQ(posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// SIGTERM, then the exit status (-1 if it had to be killed after 30 s).
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill_now();
    return -1;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  std::string log() const {
    std::ifstream in(home_ / "node.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string log_tail(std::size_t max = 4000) const {
    auto all = log();
    return all.size() > max ? all.substr(all.size() - max) : all;
  }
  /// The log lines containing any of `needles` (figures for the test output).
  std::string lines_with(const std::vector<std::string>& needles) const {
    std::istringstream in(log());
    std::string out;
    for (std::string line; std::getline(in, line);) {
      for (const auto& n : needles) {
        if (line.find(n) != std::string::npos) {
          out += "    " + line + "\n";
          break;
        }
      }
    }
    return out;
  }
  const std::filesystem::path& home() const { return home_; }

 private:
  std::filesystem::path home_;
  pid_t pid_ = -1;
};

}  // namespace ol::node::test
