// Operator diagnostics for the libp2p stack:
//   listen [--host H] [--port P] [--topic T]...
//                                  print our multiaddr; serve identify, ping, echo and gossipsub
//                                  (joined to each --topic, so pub and sub can meet through it)
//   ping MULTIADDR [-n N]          dial and print N round-trip times
//   identify MULTIADDR             print the remote's PeerId, agent, protocols, listen addresses
//   sub TOPIC --bootstrap MA...    print the data of each message on TOPIC, one line each
//   pub TOPIC MESSAGE --bootstrap MA... [--count N]
//                                  wait for a mesh peer on TOPIC, publish N times, exit
// Any failure prints one line "<name>: <reason>" on stderr and exits 1.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "p2p/gossipsub.h"
#include "p2p/host.h"
#include "p2p/tool/p2p_tool.h"

namespace {

using namespace ol;
using namespace ol::p2p;

std::string g_tool_name = "openliquid-p2p";  // prefix of failure lines

int fail(const std::string& reason) {
  std::fprintf(stderr, "%s: %s\n", g_tool_name.c_str(), reason.c_str());
  return 1;
}

std::string reason_for(const Error& e) {
  switch (e.code) {
    case Errc::verify:
      return "handshake failed: " + e.message;
    case Errc::timeout:
      return "unreachable: " + e.message;
    case Errc::io:
      return "unreachable: " + e.message;
    default:
      return e.to_string();
  }
}

// Runs `body` on the io_context and returns its exit status.
int run_client(const std::string& addr_text, std::chrono::milliseconds timeout,
               const std::function<Task<int>(Host&, const PeerId&)>& body) {
  auto addr = Multiaddr::parse(addr_text);
  if (!addr) return fail("bad multiaddr: " + addr.error().message);
  asio::io_context io;
  HostConfig cfg;
  cfg.dial_timeout = timeout;
  auto host = Host::create(io, Identity::generate(), cfg);
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        auto peer = co_await host->dial(*addr);
        if (!peer) {
          status = fail(reason_for(peer.error()));
        } else {
          status = co_await body(*host, *peer);
        }
        host->close();
      },
      asio::detached);
  io.run();
  return status;
}

Task<int> do_ping(Host& host, const PeerId& peer, int count) {
  for (int i = 1; i <= count; ++i) {
    auto rtt = co_await host.ping(peer);
    if (!rtt) co_return fail("ping failed: " + rtt.error().to_string());
    const double ms = std::chrono::duration<double, std::milli>(*rtt).count();
    std::printf("ping %d: %s rtt=%.3f ms\n", i, peer.to_string().c_str(), ms);
    std::fflush(stdout);
  }
  co_return 0;
}

Task<int> do_identify(Host& host, const PeerId& peer) {
  auto info = co_await host.identify(peer);
  if (!info) co_return fail("identify failed: " + info.error().to_string());
  std::printf("peer id: %s\n", peer.to_string().c_str());
  std::printf("agent version: %s\n", info->agent_version.c_str());
  std::printf("protocol version: %s\n", info->protocol_version.c_str());
  std::printf("protocols:\n");
  for (const auto& p : info->protocols) std::printf("  %s\n", p.c_str());
  std::printf("listen addresses:\n");
  for (const auto& a : info->listen_addrs) std::printf("  %s\n", a.to_string().c_str());
  if (info->observed_addr)
    std::printf("observed address: %s\n", info->observed_addr->to_string().c_str());
  co_return 0;
}

