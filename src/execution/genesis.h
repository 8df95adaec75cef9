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
  /// Initial balances. Order does not matter (the state is built sorted); an address may appear
  /// once, and the total must fit in 128 bits.
  std::vector<Allocation> allocations;
  /// The devnet faucet: an ordinary account funded at genesis whose key the devnet tooling holds
  /// and spends from to fund users. Absent on a production chain.
  std::optional<Allocation> faucet;

  static constexpr std::size_t kMaxAllocations = 1'000'000;

  /// Duplicate addresses (faucet included) or a total above 2^128-1 are errors.
  Status validate() const;
  /// tagged_hash("openliquid/genesis/v1", canonical encoding). A database remembers the genesis
  /// it was created with and refuses another.
  Hash32 hash() const;

  void encode(codec::Writer& w) const;
  static Result<Genesis> decode(codec::Reader& r);
  bool operator==(const Genesis&) const = default;
};

}  // namespace ol::execution
