#include "crypto/validator_set.h"

#include <algorithm>
#include <set>

#include "common/hex.h"

namespace ol::crypto {

Result<ValidatorSet> ValidatorSet::create(std::vector<Ed25519PublicKey> keys) {
  if (keys.empty()) return make_error(Errc::invalid_argument, "validator set is empty");
  std::set<Ed25519PublicKey> seen;
  for (const auto& k : keys) {
    if (!seen.insert(k).second) {
      return make_error(Errc::invalid_argument, "duplicate validator key " + to_hex(k.bytes));
    }
  }
  ValidatorSet vs;
  vs.keys_ = std::move(keys);
  return vs;
}

std::optional<std::size_t> ValidatorSet::index_of(const Ed25519PublicKey& key) const {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) return std::nullopt;
  return static_cast<std::size_t>(it - keys_.begin());
}

}  // namespace ol::crypto
