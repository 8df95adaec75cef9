#include "node/tools/options.h"

namespace ol::node::tools {
namespace {

Error bad(std::string why) {
  return make_error(Errc::invalid_argument, std::move(why));
}

}  // namespace

Status validate(const DevnetOptions& o) {
  if (o.validators < 1 || o.validators > 64) return bad("--validators must be between 1 and 64");
  if (!(o.rate >= 0) || o.rate > 1e6) return bad("--rate must be between 0 and 1000000 tx/s");
  if (!(o.duration_s >= 0)) return bad("--duration must not be negative");
  if (o.accounts < o.validators || o.accounts > 1000) {
    return bad("--accounts must be between the validator count and 1000");
  }
  if (o.startup_timeout_s == 0) return bad("--startup-timeout must be positive");
  return {};
}

Status validate(const BenchOptions& o) {
  if (o.local == !o.rpc.empty()) return bad("give either --local or --rpc URL..., not both");
  if (!o.local && !o.dir.empty()) return bad("--dir needs --local");
  if (!o.local && o.mempool_capacity) return bad("--mempool-capacity needs --local");
  if (o.mempool_capacity && *o.mempool_capacity < 1) {
    return bad("--mempool-capacity must be at least 1");
  }
  if (o.local && (o.validators < 1 || o.validators > 64)) {
    return bad("--validators must be between 1 and 64");
  }
  if (!(o.duration_s > 0) || o.duration_s > 3600) {
    return bad("--duration must be between 0 and 3600 seconds");
  }
  if (o.repeat && (*o.repeat < 1 || *o.repeat > 100)) {
    return bad("--repeat must be between 1 and 100");
  }
  if (o.sweep) {
    if (!o.local) return bad("--sweep needs --local (each run starts a fresh network)");
    if (o.commands) return bad("--sweep is for signed transfers, not --commands");
    if (o.open_loop) return bad("--sweep offers paced rates; drop --open-loop");
    if (!(o.sweep_step >= 10) || o.sweep_step > 1e5) {
      return bad("--sweep-step must be between 10 and 100000 tx/s");
    }
    if (!(o.sweep_max >= o.rate) || o.sweep_max > 1e6) {
      return bad("--sweep-max must be at least --rate and at most 1000000 tx/s");
    }
  }
  if (o.commands) {
    if (o.open_loop)
      return bad("--open-loop is for signed transfers; --commands uses --outstanding");
    if (o.command_size < 16 || o.command_size > 4096) {
      return bad("--command-size must be between 16 and 4096 bytes (the first 16 are the id)");
    }
    if (o.outstanding < 1 || o.outstanding > 10'000'000) {
      return bad("--outstanding must be between 1 and 10000000");
    }
    if (o.batch < 1 || o.batch > o.outstanding)
      return bad("--batch must be between 1 and --outstanding");
    return {};
  }
  if (!o.open_loop && (!(o.rate > 0) || o.rate > 1e6)) {
    return bad("--rate must be between 0 and 1000000 tx/s (or use --open-loop)");
  }
  if (!o.local && o.faucet.empty()) {
    return bad("--faucet FILE (the faucet's key file) is needed with --rpc");
  }
  if (o.accounts < 1 || o.accounts > 1000) return bad("--accounts must be between 1 and 1000");
  const std::size_t nodes = o.local ? o.validators : o.rpc.size();
  if (o.accounts < nodes) return bad("--accounts must be at least the number of nodes");
  if (o.connections && (*o.connections < 1 || *o.connections > 64)) {
    return bad("--connections must be between 1 and 64");
  }
  if (o.submit_batch < 1 || o.submit_batch > 1000) {
    return bad("--submit-batch must be between 1 and 1000 transactions");
  }
  return {};
}

}  // namespace ol::node::tools