int do_listen(const std::string& host_ip, std::uint16_t port,
              const std::vector<std::string>& topics) {
  asio::io_context io;
  const Identity id = Identity::generate();
  auto host = Host::create(io, id);
  host->set_handler(std::string(kEchoProtocol), serve_echo);
  auto gs = gossipsub::Gossipsub::create(host, id);
  gs->start();
  for (const auto& t : topics) {
    gs->subscribe(t, [](const gossipsub::Message& m) {
      spdlog::info("message on {} from {} ({} bytes)", m.topic, m.from.to_string(), m.data.size());
    });
  }
  auto listen_addr = Multiaddr::from_ip_port(host_ip, port);
  if (!listen_addr) return fail("bad listen address: " + listen_addr.error().message);
  auto bound = host->listen(*listen_addr);
  if (!bound) return fail(bound.error().to_string());
  host->on_event([](const ConnectionEvent& e) {
    spdlog::info("{} {} ({})",
                 e.kind == ConnectionEvent::Kind::connected ? "connected" : "disconnected",
                 e.peer.to_string(), e.remote_addr.to_string());
  });
  std::printf("%s\n", bound->with_peer_id(host->peer_id()).to_string().c_str());
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    gs->stop();
    host->close();
    io.stop();
  });
  io.run();
  return 0;
}

// A gossipsub node for sub/pub: dials every bootstrap address (failing only if none answers),
// then runs `body`; returns the exit status.
int run_gossip(const std::vector<std::string>& bootstrap, std::chrono::milliseconds timeout,
               const std::function<Task<int>(asio::steady_timer&, gossipsub::Gossipsub&)>& body) {
  std::vector<Multiaddr> addrs;
  for (const auto& text : bootstrap) {
    auto a = Multiaddr::parse(text);
    if (!a) return fail("bad multiaddr: " + a.error().message);
    addrs.push_back(*a);
  }
  if (addrs.empty()) return fail("--bootstrap: at least one multiaddr is required");
  asio::io_context io;
  HostConfig cfg;
  cfg.dial_timeout = timeout;
  const Identity id = Identity::generate();
  auto host = Host::create(io, id, cfg);
  auto gs = gossipsub::Gossipsub::create(host, id);
  gs->start();
  int status = 1;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  // SIGINT/SIGTERM ends `body` through this timer (it never expires by itself), so connections
  // close in order before io.run() returns.
  asio::steady_timer stop(io, Clock::time_point::max());
  asio::steady_timer give_up(io);
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        std::optional<Error> last;
        std::size_t connected = 0;
        for (const auto& a : addrs) {
          auto peer = co_await host->dial(a);
          if (peer) {
            ++connected;
          } else {
            spdlog::warn("bootstrap {}: {}", a.to_string(), peer.error().to_string());
            last = peer.error();
          }
        }
        if (connected == 0) {
          status = fail(reason_for(*last));
        } else {
          status = co_await body(stop, *gs);
        }
        gs->stop();
        host->close();
        signals.cancel();
        give_up.cancel();
      },
      asio::detached);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    status = 0;  // sub runs until stopped; being stopped is its normal end
    stop.cancel();
    give_up.expires_after(std::chrono::seconds(3));  // should closing ever hang
    give_up.async_wait([&](const boost::system::error_code& e) {
      if (!e) io.stop();
    });
  });
  io.run();
  return status;
}

