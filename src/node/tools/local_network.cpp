#include "node/tools/local_network.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "node/config.h"
#include "node/http_client.h"
#include "node/init.h"
#include "node/tools/status_line.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;

Status read_file(const std::filesystem::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(Errc::io, "cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return {};
}

Status write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return make_error(Errc::io, "cannot write " + p.string());
  return {};
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name ? " (" + std::string(name) + ")" : "");
  }
  return "ended (status " + std::to_string(status) + ")";
}

}  // namespace

std::string apply_config_edit(std::string toml, const ConfigEdit& edit) {
  const std::string header = "[" + edit.section + "]";
  const std::string line = edit.key + " = " + edit.value;
  std::istringstream in(toml);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  auto trim = [](const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  std::size_t section_start = lines.size(), section_end = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t == header) {
      section_start = i;
      section_end = lines.size();
    } else if (section_start != lines.size() && section_end == lines.size() && i > section_start &&
               t.starts_with("[")) {
      section_end = i;
    }
  }
  if (section_start == lines.size()) {
    if (!lines.empty() && !trim(lines.back()).empty()) lines.emplace_back();
    lines.push_back(header);
    lines.push_back(line);
  } else {
    bool replaced = false;
    std::size_t last_value = section_start;
    for (std::size_t i = section_start + 1; i < section_end; ++i) {
      const std::string t = trim(lines[i]);
      if (t.empty() || t.starts_with("#")) continue;
      last_value = i;
      const auto eq = t.find('=');
      if (eq != std::string::npos && trim(t.substr(0, eq)) == edit.key) {
        lines[i] = line;
        replaced = true;
      }
    }
    if (!replaced) {
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(last_value) + 1, line);
    }
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

Result<std::unique_ptr<LocalNetwork>> LocalNetwork::create(const LocalNetworkOptions& opts) {
  std::unique_ptr<LocalNetwork> net(new LocalNetwork());
  std::error_code ec;
  if (opts.dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "openliquid-devnet-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return make_error(
          Errc::io, "cannot create a temporary directory: " + std::string(std::strerror(errno)));
    }
    net->dir_ = tmpl;
    net->temporary_ = true;
  } else {
    net->dir_ = std::filesystem::absolute(opts.dir, ec);
  }
  net->binary_ = opts.node_binary.empty() ? std::filesystem::read_symlink("/proc/self/exe", ec)
                                          : opts.node_binary;
  if (net->binary_.empty()) return make_error(Errc::io, "cannot find the openliquid executable");
  net->binary_fd_ = ::open(net->binary_.c_str(), O_RDONLY | O_CLOEXEC);
  if (net->binary_fd_ < 0) {
    return make_error(Errc::io,
                      "cannot open " + net->binary_.string() + ": " + std::strerror(errno));
  }

  if (!net->temporary_ && std::filesystem::exists(net->dir_ / "genesis.json")) {
    // An existing network (a previous devnet's --dir): restart it as it is configured.
    OL_TRY_ASSIGN(net->genesis_, load_genesis(net->dir_ / "genesis.json"));
    if (net->genesis_.validators.size() != opts.validators) {
      return make_error(Errc::invalid_argument,
                        net->dir_.string() + " holds a network of " +
                            std::to_string(net->genesis_.validators.size()) + " validators, not " +
                            std::to_string(opts.validators));
    }
  } else {
    OL_TRY_ASSIGN(std::uint16_t base, find_free_port_range(2 * opts.validators));
    InitOptions init;
    init.validators = opts.validators;
    init.dir = net->dir_;
    init.base_p2p_port = base;
    init.base_rpc_port = static_cast<std::uint16_t>(base + opts.validators);
    OL_TRY_ASSIGN(net->genesis_, init_network(init));
  }

  for (std::size_t i = 0; i < opts.validators; ++i) {
    Child c;
    c.home = net->dir_ / ("node" + std::to_string(i));
    std::string toml;
    OL_TRY(read_file(c.home / "config.toml", toml));
    if (!opts.config_edits.empty()) {
      for (const auto& e : opts.config_edits) toml = apply_config_edit(std::move(toml), e);
      OL_TRY(write_file(c.home / "config.toml", toml));
    }
    OL_TRY_ASSIGN(NodeConfig config, parse_config(toml, (c.home / "config.toml").string()));
    OL_TRY_ASSIGN(auto rpc, parse_http_url(config.rpc.listen));
    net->children_.push_back(std::move(c));
    net->rpc_.push_back({rpc.first, rpc.second});
  }
  return net;
}

LocalNetwork::~LocalNetwork() {
  stop();
  if (binary_fd_ >= 0) ::close(binary_fd_);
}

Status LocalNetwork::start() {
  const pid_t parent = ::getpid();
  for (std::size_t i = 0; i < children_.size(); ++i) {
    auto& c = children_[i];
    if (c.pid > 0) continue;
    const std::string log = (c.home / "node.log").string();
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return make_error(Errc::io, "cannot open " + log + ": " + std::strerror(errno));
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::string bin = binary_.string(), sub = "node", flag = "--home", home = c.home.string();
    char* argv[] = {bin.data(), sub.data(), flag.data(), home.data(), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::fexecve(binary_fd_, argv, environ);
      constexpr char kFailed[] = "openliquid: could not execute the node binary\n";
      (void)!::write(2, kFailed, sizeof kFailed - 1);
      ::_exit(127);
    }
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (pid < 0) return make_error(Errc::io, std::string("fork: ") + std::strerror(errno));
    c.pid = pid;
  }
  return {};
}

