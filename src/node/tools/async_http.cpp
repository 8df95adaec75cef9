#include "node/tools/async_http.h"

#include <boost/beast/http.hpp>

#include "node/http_response.h"

namespace ol::node::tools {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxResponseBody = 64u << 20;

}  // namespace

AsyncHttpConnection::AsyncHttpConnection(asio::any_io_executor ex, std::string host,
                                         std::uint16_t port)
    : ex_(std::move(ex)), host_(std::move(host)), port_(port) {}

void AsyncHttpConnection::close() {
  if (stream_) {
    beast::error_code ec;
    stream_->socket().close(ec);
  }
}

Task<Result<HttpResponse>> AsyncHttpConnection::request(http::verb method, std::string target,
                                                        std::string body,
                                                        std::chrono::milliseconds timeout,
                                                        const char* content_type) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.keep_alive(true);
  if (!body.empty() || method == http::verb::post) {
    req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    const bool reused = stream_.has_value();
    if (!stream_) {
      buffer_.clear();
      stream_.emplace(ex_);
      stream_->expires_after(timeout);
      tcp::endpoint ep(asio::ip::make_address(host_, ec), port_);
      if (ec) {
        stream_.reset();
        co_return make_error(Errc::invalid_argument, "bad host " + host_);
      }
      co_await stream_->async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        stream_.reset();
        co_return make_error(
            ec == beast::error::timeout ? Errc::timeout : Errc::io,
            "connect " + host_ + ":" + std::to_string(port_) + ": " + ec.message());
      }
      stream_->socket().set_option(tcp::no_delay(true), ec);
    }
    stream_->expires_after(timeout);
    co_await http::async_write(*stream_, req, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxResponseBody);
      co_await http::async_read(*stream_, buffer_, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        auto res = parser.release();
        HttpResponse out = to_http_response(res);
        if (!res.keep_alive()) stream_.reset();
        co_return out;
      }
    }
    stream_.reset();
    const bool closed_idle = ec == http::error::end_of_stream || ec == asio::error::eof ||
                             ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
    if (reused && closed_idle) continue;
    co_return make_error(ec == beast::error::timeout ? Errc::timeout : Errc::io,
                         std::string(http::to_string(method)) + " " + target + ": " + ec.message());
  }
  co_return make_error(Errc::io, "connection closed by the server");
}

Task<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace ol::node::tools
