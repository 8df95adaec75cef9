// `openliquid`: the operator's command-line tool.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/hex.h"
#include "common/log.h"
#include "crypto/ed25519.h"
#include "crypto/secp256k1.h"
#include "node/http_client.h"
#include "node/init.h"
#include "node/node.h"
#include "node/tools/tools.h"
#include "p2p/tool/p2p_tool.h"
#include "types/amount.h"

namespace {

int fail(const ol::Error& e) {
  std::fprintf(stderr, "openliquid: %s\n", e.message.c_str());
  return 1;
}

// `openliquid node --home DIR`: runs until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1).
int run_node(const std::string& home, const std::string& log_level_override, bool state_sync) {
  namespace asio = ol::p2p::asio;
  auto config = ol::node::load_config(std::filesystem::path(home) / "config.toml");
  if (!config) return fail(config.error());
  if (state_sync) config->sync.state_sync = true;
  const std::string level = log_level_override.empty() ? config->log_level : log_level_override;
  if (auto s = ol::log::init(level); !s) return fail(s.error());

  asio::io_context io(1);
  auto node = ol::node::Node::open(home, *config, io);
  if (!node) return fail(node.error());
  int exit_code = 0;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  auto shutdown = [&](const char* why) {
    spdlog::info("node: shutting down ({})", why);
    (*node)->stop();
    signals.cancel();
    // Let the RPC and network close their connections, then leave the loop.
    grace.expires_after(std::chrono::milliseconds(200));
    grace.async_wait([&](const boost::system::error_code&) { io.stop(); });
  };
  (*node)->on_fatal([&](const ol::Error& e) {
    asio::post(io, [&, msg = e.to_string()] {
      spdlog::critical("node: fatal: {}", msg);
      exit_code = 1;
      shutdown("fatal error");
    });
  });
  if (auto s = (*node)->start(); !s) return fail(s.error());
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
  });
  io.run();
  node->reset();  // closes the store
  spdlog::info("node: stopped");
  return exit_code;
}

struct TransferOptions {
  std::string key_file, to, amount, rpc = "127.0.0.1:8600";
  std::optional<std::uint64_t> nonce;
  bool wait = false;
  double wait_seconds = 60;
};

ol::Result<nlohmann::json> get_json(const std::string& host, std::uint16_t port,
                                    const std::string& target) {
  OL_TRY_ASSIGN(auto res, ol::node::http_request(host, port, "GET", target));
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return ol::make_error(ol::Errc::decode, "GET " + target + ": not a JSON object");
  }
  if (res.status != 200) {
    return ol::make_error(ol::Errc::state, "GET " + target + ": " + std::to_string(res.status) +
                                               " " + j.value("error", std::string()));
  }
  return j;
}

