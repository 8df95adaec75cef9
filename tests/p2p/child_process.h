// Test helper: a child process with a pipe to its stdin and from its stdout, read line by line.
// Used to drive the openliquid-p2p tool and the js-libp2p interop peer.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace ol::p2p::test {

class ChildProcess {
 public:
  /// Starts argv[0] (a path) in `cwd` ("" = ours). stderr is inherited unless `capture_stderr`,
  /// in which case it is merged into stdout.
  explicit ChildProcess(std::vector<std::string> argv, const std::string& cwd = "",
                        bool capture_stderr = false) {
    int in[2], out[2];
    if (pipe(in) != 0) return;
    if (pipe(out) != 0) {
      close(in[0]);
      close(in[1]);
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (capture_stderr) posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    stdin_fd_ = in[1];
    stdout_ = fdopen(out[0], "r");
  }
  ~ChildProcess() {
    close_stdin();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait();
    }
    if (stdout_) fclose(stdout_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0 && stdout_ != nullptr; }

  /// Next line of output without its newline; nullopt at end of output.
  std::optional<std::string> next_line() {
    std::string line;
    char buf[65536];
    while (stdout_ && std::fgets(buf, sizeof buf, stdout_)) {
      line += buf;
      if (line.back() == '\n') {
        line.pop_back();
        return line;
      }
    }
    if (line.empty()) return std::nullopt;
    return line;
  }
  /// All remaining output.
  std::string read_all() {
    std::string all;
    while (auto l = next_line()) all += *l + "\n";
    return all;
  }
  void close_stdin() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    stdin_fd_ = -1;
  }
  void terminate() {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }
  /// Waits for the process; its exit status (128 + signal if killed).
  int wait() {
    int status = 0;
    if (pid_ <= 0) return exit_status_;
    if (waitpid(pid_, &status, 0) == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  int stdin_fd_ = -1;
  FILE* stdout_ = nullptr;
};

/// Runs argv to its end: its exit status and its output (stdout and stderr together).
inline std::pair<int, std::string> run_to_exit(const std::vector<std::string>& argv) {
  ChildProcess p(argv, "", /*capture_stderr=*/true);
  if (!p.started()) return {-1, "could not start " + argv.at(0)};
  std::string out = p.read_all();
  return {p.wait(), out};
}

}  // namespace ol::p2p::test
