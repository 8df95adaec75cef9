#include "node/tools/tools.h"

#include <CLI/CLI.hpp>
#include <memory>

#include "node/tools/runner.h"

namespace ol::node::tools {

void add_commands(CLI::App& app) {
  auto devnet = std::make_shared<DevnetOptions>();
  auto* d = app.add_subcommand(
      "devnet",
      "start a local network of validator processes with a signed demo load and a live status "
      "line (Ctrl-C stops it)");
  d->add_option("--validators", devnet->validators, "number of validators")->capture_default_str();
  d->add_option("--rate", devnet->rate, "signed transfers per second (0 = no load)")
      ->capture_default_str();
  d->add_option("--dir", devnet->dir,
                "network directory (created by init; default: a temporary one, removed on exit)");
  d->add_option("--duration", devnet->duration_s, "seconds to run (0 = until Ctrl-C)")
      ->capture_default_str();
  d->add_option("--accounts", devnet->accounts, "demo accounts funded from the faucet")
      ->capture_default_str();
  d->add_option("--startup-timeout", devnet->startup_timeout_s,
                "seconds to wait for the validators to commit")
      ->capture_default_str();
  d->callback([devnet] {
    if (int rc = run_devnet(*devnet); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto bench = std::make_shared<BenchOptions>();
  auto* b = app.add_subcommand(
      "bench",
      "load generator: signed transfers (or --commands, consensus-only) against --rpc nodes or a "
      "--local network; prints committed/s and submit-to-commit latency");
  b->add_option("--rpc", bench->rpc, "node RPC URLs (http://127.0.0.1:8600 ...)");
  b->add_flag("--local", bench->local, "start a local network of validator processes");
  b->add_option("--validators", bench->validators,
                "validators (with --local; otherwise the chain's count, for the limit figure)")
      ->capture_default_str()
      ->each([bench](const std::string&) { bench->validators_set = true; });
  b->add_option("--dir", bench->dir, "with --local: the network directory (default: temporary)");
  b->add_option("--duration", bench->duration_s, "seconds of load")->capture_default_str();
  b->add_option("--rate", bench->rate, "signed transfers per second")->capture_default_str();
  b->add_flag("--open-loop", bench->open_loop, "submit signed transfers as fast as accepted");
  b->add_option("--accounts", bench->accounts, "sending accounts, funded from the faucet")
      ->capture_default_str();
  b->add_option("--faucet", bench->faucet, "faucet key file (needed with --rpc)");
  b->add_option("--connections", bench->connections, "keep-alive connections per node")
      ->capture_default_str();
  b->add_flag("--commands", bench->commands,
              "consensus-only: unsigned fixed-size commands (nodes with consensus.payload = "
              "\"commands\")");
  b->add_option("--command-size", bench->command_size, "bytes per command")->capture_default_str();
  b->add_option("--outstanding", bench->outstanding, "commands in flight at most")
      ->capture_default_str();
  b->add_option("--batch", bench->batch,
                "commands per submission (and, with --local, consensus.max_block_txs)")
      ->capture_default_str();
  b->callback([bench] {
    if (int rc = run_bench(*bench); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ol::node::tools
