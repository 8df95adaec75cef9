#include "node/init.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>

#include "node/config.h"

namespace ol::node {
namespace {

Status write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return make_error(Errc::io, "cannot write " + path.string());
  return {};
}

}  // namespace

Result<Genesis> init_network(const InitOptions& opts) {
  const std::size_t validators = opts.validators;
  if (validators == 0 || validators > 256) {
    return make_error(Errc::invalid_argument, "--validators must be between 1 and 256");
  }
  if (opts.full_nodes > 256) {
    return make_error(Errc::invalid_argument, "--full-nodes must be at most 256");
  }
  const std::size_t n = validators + opts.full_nodes;  // ports used from each base
  if (opts.dir.empty()) return make_error(Errc::invalid_argument, "--dir is required");
  auto fits = [n](std::uint32_t base) { return base >= 1024 && base + n - 1 <= 65535; };
  if (!fits(opts.base_p2p_port) || !fits(opts.base_rpc_port)) {
    return make_error(Errc::invalid_argument, "port ranges must lie within 1024..65535");
  }
  const std::uint32_t p2p_lo = opts.base_p2p_port, rpc_lo = opts.base_rpc_port;
  if (p2p_lo < rpc_lo + n && rpc_lo < p2p_lo + n) {
    return make_error(Errc::invalid_argument, "p2p and rpc port ranges overlap");
  }
  std::error_code ec;
  if (std::filesystem::exists(opts.dir) && !std::filesystem::is_empty(opts.dir, ec)) {
    return make_error(
        Errc::invalid_argument,
        opts.dir.string() + " exists and is not empty; init never overwrites a network");
  }
  std::filesystem::create_directories(opts.dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + opts.dir.string() + ": " + ec.message());

  Genesis g;
  g.app.chain_id = opts.chain_id;
  g.genesis_time_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());

  auto faucet = crypto::Secp256k1Key::generate();
  OL_TRY(crypto::save_secp256k1_key_file(opts.dir / "faucet_key.json", faucet));
  // 10^9 tokens of 10^18 base units: enough for any demo, far from the 128-bit limit.
  types::Amount one_token = 1'000'000'000'000'000'000ull;
  g.app.allocations.push_back({faucet.address(), one_token * 1'000'000'000ull});
  g.app.faucet = faucet.address();
  if (opts.generated_accounts > execution::Genesis::kMaxAllocations - g.app.allocations.size()) {
    return make_error(
        Errc::invalid_argument,
        "--generated-accounts: at most " +
            std::to_string(execution::Genesis::kMaxAllocations - g.app.allocations.size()));
  }
  g.generated_accounts = opts.generated_accounts;
  g.generated_balance = one_token;
  for (std::uint64_t i = 0; i < g.generated_accounts; ++i) {
    g.app.allocations.push_back({generated_account(i), g.generated_balance});
  }

  std::vector<crypto::Ed25519KeyPair> keys;
  for (std::size_t i = 0; i < validators; ++i) {
    keys.push_back(crypto::Ed25519KeyPair::generate());
    g.validators.push_back(
        {keys.back().public_key(), "/ip4/" + opts.host + "/tcp/" + std::to_string(p2p_lo + i)});
  }
  const std::string genesis_json = g.to_json();
  OL_TRY(write_file(opts.dir / "genesis.json", genesis_json));

  for (std::size_t i = 0; i < validators; ++i) {
    auto home = opts.dir / ("node" + std::to_string(i));
    std::filesystem::create_directories(home, ec);
    if (ec) return make_error(Errc::io, "cannot create " + home.string() + ": " + ec.message());
    OL_TRY(crypto::save_ed25519_key_file(home / "validator_key.json", keys[i]));
    OL_TRY(write_file(home / "genesis.json", genesis_json));
    NodeConfig c;
    c.network.listen = g.validators[i].p2p_address;
    c.rpc.listen = opts.host + ":" + std::to_string(rpc_lo + i);
    OL_TRY(write_file(home / "config.toml", c.to_toml()));
  }
  for (std::size_t j = 0; j < opts.full_nodes; ++j) {
    auto home = opts.dir / ("full" + std::to_string(j));
    std::filesystem::create_directories(home, ec);
    if (ec) return make_error(Errc::io, "cannot create " + home.string() + ": " + ec.message());
    OL_TRY(write_file(home / "genesis.json", genesis_json));
    NodeConfig c;
    c.network.listen = "/ip4/" + opts.host + "/tcp/" + std::to_string(p2p_lo + validators + j);
    c.rpc.listen = opts.host + ":" + std::to_string(rpc_lo + validators + j);
    OL_TRY(write_file(home / "config.toml", c.to_toml()));
  }
  return g;
}

namespace {

bool loopback_port_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::uint16_t> find_free_port_range(std::size_t count) {
  constexpr int kLowest = 20'000, kBelowEphemeral = 32'700;
  if (count == 0 || count > kBelowEphemeral - kLowest) {
    return make_error(Errc::invalid_argument, "cannot find " + std::to_string(count) + " ports");
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(kLowest, kBelowEphemeral - static_cast<int>(count));
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto base = static_cast<std::uint16_t>(pick(rng));
    bool all = true;
    for (std::size_t i = 0; i < count && all; ++i) {
      all = loopback_port_free(static_cast<std::uint16_t>(base + i));
    }
    if (all) return base;
  }
  return make_error(Errc::io, "no range of " + std::to_string(count) + " free ports found");
}

}  // namespace ol::node