Task<void> sleep_for(asio::any_io_executor ex, std::chrono::milliseconds d) {
  asio::steady_timer t(ex, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

Task<int> do_sub(asio::steady_timer& stop, gossipsub::Gossipsub& gs, std::string topic) {
  gs.subscribe(topic, [](const gossipsub::Message& m) {
    std::fwrite(m.data.data(), 1, m.data.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  });
  boost::system::error_code ec;
  co_await stop.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // until stopped
  co_return 0;
}

Task<int> do_pub(asio::any_io_executor ex, gossipsub::Gossipsub& gs, std::string topic,
                 std::string message, int count, std::chrono::milliseconds timeout) {
  gs.subscribe(topic, [](const gossipsub::Message&) {});  // join the mesh; ignore what arrives
  const auto deadline = Clock::now() + timeout;
  while (gs.mesh_peers(topic).empty()) {
    if (Clock::now() >= deadline) {
      co_return fail("no mesh peer on " + topic + " within " + std::to_string(timeout.count()) +
                     " ms");
    }
    co_await sleep_for(ex, std::chrono::milliseconds(50));
  }
  for (int i = 0; i < count; ++i) {
    auto id = gs.publish(topic, Bytes(message.begin(), message.end()));
    if (!id) co_return fail("publish failed: " + id.error().to_string());
  }
  // Exit only once the RPCs are handed to the connections (closing flushes those).
  while (gs.pending_send_bytes() > 0 && Clock::now() < deadline + timeout)
    co_await sleep_for(ex, std::chrono::milliseconds(10));
  std::printf("published %d message(s) on %s to %zu mesh peer(s)\n", count, topic.c_str(),
              gs.mesh_peers(topic).size());
  std::fflush(stdout);
  co_return 0;
}

}  // namespace

namespace ol::p2p {

int run_p2p_tool(int argc, char** argv, const std::string& name) {
  CLI::App app{name + ": libp2p diagnostics (listen, ping, identify, sub, pub)"};
  app.name(name);
  g_tool_name = name;
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");

  std::string host_ip = "127.0.0.1";
  std::uint16_t port = 0;
  std::vector<std::string> listen_topics;
  auto* listen = app.add_subcommand(
      "listen", "listen and serve identify, ping, /echo/1.0.0 and gossipsub (/meshsub/1.1.0)");
  listen->add_option("--host", host_ip, "IP address to listen on (0.0.0.0 for all)");
  listen->add_option("--port,-p", port, "TCP port (0 picks a free one)");
  listen->add_option("--topic", listen_topics, "gossipsub topic to join and relay (repeatable)");

  std::string target;
  int count = 4;
  int timeout_ms = 10000;
  auto* ping = app.add_subcommand("ping", "dial MULTIADDR and ping it");
  ping->add_option("multiaddr", target, "e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...")->required();
  ping->add_option("-n", count, "number of pings")->check(CLI::Range(1, 1000000));
  ping->add_option("--timeout-ms", timeout_ms, "dial timeout");
  auto* ident =
      app.add_subcommand("identify", "dial MULTIADDR and print what it says about itself");
  ident->add_option("multiaddr", target, "e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...")
      ->required();
  ident->add_option("--timeout-ms", timeout_ms, "dial timeout");

  std::string topic, message;
  std::vector<std::string> bootstrap;
  auto* sub = app.add_subcommand("sub", "join TOPIC and print each message's data, one per line");
  sub->add_option("topic", topic, "gossipsub topic")->required();
  sub->add_option("--bootstrap", bootstrap, "multiaddr(s) to dial")->required();
  sub->add_option("--timeout-ms", timeout_ms, "dial timeout");
  auto* pub = app.add_subcommand("pub", "wait for a mesh peer on TOPIC, publish MESSAGE, exit");
  pub->add_option("topic", topic, "gossipsub topic")->required();
  pub->add_option("message", message, "message data")->required();
  pub->add_option("--bootstrap", bootstrap, "multiaddr(s) to dial")->required();
  pub->add_option("--count,-n", count, "times to publish")->check(CLI::Range(1, 1000000));
  pub->add_option("--timeout-ms", timeout_ms, "dial timeout, and the wait for a mesh peer");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (auto st = ol::log::init(log_level, "p2p"); !st) return fail(st.error().to_string());
  const std::chrono::milliseconds timeout(timeout_ms);
  if (*listen) return do_listen(host_ip, port, listen_topics);
  if (*sub) {
    return run_gossip(bootstrap, timeout, [&](asio::steady_timer& stop, gossipsub::Gossipsub& gs) {
      return do_sub(stop, gs, topic);
    });
  }
  if (*pub) {
    if (!pub->count("--count") && !pub->count("-n")) count = 1;
    return run_gossip(bootstrap, timeout, [&](asio::steady_timer& stop, gossipsub::Gossipsub& gs) {
      return do_pub(stop.get_executor(), gs, topic, message, count, timeout);
    });
  }
  if (*ping) {
    return run_client(target, timeout,
                      [count](Host& h, const PeerId& p) { return do_ping(h, p, count); });
  }
  return run_client(target, timeout, [](Host& h, const PeerId& p) { return do_identify(h, p); });
}

}  // namespace ol::p2p
