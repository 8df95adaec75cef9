#include "node/genesis.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/hex.h"
#include "crypto/hash.h"
#include "types/amount.h"

namespace ol::node {

using nlohmann::json;

Result<crypto::ValidatorSet> Genesis::validator_set() const {
  std::vector<crypto::Ed25519PublicKey> keys;
  for (const auto& v : validators) keys.push_back(v.public_key);
  return crypto::ValidatorSet::create(std::move(keys));
}

std::string Genesis::to_json() const {
  json j;
  j["chain_id"] = app.chain_id;
  j["genesis_time_ms"] = genesis_time_ms;
  j["validators"] = json::array();
  for (const auto& v : validators) {
    j["validators"].push_back(
        {{"public_key", to_hex(v.public_key.bytes)}, {"p2p_address", v.p2p_address}});
  }
  j["allocations"] = json::array();
  const std::size_t listed =
      app.allocations.size() -
      static_cast<std::size_t>(std::min<std::uint64_t>(generated_accounts, app.allocations.size()));
  for (std::size_t i = 0; i < listed; ++i) {
    const auto& a = app.allocations[i];
    j["allocations"].push_back({{"address", a.account.to_checksum_hex()},
                                {"balance", types::amount_to_string(a.balance)}});
  }
  if (app.faucet) j["faucet"] = app.faucet->to_checksum_hex();
  if (generated_accounts > 0) {
    j["generated_accounts"] = {{"count", generated_accounts},
                               {"balance", types::amount_to_string(generated_balance)}};
  }
  return j.dump(2) + "\n";
}

crypto::Address generated_account(std::uint64_t i) {
  static constexpr std::string_view kTag = "openliquid/generated-account/v1";
  Bytes input(kTag.begin(), kTag.end());
  for (int b = 0; b < 8; ++b) input.push_back(static_cast<std::uint8_t>(i >> (8 * b)));
  const Hash32 h = crypto::sha256(input);
  crypto::Address a;
  std::copy_n(h.begin(), a.bytes.size(), a.bytes.begin());
  return a;
}

namespace {

Error bad(const std::string& origin, const std::string& what) {
  return make_error(Errc::invalid_argument, origin + ": " + what);
}

Result<std::string> get_string(const json& obj, const char* key, const std::string& where,
                               const std::string& origin) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return bad(origin, where + "." + key + " must be a string");
  return it->get<std::string>();
}

Result<std::uint64_t> get_u64(const json& obj, const char* key, const std::string& origin) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) {
    return bad(origin, std::string(key) + " must be a non-negative integer");
  }
  return it->get<std::uint64_t>();
}

}  // namespace

Result<Genesis> parse_genesis(std::string_view json_text, const std::string& origin) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad(origin, "not a JSON object");
  Genesis g;
  OL_TRY_ASSIGN(g.app.chain_id, get_u64(j, "chain_id", origin));
  OL_TRY_ASSIGN(g.genesis_time_ms, get_u64(j, "genesis_time_ms", origin));

  auto vals = j.find("validators");
  if (vals == j.end() || !vals->is_array() || vals->empty()) {
    return bad(origin, "validators must be a non-empty array");
  }
  if (vals->size() > crypto::QuorumSignature::kMaxValidators)
    return bad(origin, "too many validators");
  for (std::size_t i = 0; i < vals->size(); ++i) {
    const auto& v = (*vals)[i];
    std::string where = "validators[" + std::to_string(i) + "]";
    if (!v.is_object()) return bad(origin, where + " must be an object");
    OL_TRY_ASSIGN(std::string key_hex, get_string(v, "public_key", where, origin));
    auto key = from_hex_fixed<32>(key_hex);
    if (!key) return bad(origin, where + ".public_key: " + key.error().message);
    OL_TRY_ASSIGN(std::string addr, get_string(v, "p2p_address", where, origin));
    g.validators.push_back({crypto::Ed25519PublicKey{*key}, addr});
  }
  auto set = g.validator_set();
  if (!set) return bad(origin, set.error().message);

  auto allocs = j.find("allocations");
  if (allocs != j.end()) {
    if (!allocs->is_array()) return bad(origin, "allocations must be an array");
    if (allocs->size() > execution::Genesis::kMaxAllocations)
      return bad(origin, "too many allocations");
    for (std::size_t i = 0; i < allocs->size(); ++i) {
      const auto& a = (*allocs)[i];
      std::string where = "allocations[" + std::to_string(i) + "]";
      if (!a.is_object()) return bad(origin, where + " must be an object");
      OL_TRY_ASSIGN(std::string addr_text, get_string(a, "address", where, origin));
      auto addr = crypto::Address::parse(addr_text);
      if (!addr) return bad(origin, where + ".address: " + addr.error().message);
      OL_TRY_ASSIGN(std::string bal_text, get_string(a, "balance", where, origin));
      auto bal = types::parse_amount(bal_text);
      if (!bal) return bad(origin, where + ".balance: " + bal.error().message);
      g.app.allocations.push_back({*addr, *bal});
    }
  }
  if (auto gen = j.find("generated_accounts"); gen != j.end()) {
    if (!gen->is_object()) return bad(origin, "generated_accounts must be an object");
    OL_TRY_ASSIGN(g.generated_accounts, get_u64(*gen, "count", origin + ": generated_accounts"));
    OL_TRY_ASSIGN(std::string bal_text, get_string(*gen, "balance", "generated_accounts", origin));
    auto bal = types::parse_amount(bal_text);
    if (!bal) return bad(origin, "generated_accounts.balance: " + bal.error().message);
    g.generated_balance = *bal;
    for (const auto& [key, value] : gen->items()) {
      if (key != "count" && key != "balance") {
        return bad(origin, "generated_accounts: unknown key \"" + key + "\"");
      }
    }
    if (g.generated_accounts > execution::Genesis::kMaxAllocations - g.app.allocations.size()) {
      return bad(origin, "too many allocations (with generated_accounts)");
    }
    g.app.allocations.reserve(g.app.allocations.size() + g.generated_accounts);
    for (std::uint64_t i = 0; i < g.generated_accounts; ++i) {
      g.app.allocations.push_back({generated_account(i), g.generated_balance});
    }
  }
  if (auto f = j.find("faucet"); f != j.end()) {
    if (!f->is_string()) return bad(origin, "faucet must be an address string");
    auto addr = crypto::Address::parse(f->get<std::string>());
    if (!addr) return bad(origin, "faucet: " + addr.error().message);
    g.app.faucet = *addr;
  }
  if (auto valid = g.app.validate(); !valid) return bad(origin, valid.error().message);
  return g;
}

Result<Genesis> load_genesis(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::not_found, "cannot read genesis file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_genesis(ss.str(), path.string());
}

}  // namespace ol::node
