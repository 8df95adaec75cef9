#include "node/tools/command_load.h"

#include <boost/beast/http/verb.hpp>
#include <random>

#include "node/tools/status_line.h"

namespace ol::node::tools {
namespace {

using Clock = std::chrono::steady_clock;
using verb = boost::beast::http::verb;

void put_be64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

std::uint64_t get_be(const std::uint8_t* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

void write_command(std::uint8_t* out, std::size_t size, std::uint64_t client,
                   std::uint64_t sequence) {
  put_be64(out, client);
  put_be64(out + 8, sequence);
  std::fill(out + 16, out + size, std::uint8_t{0});
}

Result<std::vector<CommittedCommands>> parse_bench_commits(ByteView body) {
  std::vector<CommittedCommands> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    if (body.size() - pos < 20) return make_error(Errc::decode, "truncated commit header");
    CommittedCommands c;
    c.height = get_be(body.data() + pos, 8);
    c.commit_ms = get_be(body.data() + pos + 8, 8);
    const std::uint64_t count = get_be(body.data() + pos + 16, 4);
    pos += 20;
    if (count > (body.size() - pos) / 16) {
      return make_error(Errc::decode, "commit count " + std::to_string(count) + " above the body");
    }
    c.ids.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i, pos += 16) {
      c.ids.emplace_back(get_be(body.data() + pos, 8), get_be(body.data() + pos + 8, 8));
    }
    out.push_back(std::move(c));
  }
  return out;
}

struct CommandLoad::Impl {
  asio::io_context& io;
  CommandLoadOptions opts;
  std::uint64_t client = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  std::uint64_t next_seq = 0;
  std::vector<Clock::time_point> sent;  // by sequence; time_point{} = not outstanding
  std::size_t outstanding = 0;
  std::vector<double> latencies;
  CommandLoadReport report;
  bool submitting = false, following = false, stopped = false;
  Clock::time_point window_end = Clock::time_point::max();
  std::unique_ptr<Notifier> room;  // a commit made room for more commands
  std::unique_ptr<Notifier> done;
  std::size_t live = 0;
  std::vector<AsyncHttpConnection*> open_connections;

  Impl(asio::io_context& io_, CommandLoadOptions o) : io(io_), opts(std::move(o)) {
    room = std::make_unique<Notifier>(io.get_executor());
    done = std::make_unique<Notifier>(io.get_executor());
  }

  AsyncHttpConnection connect(std::size_t node) {
    return AsyncHttpConnection(io.get_executor(), opts.nodes[node].host, opts.nodes[node].port);
  }

