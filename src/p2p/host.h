// Host: a libp2p node. It listens and dials over TCP, upgrades every connection the libp2p way
// (multistream-select -> Noise -> multistream-select -> yamux), keeps at most one connection per
// peer, enforces connection limits, and routes each inbound stream to the handler registered for
// the protocol the remote selects. identify and ping are served by default.
//
// Threading: a Host and everything it hands out live on one io_context thread. Call every method
// from that thread (co_spawn onto it from elsewhere).
// Lifetime: create() returns a shared_ptr; a listening Host's accept loop keeps it alive until
// close(), and so does a coroutine running one of its calls. Its connections do not: the last
// reference dropped destroys the Host, which closes them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "p2p/identify.h"
#include "p2p/multiaddr.h"
#include "p2p/noise.h"
#include "p2p/peer_id.h"
#include "p2p/yamux.h"

namespace ol::p2p {

inline constexpr std::string_view kPingProtocol = "/ipfs/ping/1.0.0";
inline constexpr std::string_view kEchoProtocol = "/echo/1.0.0";

enum class Direction { inbound, outbound };

struct ConnectionEvent {
  enum class Kind { connected, disconnected } kind;
  PeerId peer;
  Direction direction;
  Multiaddr remote_addr;
  std::string reason;  // why a connection ended ("" for connected)
};

struct HostConfig {
  std::string agent_version = "openliquid/0.1.0";
  std::size_t max_peers = 64;  // established + handshaking connections, both directions
  std::size_t max_inbound = 48;
  std::size_t max_outbound = 32;
  std::chrono::milliseconds dial_timeout{10'000};       // TCP connect through yamux selected
  std::chrono::milliseconds handshake_timeout{10'000};  // the same for inbound connections
  yamux::Config yamux;
};

class Host : public std::enable_shared_from_this<Host> {
 public:
  using StreamPtr = std::shared_ptr<yamux::Stream>;
  /// Serves one inbound stream; the stream's protocol() is already negotiated. When the handler
  /// returns, the Host closes the stream's write side if the handler did not.
  using Handler = std::function<Task<void>(StreamPtr)>;
  using EventHandler = std::function<void(const ConnectionEvent&)>;

  static std::shared_ptr<Host> create(asio::io_context& io, Identity identity,
                                      HostConfig config = {});
  ~Host();

  const PeerId& peer_id() const { return identity_.peer_id; }
  /// The io_context every coroutine of this Host (and of protocols built on it) runs on.
  asio::io_context& io_context() const { return io_; }
  const HostConfig& config() const { return config_; }

  /// Listens on an /ip4|ip6/<addr>/tcp/<port> address (port 0 picks one). Returns the bound
  /// address (with the real port, without /p2p).
  Result<Multiaddr> listen(const Multiaddr& addr);
  std::vector<Multiaddr> listen_addrs() const { return listen_addrs_; }

  void set_handler(std::string protocol, Handler handler);
  void remove_handler(const std::string& protocol);
  std::vector<std::string> protocols() const;
  void on_event(EventHandler handler) { event_handlers_.push_back(std::move(handler)); }

  /// Connects to `addr` unless already connected to the peer it names, and returns the
  /// authenticated remote PeerId. If `addr` has a /p2p component, any other remote identity fails
  /// with Errc::verify. Errc::timeout after config().dial_timeout; Errc::limit over the limits.
  Task<Result<PeerId>> dial(const Multiaddr& addr);
  /// Opens a stream to a connected peer, negotiating the first of `protocols` it supports.
  Task<Result<StreamPtr>> new_stream(const PeerId& peer, std::vector<std::string> protocols);
  /// Runs identify against a connected peer. Errc::verify if its key does not match its PeerId.
  Task<Result<identify::Info>> identify(const PeerId& peer);
  /// One /ipfs/ping/1.0.0 round trip (32 random bytes echoed back).
  Task<Result<Clock::duration>> ping(const PeerId& peer);

  bool is_connected(const PeerId& peer) const { return conns_.contains(peer); }
  std::size_t connection_count() const { return conns_.size(); }
  std::vector<PeerId> peers() const;
  /// The remote address of the connection to `peer`, if connected.
  std::optional<Multiaddr> remote_addr(const PeerId& peer) const;
  void disconnect(const PeerId& peer);
  /// Stops listening and closes every connection.
  void close();

 private:
  struct Connection {
    std::shared_ptr<yamux::Session> session;
    Direction direction;
    Multiaddr remote_addr;
  };

  Host(asio::io_context& io, Identity identity, HostConfig config);
  Task<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  Task<void> handle_inbound(tcp::socket socket);
  Task<Result<std::shared_ptr<yamux::Session>>> upgrade(std::shared_ptr<SecureChannel> chan,
                                                        Direction dir,
                                                        std::optional<PeerId> expected);
  Status add_connection(std::shared_ptr<yamux::Session> session, Direction dir, Multiaddr remote);
  Task<void> serve_stream(StreamPtr stream);
  void emit(const ConnectionEvent& e);
  std::size_t count(Direction d) const;

  asio::io_context& io_;
  Identity identity_;
  HostConfig config_;
  noise::LocalKeys noise_keys_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::vector<EventHandler> event_handlers_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  std::vector<Multiaddr> listen_addrs_;
  std::unordered_map<PeerId, Connection> conns_;
  std::size_t pending_inbound_ = 0, pending_outbound_ = 0;
  bool closed_ = false;
};

/// Handler for kEchoProtocol: writes back everything it reads until the remote closes.
Task<void> serve_echo(Host::StreamPtr stream);

}  // namespace ol::p2p
