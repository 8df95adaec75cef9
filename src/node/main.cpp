// `openliquid`: the operator's command-line tool.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/hex.h"
#include "crypto/ed25519.h"
#include "crypto/secp256k1.h"
#include "node/init.h"
#include "node/tools/tools.h"

namespace {

int fail(const ol::Error& e) {
  std::fprintf(stderr, "openliquid: %s\n", e.message.c_str());
  return 1;
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

  ol::node::tools::add_commands(app);

  CLI11_PARSE(app, argc, argv);

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
    std::printf("  faucet %s (key in faucet_key.json)\n", g->app.faucet->to_checksum_hex().c_str());
    return 0;
  }
  return 0;
}
