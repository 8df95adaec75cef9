// The validator set and the quorum arithmetic every certificate is checked against.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "crypto/ed25519.h"

namespace ol::crypto {

/// An ordered list of distinct validator keys; a validator's index is its position.
/// With n validators, f = (n - 1) / 3 faults are tolerated and a quorum is n - f.
class ValidatorSet {
 public:
  /// Errors on an empty set or duplicate keys.
  static Result<ValidatorSet> create(std::vector<Ed25519PublicKey> keys);

  std::size_t size() const { return keys_.size(); }
  std::size_t max_faulty() const { return (keys_.size() - 1) / 3; }
  std::size_t quorum() const { return keys_.size() - max_faulty(); }

  const Ed25519PublicKey& key(std::size_t index) const { return keys_.at(index); }
  const std::vector<Ed25519PublicKey>& keys() const { return keys_; }
  std::optional<std::size_t> index_of(const Ed25519PublicKey& key) const;

 private:
  std::vector<Ed25519PublicKey> keys_;
};

}  // namespace ol::crypto
