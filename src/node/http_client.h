// A small synchronous HTTP/1.1 client (Boost.Beast) for the CLI (`openliquid tx`), the load
// generator and tests. One request per call on a fresh connection, or many on an HttpConnection.
// Not for the node's own serving path.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ol::node {

struct HttpResponse {
  int status = 0;            // e.g. 200, 404
  std::string content_type;  // the Content-Type header, "" if absent
  std::string body;
};

/// Sends one request and reads the whole response. `body` is sent as-is (Content-Type
/// application/json unless `content_type` says otherwise; no body for an empty string with GET).
/// Errors: io (resolve, connect, read, write), timeout (the whole exchange took longer than
/// `timeout`). Any HTTP status, 4xx and 5xx included, is a successful Result.
Result<HttpResponse> http_request(const std::string& host, std::uint16_t port,
                                  std::string_view method, const std::string& target,
                                  const std::string& body = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                  const std::string& content_type = "application/json");

/// A keep-alive connection for many sequential requests to one server (load generators). Not
/// thread-safe; reconnects once when the server closed the connection between requests.
class HttpConnection {
 public:
  HttpConnection(std::string host, std::uint16_t port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  Result<HttpResponse> request(std::string_view method, const std::string& target,
                               const std::string& body = "",
                               std::chrono::milliseconds timeout = std::chrono::seconds(10),
                               const std::string& content_type = "application/json");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Splits "http://host:port" or "host:port" (an optional trailing "/" allowed) into its parts.
Result<std::pair<std::string, std::uint16_t>> parse_http_url(std::string_view url);

}  // namespace ol::node
