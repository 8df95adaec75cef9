#include "types/transaction.h"

#include <atomic>

#include "crypto/hash.h"

namespace ol::types {
namespace {

constexpr std::uint8_t kTransferTag = 0;

void encode_fields(codec::Writer& w, const Transaction& tx) {
  w.u64(tx.chain_id);
  w.u64(tx.nonce);
  w.u8(static_cast<std::uint8_t>(tx.action.index()));
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, Transfer>) {
          w.fixed(a.to.bytes);
          w.u64(static_cast<std::uint64_t>(a.amount));
          w.u64(static_cast<std::uint64_t>(a.amount >> 64));
        }
      },
      tx.action);
}

Result<Action> decode_action(codec::Reader& r) {
  OL_TRY_ASSIGN(std::uint8_t tag, r.u8());
  switch (tag) {
    case kTransferTag: {
      Transfer t;
      OL_TRY_ASSIGN(t.to.bytes, r.fixed<20>());
      OL_TRY_ASSIGN(std::uint64_t lo, r.u64());
      OL_TRY_ASSIGN(std::uint64_t hi, r.u64());
      t.amount = (Amount(hi) << 64) | lo;
      return Action(t);
    }
    default:
      return codec::Reader::unknown_tag("transaction action", tag);
  }
}

}  // namespace

Bytes Transaction::signing_bytes() const {
  codec::Writer w(64);
  w.fixed(as_bytes("OLTX"));
  w.u8(1);
  encode_fields(w, *this);
  return w.take();
}

Hash32 Transaction::signing_hash() const {
  return crypto::keccak256(signing_bytes());
}

Hash32 Transaction::hash() const {
  return crypto::keccak256(codec::encode(*this));
}

namespace {
std::atomic<std::uint64_t> g_recoveries{0};
}  // namespace

std::uint64_t signature_recoveries() {
  return g_recoveries.load(std::memory_order_relaxed);
}

Result<crypto::Address> Transaction::recover_sender() const {
  g_recoveries.fetch_add(1, std::memory_order_relaxed);
  return crypto::recover_address(signing_hash(), signature);
}

Result<crypto::Address> Transaction::validate(std::uint64_t expected_chain_id) const {
  if (chain_id != expected_chain_id) {
    return make_error(Errc::verify, "transaction for chain " + std::to_string(chain_id));
  }
  if (const auto* t = std::get_if<Transfer>(&action); t && t->amount == 0) {
    return make_error(Errc::invalid_argument, "transfer of zero");
  }
  return recover_sender();
}

Transaction Transaction::sign(std::uint64_t chain_id, std::uint64_t nonce, Action action,
                              const crypto::Secp256k1Key& key) {
  Transaction tx{chain_id, nonce, std::move(action), {}};
  tx.signature = key.sign(tx.signing_hash());
  return tx;
}

void Transaction::encode(codec::Writer& w) const {
  encode_fields(w, *this);
  w.fixed(signature.bytes);
}

Result<Transaction> Transaction::decode(codec::Reader& r) {
  Transaction tx;
  OL_TRY_ASSIGN(tx.chain_id, r.u64());
  OL_TRY_ASSIGN(tx.nonce, r.u64());
  OL_TRY_ASSIGN(tx.action, decode_action(r));
  OL_TRY_ASSIGN(tx.signature.bytes, r.fixed<65>());
  return tx;
}

}  // namespace ol::types