// `openliquid tx transfer`: sign with a secp256k1 key file, submit over RPC, optionally wait.
int run_transfer(const TransferOptions& o) {
  auto key = ol::crypto::load_secp256k1_key_file(o.key_file);
  if (!key) return fail(key.error());
  auto to = ol::crypto::Address::parse(o.to);
  if (!to) return fail(ol::make_error(to.error().code, "--to: " + to.error().message));
  auto amount = ol::types::parse_amount(o.amount);
  if (!amount)
    return fail(ol::make_error(amount.error().code, "--amount: " + amount.error().message));
  auto url = ol::node::parse_http_url(o.rpc);
  if (!url) return fail(url.error());
  const auto& [host, port] = *url;

  auto status = get_json(host, port, "/status");
  if (!status) return fail(status.error());
  const auto chain_id = (*status)["chain_id"].get<std::uint64_t>();
  std::uint64_t nonce = 0;
  if (o.nonce) {
    nonce = *o.nonce;
  } else {
    auto account = get_json(host, port, "/account/" + key->address().to_checksum_hex());
    if (!account) return fail(account.error());
    nonce = (*account)["nonce"].get<std::uint64_t>();
  }
  auto tx = ol::types::Transaction::sign(chain_id, nonce, ol::types::Transfer{*to, *amount}, *key);
  nlohmann::json body{{"tx", ol::to_hex(ol::codec::encode(tx), true)}};
  auto res = ol::node::http_request(host, port, "POST", "/tx", body.dump());
  if (!res) return fail(res.error());
  auto reply = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || reply.is_discarded() || !reply.contains("hash")) {
    std::string why = reply.is_object() ? reply.value("error", res->body) : res->body;
    return fail(
        ol::make_error(ol::Errc::state, "rejected (" + std::to_string(res->status) + "): " + why));
  }
  const std::string hash = reply["hash"].get<std::string>();
  std::printf("%s\n", hash.c_str());
  std::fflush(stdout);
  if (reply.contains("waiting_for_nonce")) {
    std::fprintf(stderr,
                 "note: nonce %llu of this account is not there yet; this transfer executes after "
                 "it, and is dropped if it does not arrive within the node's "
                 "mempool.future_lifetime_ms\n",
                 static_cast<unsigned long long>(reply["waiting_for_nonce"].get<std::uint64_t>()));
  }
  if (!o.wait) return 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(o.wait_seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = get_json(host, port, "/tx/" + hash);
    if (st) {
      const std::string s = (*st)["status"].get<std::string>();
      if (s == "committed") {
        std::printf("committed at height %llu\n",
                    static_cast<unsigned long long>((*st)["height"].get<std::uint64_t>()));
        return 0;
      }
      if (s == "failed" || s == "rejected") {
        return fail(ol::make_error(ol::Errc::state, s + ": " + st->value("reason", "")));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fail(ol::make_error(ol::Errc::timeout, "not committed within the wait"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"OpenLiquid: a Layer-1 chain for an on-chain order-book exchange"};
  app.require_subcommand(1);

  std::string key_type = "secp256k1";
  std::string key_out;
  auto* keygen = app.add_subcommand("keygen", "generate a key file (mode 0600)");
  keygen->add_option("--type", key_type, "secp256k1 (user account) or ed25519 (validator)")
      ->check(CLI::IsMember({"secp256k1", "ed25519"}));
  keygen->add_option("--out", key_out, "file to create (never overwritten)")->required();

  ol::node::InitOptions init_opts;
  std::string init_dir;
  auto* init = app.add_subcommand("init", "create keys, genesis and configs for a local network");
  init->add_option("--validators", init_opts.validators, "number of validators")
      ->capture_default_str();
  init->add_option("--dir", init_dir, "output directory (must not exist or be empty)")->required();
  init->add_option("--chain-id", init_opts.chain_id, "chain id")->capture_default_str();
  init->add_option("--base-port", init_opts.base_p2p_port, "first p2p port")->capture_default_str();
  init->add_option("--base-rpc-port", init_opts.base_rpc_port, "first RPC port")
      ->capture_default_str();
  init->add_option("--full-nodes", init_opts.full_nodes,
                   "also write this many full-node homes (full<j>/, no validator key)")
      ->capture_default_str();
  init->add_option("--generated-accounts", init_opts.generated_accounts,
                   "test/devnet: genesis funds this many deterministic accounts (1 token each)")
      ->capture_default_str();

  std::string node_home, node_log_level;
  bool node_state_sync = false;
  auto* node = app.add_subcommand(
      "node", "run a validator (or, without a validator key, a full node) until SIGINT/SIGTERM");
  node->add_option("--home", node_home, "the node's directory (config.toml, keys, data)")
      ->required();
  node->add_option("--log-level", node_log_level,
                   "trace, debug, info, warn, error, critical, off (default: the config's)");
  node->add_flag("--state-sync", node_state_sync,
                 "on an empty store, start from the newest checkpoint peers can prove, then "
                 "block-sync (as [sync] state_sync = true)");

  TransferOptions transfer_opts;
  auto* tx = app.add_subcommand("tx", "sign and submit transactions");
  tx->require_subcommand(1);
  auto* transfer = tx->add_subcommand("transfer", "transfer native tokens");
  transfer->add_option("--key", transfer_opts.key_file, "secp256k1 key file of the sender")
      ->required();
  transfer->add_option("--to", transfer_opts.to, "recipient address (0x…)")->required();
  transfer->add_option("--amount", transfer_opts.amount, "amount in base units (decimal)")
      ->required();
  transfer->add_option("--nonce", transfer_opts.nonce,
                       "sender nonce (default: the account's committed nonce)");
  transfer->add_option("--rpc", transfer_opts.rpc, "node RPC address host:port")
      ->capture_default_str();
  transfer->add_flag("--wait", transfer_opts.wait, "wait until committed (or failed)");
  transfer->add_option("--wait-seconds", transfer_opts.wait_seconds, "how long --wait waits")
      ->capture_default_str();

  auto* p2p = app.add_subcommand("p2p", "p2p diagnostics (listen, ping, identify)");
  p2p->prefix_command();
  p2p->set_help_flag();  // --help goes to the p2p tool

  ol::node::tools::add_commands(app);

  CLI11_PARSE(app, argc, argv);

  if (node->parsed()) return run_node(node_home, node_log_level, node_state_sync);
  if (transfer->parsed()) return run_transfer(transfer_opts);
  if (p2p->parsed()) {
    std::vector<std::string> rest = p2p->remaining();
    std::vector<char*> args;
    std::string name = "openliquid p2p";
    args.push_back(name.data());
    for (auto& a : rest) args.push_back(a.data());
    args.push_back(nullptr);
    return ol::p2p::run_p2p_tool(static_cast<int>(rest.size() + 1), args.data(), name);
  }
  if (keygen->parsed()) {
    if (key_type == "ed25519") {
      auto key = ol::crypto::Ed25519KeyPair::generate();
      if (auto s = ol::crypto::save_ed25519_key_file(key_out, key); !s) return fail(s.error());
      std::printf("ed25519 public key %s written to %s\n",
                  ol::to_hex(key.public_key().bytes).c_str(), key_out.c_str());
    } else {
      auto key = ol::crypto::Secp256k1Key::generate();
      if (auto s = ol::crypto::save_secp256k1_key_file(key_out, key); !s) return fail(s.error());
      std::printf("address %s written to %s\n", key.address().to_checksum_hex().c_str(),
                  key_out.c_str());
    }
    return 0;
  }
  if (init->parsed()) {
    init_opts.dir = init_dir;
    auto g = ol::node::init_network(init_opts);
    if (!g) return fail(g.error());
    std::printf("initialised %zu validators (chain id %llu) in %s\n", g->validators.size(),
                static_cast<unsigned long long>(g->app.chain_id), init_dir.c_str());
    for (std::size_t i = 0; i < g->validators.size(); ++i) {
      std::printf("  node%zu  p2p %s\n", i, g->validators[i].p2p_address.c_str());
    }
    for (std::size_t j = 0; j < init_opts.full_nodes; ++j) {
      std::printf("  full%zu  (full node)\n", j);
    }
    std::printf("  faucet %s (key in faucet_key.json)\n", g->app.faucet->to_checksum_hex().c_str());
    return 0;
  }
  return 0;
}
