#include "node/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "node/http_response.h"

namespace ol::node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxResponseBody = 64u << 20;

}  // namespace

// Beast's synchronous calls ignore the stream's deadline, so each exchange runs its async
// operations on a private io_context: tcp_stream's expiry then bounds the whole exchange.
struct HttpConnection::Impl {
  std::string host;
  std::uint16_t port;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Status connect(Clock::time_point deadline) {
    stream.reset();
    buffer.clear();
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return make_error(Errc::io, "resolve " + host + ": " + ec.message());
    stream.emplace(io);
    stream->expires_at(deadline);
    stream->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    io.restart();
    io.run();
    if (ec) {
      stream.reset();
      if (ec == beast::error::timeout) return make_error(Errc::timeout, "connect timed out");
      return make_error(Errc::io,
                        "connect " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    return {};
  }

  // One exchange on the open stream. `retryable` is set when the failure happened before any
  // response byte arrived on a reused connection (the server may have closed it idle).
  Result<HttpResponse> exchange(const http::request<http::string_body>& req,
                                Clock::time_point deadline, bool& retryable) {
    retryable = false;
    beast::error_code ec;
    stream->expires_at(deadline);
    http::async_write(*stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    io.restart();
    io.run();
    if (ec) {
      retryable = ec != beast::error::timeout;
      return fail(ec, "write");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    io.restart();
    io.run();
    if (ec) {
      retryable = ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                  ec == asio::error::eof;
      return fail(ec, "read");
    }
    auto res = parser.release();
    HttpResponse out = to_http_response(res);
    if (!res.keep_alive()) stream.reset();
    return out;
  }

  Error fail(const beast::error_code& ec, const char* what) {
    stream.reset();
    if (ec == beast::error::timeout)
      return make_error(Errc::timeout, std::string(what) + " timed out");
    return make_error(Errc::io, std::string(what) + ": " + ec.message());
  }

  Result<HttpResponse> request(std::string_view method, const std::string& target,
                               const std::string& body, std::chrono::milliseconds timeout,
                               const std::string& content_type) {
    const auto deadline = Clock::now() + timeout;
    http::request<http::string_body> req;
    req.method(http::string_to_verb(beast::string_view(method.data(), method.size())));
    if (req.method() == http::verb::unknown) {
      return make_error(Errc::invalid_argument, "unknown HTTP method " + std::string(method));
    }
    req.target(target);
    req.version(11);
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::user_agent, "openliquid");
    req.keep_alive(true);
    if (!body.empty() || req.method() == http::verb::post) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = stream.has_value();
      if (!stream) OL_TRY(connect(deadline));
      bool retryable = false;
      auto res = exchange(req, deadline, retryable);
      if (res.ok() || !(reused && retryable)) return res;
    }
    return make_error(Errc::io, "connection closed by the server");
  }
};

HttpConnection::HttpConnection(std::string host, std::uint16_t port)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpConnection::~HttpConnection() = default;

Result<HttpResponse> HttpConnection::request(std::string_view method, const std::string& target,
                                             const std::string& body,
                                             std::chrono::milliseconds timeout,
                                             const std::string& content_type) {
  return impl_->request(method, target, body, timeout, content_type);
}

Result<HttpResponse> http_request(const std::string& host, std::uint16_t port,
                                  std::string_view method, const std::string& target,
                                  const std::string& body, std::chrono::milliseconds timeout,
                                  const std::string& content_type) {
  HttpConnection conn(host, port);
  return conn.request(method, target, body, timeout, content_type);
}

Result<std::pair<std::string, std::uint16_t>> parse_http_url(std::string_view url) {
  if (url.starts_with("http://")) url.remove_prefix(7);
  if (url.ends_with("/")) url.remove_suffix(1);
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == url.size()) {
    return make_error(Errc::invalid_argument, "expected host:port, got '" + std::string(url) + "'");
  }
  std::uint32_t port = 0;
  for (char c : url.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return make_error(Errc::invalid_argument, "bad port in '" + std::string(url) + "'");
    }
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) {
    return make_error(Errc::invalid_argument, "bad port in '" + std::string(url) + "'");
  }
  return std::make_pair(std::string(url.substr(0, colon)), static_cast<std::uint16_t>(port));
}

}  // namespace ol::node
