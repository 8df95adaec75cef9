// Genesis: the chain id and the initial native-token balances, faucet included.
#pragma once

#include <optional>
#include <vector>

#include "codec/codec.h"
#include "crypto/secp256k1.h"
#include "types/transaction.h"

namespace ol::execution {

struct Allocation {
  crypto::Address account;
  types::Amount balance = 0;
  bool operator==(const Allocation&) const = default;
};

struct Genesis {
  std::uint64_t chain_id = 0;
  /// Initial balances. An address may appear once and the total must fit in 128 bits. The order
  /// is part of the genesis hash but not of the state (which is built sorted).
  std::vector<Allocation> allocations;
  /// The devnet faucet: an ordinary allocated account whose key the devnet tooling holds and
  /// spends from to fund users (the same shape as node::Genesis). Absent on a production chain.
  std::optional<crypto::Address> faucet;

  static constexpr std::size_t kMaxAllocations = 1'000'000;

  /// Duplicate addresses, a total above 2^128-1 or a faucet without an allocation are errors.
  Status validate() const;
  /// tagged_hash("openliquid/genesis/v1", canonical encoding). A database remembers the genesis
  /// it was created with and refuses another.
  Hash32 hash() const;

  void encode(codec::Writer& w) const;
  static Result<Genesis> decode(codec::Reader& r);
  bool operator==(const Genesis&) const = default;
};

}  // namespace ol::execution