  // Sends each batch to every node at once (one connection per node), so whichever node leads
  // next has it; the batch counts once toward the outstanding bound.
  Task<void> submitter() {
    ++live;
    std::vector<std::unique_ptr<AsyncHttpConnection>> conns;
    for (std::size_t i = 0; i < opts.nodes.size(); ++i) {
      conns.push_back(std::make_unique<AsyncHttpConnection>(connect(i)));
      open_connections.push_back(conns.back().get());
    }
    const std::string target = "/bench/commands?size=" + std::to_string(opts.command_size);
    std::string body;
    while (submitting) {
      while (submitting && outstanding + std::min(opts.batch, opts.outstanding) > opts.outstanding)
        co_await room->wait();
      if (!submitting) break;
      const std::size_t n = std::min(opts.batch, opts.outstanding - outstanding);
      body.assign(n * opts.command_size, '\0');
      const std::uint64_t first = next_seq;
      next_seq += n;
      sent.resize(next_seq);
      const auto now = Clock::now();
      for (std::size_t i = 0; i < n; ++i) {
        write_command(reinterpret_cast<std::uint8_t*>(body.data()) + i * opts.command_size,
                      opts.command_size, client, first + i);
        sent[first + i] = now;
      }
      outstanding += n;
      // Every node gets the batch; the request to each runs concurrently.
      std::size_t pending = conns.size(), accepted = 0;
      Notifier all_done(io.get_executor());
      for (auto& c : conns) {
        asio::co_spawn(
            io,
            [&, conn = c.get()]() -> Task<void> {
              auto r = co_await conn->request(verb::post, target, body, std::chrono::seconds(10),
                                              "application/octet-stream");
              if (r && r->status == 200) {
                ++accepted;
              } else if (r && r->status == 503) {
                ++report.refused;
              } else if (report.first_error.empty() && submitting) {
                report.first_error =
                    r ? "HTTP " + std::to_string(r->status) + " " + r->body : r.error().message;
              }
              --pending;
              all_done.notify();
            },
            asio::detached);
      }
      while (pending > 0) co_await all_done.wait();
      if (accepted == 0) {  // nobody took it: forget it and back off
        for (std::size_t i = 0; i < n; ++i) {
          if (sent[first + i] != Clock::time_point{}) {
            sent[first + i] = {};
            --outstanding;
          }
        }
        co_await sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      report.submitted += n;
    }
    for (auto& c : conns) std::erase(open_connections, c.get());
    --live;
    done->notify();
  }

  Task<void> follower(std::uint64_t after) {
    ++live;
    AsyncHttpConnection conn = connect(0);
    open_connections.push_back(&conn);
    while (following) {
      auto r = co_await conn.request(
          verb::get, "/bench/commits?after=" + std::to_string(after) + "&max_wait_ms=500", {},
          std::chrono::seconds(5));
      if (!r || r->status != 200) {
        if (!following) break;  // closed at the end of the run
        if (report.first_error.empty()) {
          report.first_error = r ? "GET /bench/commits: HTTP " + std::to_string(r->status) + " " +
                                       r->body.substr(0, 200)
                                 : r.error().message;
        }
        co_await sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      const auto now = Clock::now();
      auto blocks = parse_bench_commits(as_bytes(r->body));
      if (!blocks) {
        if (report.first_error.empty()) report.first_error = blocks.error().message;
        continue;
      }
      for (const auto& b : *blocks) {
        after = std::max(after, b.height);
        report.highest_height = std::max(report.highest_height, b.height);
        for (const auto& [id, seq] : b.ids) {
          if (id != client || seq >= sent.size() || sent[seq] == Clock::time_point{}) continue;
          latencies.push_back(std::chrono::duration<double, std::milli>(now - sent[seq]).count());
          sent[seq] = {};
          --outstanding;
          ++report.committed;
          if (now <= window_end) ++report.committed_in_window;
        }
      }
      room->notify();
    }
    std::erase(open_connections, &conn);
    --live;
    done->notify();
  }
};

CommandLoad::CommandLoad(asio::io_context& io, CommandLoadOptions opts)
    : impl_(std::make_unique<Impl>(io, std::move(opts))) {}

CommandLoad::~CommandLoad() = default;

Task<CommandLoadReport> CommandLoad::run() {
  auto& m = *impl_;
  std::uint64_t after = 0;
  {
    AsyncHttpConnection conn = m.connect(0);
    auto st = co_await conn.request(verb::get, "/status", {}, std::chrono::seconds(5));
    if (st && st->status == 200) {
      if (auto s = parse_node_status(st->body)) after = s->height;
    }
  }
  m.sent.reserve(1 << 20);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(m.opts.duration_s));
  m.submitting = m.following = !m.stopped;
  asio::co_spawn(m.io, m.follower(after), asio::detached);
  asio::co_spawn(m.io, m.submitter(), asio::detached);
  while (m.submitting && Clock::now() < end) {
    co_await sleep_for(
        std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(100)));
  }
  m.window_end = Clock::now();
  m.submitting = false;
  m.room->notify();
  const auto drain_end = m.window_end + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(m.opts.drain_s));
  while (!m.stopped && m.outstanding > 0 && Clock::now() < drain_end) {
    co_await sleep_for(std::chrono::milliseconds(50));
  }
  m.following = false;
  for (auto* c : m.open_connections) c->close();
  while (m.live > 0) co_await m.done->wait();
  m.report.window_s = std::chrono::duration<double>(m.window_end - start).count();
  m.report.latency = summarize(m.latencies);
  co_return m.report;
}

void CommandLoad::stop() {
  auto& m = *impl_;
  m.stopped = true;
  m.submitting = m.following = false;
  m.room->notify();
  for (auto* c : m.open_connections) c->close();
}

}  // namespace ol::node::tools
