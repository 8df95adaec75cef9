// Our node to our node over 127.0.0.1, each host on its own io_context thread (as two processes
// would be): Noise+yamux single-stream throughput, 1 KiB request/response latency, handshakes/s.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "p2p/host.h"

namespace ol::p2p {
namespace {

constexpr std::string_view kSinkProtocol = "/bench/sink/1.0.0";

// Reads until EOF, then answers with one byte so the sender knows everything arrived.
Task<void> serve_sink(Host::StreamPtr s) {
  std::vector<std::uint8_t> buf(256 * 1024);
  for (;;) {
    auto n = co_await s->read_some(buf);
    if (!n) co_return;
    if (*n == 0) break;
  }
  const std::uint8_t ack = 1;
  (void)co_await s->write(ByteView(&ack, 1));
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

template <typename T>
Task<void> store(Task<T> t, std::optional<T>* out) {
  out->emplace(co_await std::move(t));
}

template <typename T>
T run(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, store(std::move(task), &out), asio::detached);
  while (!out) io.run_one();
  return std::move(*out);
}

// A server host running on its own thread, and a client host driven by the benchmark thread.
struct Pair {
  asio::io_context server_io, client_io;
  std::shared_ptr<Host> server, client;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread server_thread;
  Multiaddr server_addr;
  PeerId server_id;

  explicit Pair(HostConfig server_cfg = {}, HostConfig client_cfg = {}) {
    spdlog::set_level(spdlog::level::warn);
    server = Host::create(server_io, Identity::generate(), server_cfg);
    server->set_handler(std::string(kEchoProtocol), serve_echo);
    server->set_handler(std::string(kSinkProtocol), serve_sink);
    server_addr =
        server->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"))->with_peer_id(server->peer_id());
    server_id = server->peer_id();
    guard.emplace(server_io.get_executor());
    server_thread = std::thread([this] { server_io.run(); });
    client = Host::create(client_io, Identity::generate(), client_cfg);
  }
  ~Pair() {
    client->close();
    client_io.run_for(std::chrono::milliseconds(20));
    asio::post(server_io, [this] {
      server->close();
      guard.reset();
    });
    server_thread.join();
  }
};

Task<bool> send_all(Host& client, PeerId peer, const Bytes& chunk, std::size_t total) {
  auto s =
      co_await client.new_stream(peer, std::vector<std::string>(1, std::string(kSinkProtocol)));
  if (!s) co_return false;
  for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
    if (!co_await (*s)->write(chunk)) co_return false;
  }
  if (!(*s)->close_write()) co_return false;
  std::uint8_t ack = 0;
  auto n = co_await (*s)->read_some(std::span(&ack, 1));
  co_return n&&* n == 1;
}

void BM_NoiseYamuxThroughput(benchmark::State& state) {
  HostConfig cfg;
  cfg.yamux.window = static_cast<std::uint32_t>(state.range(0));
  Pair p(cfg, cfg);
  if (!run(p.client_io, p.client->dial(p.server_addr))) {
    state.SkipWithError("dial failed");
    return;
  }
  const Bytes chunk(256 * 1024, 0x5a);
  const std::size_t total = 64 << 20;
  clockid_t server_clock;
  pthread_getcpuclockid(p.server_thread.native_handle(), &server_clock);
  const double send_cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  const double recv_cpu0 = cpu_seconds(server_clock);
  const auto wall0 = Clock::now();
  for (auto _ : state) {
    if (!run(p.client_io, send_all(*p.client, p.server_id, chunk, total))) {
      state.SkipWithError("transfer failed");
      return;
    }
  }
  const double bytes = static_cast<double>(state.iterations() * total);
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  const double send_cpu = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - send_cpu0;
  const double recv_cpu = cpu_seconds(server_clock) - recv_cpu0;
  // CPU per byte on each side is what load on the machine does not change; cores_used near 2
  // means sender and receiver worked at the same time, near 1 that they took turns (or shared
  // one core with other load).
  state.counters["send_ns_per_B"] = send_cpu * 1e9 / bytes;
  state.counters["recv_ns_per_B"] = recv_cpu * 1e9 / bytes;
  state.counters["cores_used"] = (send_cpu + recv_cpu) / wall;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_NoiseYamuxThroughput)
    ->Arg(256 << 10)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

Task<std::vector<double>> request_response(Host& client, PeerId peer, int rounds) {
  std::vector<double> us;
  auto s =
      co_await client.new_stream(peer, std::vector<std::string>(1, std::string(kEchoProtocol)));
  if (!s) co_return us;
  Bytes req(1024, 0x42), resp(1024);
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = Clock::now();
    if (!co_await (*s)->write(req)) break;
    if (!co_await read_exact(**s, resp)) break;
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  (void)(*s)->close_write();
  co_return us;
}

void BM_RequestResponse1KiB(benchmark::State& state) {
  Pair p;
  if (!run(p.client_io, p.client->dial(p.server_addr))) {
    state.SkipWithError("dial failed");
    return;
  }
  std::vector<double> all;
  constexpr int kRounds = 1000;
  for (auto _ : state) {
    auto us = run(p.client_io, request_response(*p.client, p.server_id, kRounds));
    if (us.size() != kRounds) {
      state.SkipWithError("request/response failed");
      return;
    }
    all.insert(all.end(), us.begin(), us.end());
  }
  std::sort(all.begin(), all.end());
  state.counters["p50_us"] = all[all.size() / 2];
  state.counters["p99_us"] = all[all.size() * 99 / 100];
  state.SetItemsProcessed(static_cast<std::int64_t>(all.size()));
}
BENCHMARK(BM_RequestResponse1KiB)->Unit(benchmark::kMillisecond)->UseRealTime();

// Full connection setup: TCP connect, multistream, Noise XX (3 messages, 4 X25519 operations and
// 2 Ed25519 verifications across both sides), multistream, yamux; then close.
void BM_Handshakes(benchmark::State& state) {
  HostConfig cfg;
  cfg.max_inbound = cfg.max_peers = 1024;
  Pair p(cfg);
  for (auto _ : state) {
    auto peer = run(p.client_io, p.client->dial(p.server_addr));
    if (!peer) {
      state.SkipWithError(peer.error().to_string().c_str());
      return;
    }
    p.client->disconnect(*peer);
    while (p.client->is_connected(*peer)) p.client_io.run_one();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Handshakes)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The cipher alone: ChaChaPoly over maximum-size Noise frames, the ceiling for throughput.
void BM_NoiseEncryptFrame(benchmark::State& state) {
  noise::CipherState cs(FixedBytes<32>{});
  const Bytes plain(noise::kMaxPlaintext, 1);
  Bytes out;
  out.reserve(noise::kMaxFrame);
  for (auto _ : state) {
    out.clear();
    (void)cs.encrypt({}, plain, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * plain.size()));
}
BENCHMARK(BM_NoiseEncryptFrame);

}  // namespace
}  // namespace ol::p2p
