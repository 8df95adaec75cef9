// A keep-alive HTTP/1.1 client connection for coroutines on one io_context thread (Boost.Beast):
// the load generator runs many of these side by side so the client is never the bottleneck.
#pragma once

// Asio through the p2p layer's header first (include order and coroutine set-up for GCC 12 and
// clang).
#include "p2p/asio.h"

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "common/result.h"
#include "node/http_client.h"

namespace ol::node::tools {

namespace asio = boost::asio;
template <typename T>
using Task = asio::awaitable<T>;

/// One connection, one request at a time (the caller awaits each). Connects lazily and
/// reconnects after any failure or a server-side close; a request that fails on a reused
/// connection before any response byte arrived is retried once on a fresh one.
class AsyncHttpConnection {
 public:
  AsyncHttpConnection(asio::any_io_executor ex, std::string host, std::uint16_t port);

  /// Any HTTP status is a successful Result; errors are io or timeout.
  Task<Result<HttpResponse>> request(boost::beast::http::verb method, std::string target,
                                     std::string body = {},
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                     const char* content_type = "application/json");

  /// Closes the socket (a pending request fails promptly).
  void close();

 private:
  asio::any_io_executor ex_;
  std::string host_;
  std::uint16_t port_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

/// A level-less wake-up for coroutines on one thread (the p2p layer's Signal).
using Notifier = p2p::Signal;

/// Suspends the calling coroutine for `d` (a timer, never a spin).
Task<void> sleep_for(std::chrono::steady_clock::duration d);

}  // namespace ol::node::tools
