#include "node/tools/tools.h"

#include <CLI/CLI.hpp>
#include <memory>

#include "node/tools/chaos.h"
#include "node/tools/runner.h"

namespace ol::node::tools {

namespace {

// "90", "90s", "15m", "1h", "500ms" -> seconds.
double parse_duration(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw CLI::ValidationError("--duration", "not a duration: " + text);
  }
  const std::string unit = text.substr(used);
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000;
  if (unit == "m" || unit == "min") return v * 60;
  if (unit == "h") return v * 3600;
  throw CLI::ValidationError("--duration", "unknown unit in " + text + " (s, m, h, ms)");
}

}  // namespace

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
  b->add_option("--connections", bench->connections,
                "keep-alive connections per node (default: enough for --rate, at least 4)");
  b->add_option("--submit-batch", bench->submit_batch,
                "signed transfers per request, up to what is due (1: POST /tx; more: POST /txs)")
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
  b->add_option("--min-block-interval-ms", bench->min_block_interval_ms,
                "with --local: the nodes' consensus.min_block_interval_ms (default: the config's)");
  b->add_option(
      "--mempool-capacity", bench->mempool_capacity,
      "with --local: the nodes' mempool.capacity in transactions (default: the config's)");
  b->add_option("--repeat", bench->repeat,
                "runs of the same load (with --local, each on a fresh network), then the medians; "
                "with --sweep: runs at 80% of the highest sustained rate (default 3)");
  b->add_flag("--sweep", bench->sweep,
              "signed, with --local: from --rate, raise the rate by --sweep-step while it is "
              "sustained, then measure the latency at 80% of the highest sustained rate");
  b->add_option("--sweep-step", bench->sweep_step, "tx/s added per sweep run")
      ->capture_default_str();
  b->add_option("--sweep-max", bench->sweep_max, "the sweep's highest rate")->capture_default_str();
  b->callback([bench] {
    if (int rc = run_bench(*bench); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto chaos = std::make_shared<ChaosOptions>();
  auto duration = std::make_shared<std::string>("60s");
  auto* c = app.add_subcommand(
      "chaos",
      "local validators under a signed load while random ones are SIGKILLed and restarted (at "
      "most f down) and partitions come and heal; then every store is checked for divergence, "
      "lost committed transactions and double-signed rounds (exit 0 only with no violation)");
  c->add_option("--validators", chaos->validators, "number of validators")->capture_default_str();
  c->add_option("--duration", *duration, "how long the chaos lasts (60s, 15m, 1h)")
      ->capture_default_str();
  c->add_option("--seed", chaos->seed, "seed of the kill and partition schedule (0 = random)")
      ->capture_default_str();
  c->add_option("--rate", chaos->rate, "signed transfers per second (0 = no load)")
      ->capture_default_str();
  c->add_option("--accounts", chaos->accounts, "load accounts funded from the faucet")
      ->capture_default_str();
  c->add_option("--dir", chaos->dir, "network directory (must be new or empty; default temporary)");
  c->add_flag("--keep", chaos->keep, "keep the directory after a clean run");
  c->add_flag("!--no-kills", chaos->kills, "no SIGKILLs");
  c->add_flag("!--no-partitions", chaos->partitions, "no partitions");
  c->add_option("--settle-timeout", chaos->settle_timeout_s,
                "seconds for every validator to catch up after the chaos")
      ->capture_default_str();
  c->add_option("--status-every", chaos->status_every_s, "seconds between status lines")
      ->capture_default_str();
  c->add_option("--check", chaos->check_dir,
                "only check the stopped network in this directory (one kept with --keep or --dir)");
  c->callback([chaos, duration] {
    chaos->duration_s = parse_duration(*duration);
    if (int rc = run_chaos(*chaos); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ol::node::tools
