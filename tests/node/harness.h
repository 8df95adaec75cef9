// Test helpers for node tests: temp directories, free ports, a network made by `init`, JSON over
// the node's HTTP client, and polling with generous deadlines (never timing assertions).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "node/http_client.h"
#include "node/init.h"
#include "support/temp_dir.h"

namespace ol::node::test {

using nlohmann::json;

/// A fresh directory under the system temp dir, removed at destruction.
struct TempDir : ol::testing::TempDir {
  TempDir() : ol::testing::TempDir("ol-node-test") {}
};

/// A random free port range below the ephemeral range (see find_free_port_range).
inline std::uint16_t free_port_range(std::size_t count) {
  auto base = find_free_port_range(count);
  if (!base) {
    ADD_FAILURE() << base.error().message;
    return 0;
  }
  return *base;
}

/// `openliquid init` into `dir` with random free ports; returns the genesis.
inline Genesis init_into(const std::filesystem::path& dir, std::size_t validators) {
  InitOptions o;
  o.validators = validators;
  o.dir = dir;
  const std::uint16_t base = free_port_range(2 * validators);
  o.base_p2p_port = base;
  o.base_rpc_port = static_cast<std::uint16_t>(base + validators);
  auto g = init_network(o);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().to_string());
  return g.ok() ? *g : Genesis{};
}

/// Polls `cond` every 50 ms until it holds or `deadline` passes.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

inline Reply call(std::uint16_t port, std::string_view method, const std::string& target,
                  const std::string& body = "") {
  auto r = http_request("127.0.0.1", port, method, target, body, std::chrono::seconds(15));
  if (!r) return Reply{0, json(), r.error().to_string()};
  Reply out{r->status, json::parse(r->body, nullptr, false), r->body};
  return out;
}

}  // namespace ol::node::test
