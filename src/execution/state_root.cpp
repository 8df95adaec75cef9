#include "execution/state_root.h"

#include "codec/codec.h"
#include "crypto/hash.h"
#include "execution/ledger.h"

namespace ol::execution {

Hash32 state_root_step(const Hash32& prev, std::uint64_t height,
                       const std::map<crypto::Address, Account>& changes) {
  codec::Writer w(32 + 8 + 4 + changes.size() * 44);
  w.fixed(prev);
  w.u64(height);
  w.u32(static_cast<std::uint32_t>(changes.size()));
  for (const auto& [address, account] : changes) {
    w.fixed(address.bytes);
    w.u64(static_cast<std::uint64_t>(account.balance));
    w.u64(static_cast<std::uint64_t>(account.balance >> 64));
    w.u64(account.nonce);
  }
  return crypto::tagged_hash("openliquid/state/v1", w.data());
}

}  // namespace ol::execution