Status LocalNetwork::wait_until_healthy(std::chrono::seconds timeout,
                                        const std::function<bool(const std::string&)>& progress) {
  const auto start = Clock::now();
  std::optional<std::uint64_t> base_height;  // the height when every node first answered
  std::vector<std::optional<NodeStatus>> st(children_.size());
  for (;;) {
    for (const auto& e : reap()) {
      return make_error(Errc::state, describe_exit(*this, e));
    }
    std::size_t answering = 0;
    std::uint64_t min_height = UINT64_MAX, max_height = 0;
    for (std::size_t i = 0; i < children_.size(); ++i) {
      st[i].reset();
      auto r = http_request(rpc_[i].host, rpc_[i].port, "GET", "/status", "",
                            std::chrono::milliseconds(500));
      if (r && r->status == 200) {
        if (auto s = parse_node_status(r->body)) st[i] = *s;
      }
      if (!st[i]) continue;
      ++answering;
      min_height = std::min(min_height, st[i]->height);
      max_height = std::max(max_height, st[i]->height);
    }
    if (answering == children_.size()) {
      if (!base_height) base_height = min_height;
      if (min_height > *base_height) return {};
    }
    const auto now = Clock::now();
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - start);
    std::string what = std::to_string(answering) + "/" + std::to_string(children_.size()) +
                       " validators answering, height " + std::to_string(max_height);
    if (waited >= timeout) {
      std::string missing;
      std::size_t first = 0;
      for (std::size_t i = st.size(); i-- > 0;) {
        if (st[i]) continue;
        missing = " node" + std::to_string(i) + missing;
        first = i;
      }
      std::string msg =
          "validators not healthy after " + std::to_string(timeout.count()) + " s (" + what + ")";
      if (!missing.empty()) {
        msg += "; not answering:" + missing;
        msg += "; last lines of " + (children_[first].home / "node.log").string() + ":\n" +
               log_tail(first);
      } else {
        msg += "; the height did not advance; last lines of " +
               (children_[0].home / "node.log").string() + ":\n" + log_tail(0);
      }
      return make_error(Errc::timeout, msg);
    }
    if (!progress("waiting for the validators: " + what + " (" + std::to_string(waited.count()) +
                  " s)")) {
      return make_error(Errc::state, "interrupted");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::vector<ChildExit> LocalNetwork::reap() {
  std::vector<ChildExit> out;
  for (std::size_t i = 0; i < children_.size(); ++i) {
    auto& c = children_[i];
    if (c.pid <= 0) continue;
    int status = 0;
    if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
      out.push_back({i, c.pid, describe_status(status)});
      c.pid = -1;
    }
  }
  return out;
}

namespace {

// User + system CPU seconds from a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file; 0 if
// it cannot be read (the process or thread has gone).
double stat_cpu_seconds(const std::filesystem::path& stat) {
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream in(stat);
  std::string line;
  if (!std::getline(in, line)) return 0;
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / tick;
}

}  // namespace

double LocalNetwork::cpu_seconds() const {
  double total = 0;
  for (const auto& c : children_) {
    if (c.pid > 0) total += stat_cpu_seconds("/proc/" + std::to_string(c.pid) + "/stat");
  }
  return total;
}

std::map<std::string, double> LocalNetwork::cpu_seconds_by_thread() const {
  std::map<std::string, double> out;
  for (const auto& c : children_) {
    if (c.pid <= 0) continue;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(c.pid) + "/task", ec)) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      if (!std::getline(comm, name)) continue;
      out[name] += stat_cpu_seconds(task.path() / "stat");
    }
  }
  return out;
}

std::vector<std::uint64_t> LocalNetwork::peak_resident_bytes() const {
  std::vector<std::uint64_t> out;
  for (const auto& c : children_) {
    std::uint64_t bytes = 0;
    if (c.pid > 0) {
      std::ifstream status("/proc/" + std::to_string(c.pid) + "/status");
      for (std::string line; std::getline(status, line);) {
        if (line.starts_with("VmHWM:")) {  // "VmHWM:    123456 kB"
          bytes = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
          break;
        }
      }
    }
    out.push_back(bytes);
  }
  return out;
}

std::size_t LocalNetwork::stop(std::chrono::milliseconds grace) {
  for (auto& c : children_) {
    if (c.pid > 0) ::kill(c.pid, SIGTERM);
  }
  const auto deadline = Clock::now() + grace;
  auto running = [&] {
    reap();
    return std::any_of(children_.begin(), children_.end(),
                       [](const Child& c) { return c.pid > 0; });
  };
  while (running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::size_t killed = 0;
  for (auto& c : children_) {
    if (c.pid <= 0) continue;
    ::kill(c.pid, SIGKILL);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    c.pid = -1;
    ++killed;
  }
  return killed;
}

std::string LocalNetwork::log_tail(std::size_t index, std::size_t lines) const {
  std::ifstream in(children_.at(index).home / "node.log");
  std::deque<std::string> tail;
  for (std::string l; std::getline(in, l);) {
    tail.push_back(std::move(l));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "    " + l + "\n";
  if (out.empty()) out = "    (the log is empty)\n";
  return out;
}

std::string describe_exit(const LocalNetwork& net, const ChildExit& e) {
  return "validator node" + std::to_string(e.index) + " (pid " + std::to_string(e.pid) + ") " +
         e.how + "; last lines of " +
         (net.dir() / ("node" + std::to_string(e.index)) / "node.log").string() + ":\n" +
         net.log_tail(e.index);
}

}  // namespace ol::node::tools
