// Turns a Beast response into the client-side HttpResponse; shared by the synchronous client
// (http_client.cpp) and the load generator's coroutine client (tools/async_http.cpp).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "node/http_client.h"

namespace ol::node {

/// Moves the body out of `res`; its headers (keep_alive()) stay readable.
inline HttpResponse to_http_response(
    boost::beast::http::response<boost::beast::http::string_body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  if (auto it = res.find(boost::beast::http::field::content_type); it != res.end()) {
    out.content_type = std::string(it->value());
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace ol::node
