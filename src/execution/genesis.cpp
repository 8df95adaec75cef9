#include "execution/genesis.h"

#include <set>

#include "crypto/hash.h"

namespace ol::execution {
namespace {

void encode_allocation(codec::Writer& w, const Allocation& a) {
  w.fixed(a.account.bytes);
  w.u64(static_cast<std::uint64_t>(a.balance));
  w.u64(static_cast<std::uint64_t>(a.balance >> 64));
}

Result<Allocation> decode_allocation(codec::Reader& r) {
  Allocation a;
  OL_TRY_ASSIGN(a.account.bytes, r.fixed<20>());
  OL_TRY_ASSIGN(std::uint64_t lo, r.u64());
  OL_TRY_ASSIGN(std::uint64_t hi, r.u64());
  a.balance = (types::Amount(hi) << 64) | lo;
  return a;
}

}  // namespace

Status Genesis::validate() const {
  std::set<crypto::Address> seen;
  types::Amount total = 0;
  auto add = [&](const Allocation& a) -> Status {
    if (!seen.insert(a.account).second) {
      return make_error(Errc::invalid_argument,
                        "genesis allocates " + a.account.to_checksum_hex() + " twice");
    }
    if (a.balance > ~types::Amount(0) - total) {
      return make_error(Errc::invalid_argument, "genesis total supply exceeds 2^128-1");
    }
    total += a.balance;
    return ok_status();
  };
  if (allocations.size() > kMaxAllocations) {
    return make_error(Errc::limit, "genesis has too many allocations");
  }
  for (const auto& a : allocations) OL_TRY(add(a));
  if (faucet && !seen.contains(*faucet)) {
    return make_error(Errc::invalid_argument,
                      "genesis faucet " + faucet->to_checksum_hex() + " has no allocation");
  }
  return ok_status();
}

Hash32 Genesis::hash() const {
  return crypto::tagged_hash("openliquid/genesis/v1", codec::encode(*this));
}

void Genesis::encode(codec::Writer& w) const {
  w.u64(chain_id);
  w.vec(allocations, encode_allocation);
  w.optional(faucet, [](codec::Writer& wr, const crypto::Address& a) { wr.fixed(a.bytes); });
}

Result<Genesis> Genesis::decode(codec::Reader& r) {
  Genesis g;
  OL_TRY_ASSIGN(g.chain_id, r.u64());
  OL_TRY_ASSIGN(g.allocations, r.vec<Allocation>(kMaxAllocations, 36, decode_allocation));
  OL_TRY_ASSIGN(g.faucet,
                r.optional<crypto::Address>([](codec::Reader& rd) -> Result<crypto::Address> {
                  OL_TRY_ASSIGN(auto bytes, rd.fixed<20>());
                  return crypto::Address{bytes};
                }));
  return g;
}

}  // namespace ol::execution
