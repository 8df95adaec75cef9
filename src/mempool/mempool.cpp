#include "mempool/mempool.h"

#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_set>

#include "crypto/hash.h"

namespace ol::mempool {
namespace {

struct HashHash {
  std::size_t operator()(const Hash32& h) const {
    std::size_t x;  // Keccak output: any 8 bytes are uniform
    std::memcpy(&x, h.data(), sizeof x);
    return x;
  }
};

struct Entry {
  types::TxRef tx;
  std::uint64_t seq = 0;  // arrival order
};

using NonceQueue = std::map<std::uint64_t, Entry>;

constexpr const char* kAlreadyKnown = "already known";
constexpr const char* kAlreadyCommitted = "already committed";

}  // namespace

std::size_t AddressHash::operator()(const crypto::Address& a) const {
  std::size_t x;  // addresses are Keccak output too
  std::memcpy(&x, a.bytes.data(), sizeof x);
  return x;
}

struct Mempool::Impl {
  std::uint64_t chain_id;
  Limits limits;
  NonceSource committed_nonce;

  mutable std::mutex mu;
  std::unordered_map<Hash32, types::TxRef, HashHash> by_hash;
  std::unordered_map<crypto::Address, NonceQueue, AddressHash> by_sender;
  std::size_t bytes = 0;
  std::uint64_t next_seq = 0;
  std::unordered_set<Hash32, HashHash> committed;  // the last limits.recent_committed ids
  std::deque<Hash32> committed_order;              // oldest first

  Status check_new(const Hash32& h) const {
    std::lock_guard lock(mu);
    if (by_hash.contains(h)) return make_error(Errc::state, kAlreadyKnown);
    if (committed.contains(h)) return make_error(Errc::state, kAlreadyCommitted);
    return ok_status();
  }

  void remember_committed(const Hash32& h) {
    if (limits.recent_committed == 0 || !committed.insert(h).second) return;
    committed_order.push_back(h);
    while (committed_order.size() > limits.recent_committed) {
      committed.erase(committed_order.front());
      committed_order.pop_front();
    }
  }

  // Removes one entry of `queue` (caller holds mu); returns the next iterator.
  NonceQueue::iterator erase(NonceQueue& queue, NonceQueue::iterator it) {
    bytes -= it->second.tx->encoded_size;
    by_hash.erase(it->second.tx->hash);
    return queue.erase(it);
  }

  Result<types::TxRef> admit_unverified(types::Transaction tx, const Hash32& hash,
                                        std::size_t encoded_size) {
    // Gossip delivers each transaction many times, and a copy may arrive after its block
    // committed: answer duplicates before paying for recovery.
    OL_TRY(check_new(hash));
    OL_TRY_ASSIGN(auto verified,
                  types::VerifiedTransaction::verify(std::move(tx), chain_id, hash, encoded_size));
    return admit(std::make_shared<const types::VerifiedTransaction>(std::move(verified)));
  }

  Result<types::TxRef> admit(types::TxRef tx) {
    if (tx->encoded_size > types::Transaction::kMaxEncodedSize) {
      return make_error(Errc::limit, "transaction too large");
    }
    std::lock_guard lock(mu);
    if (by_hash.contains(tx->hash)) return make_error(Errc::state, kAlreadyKnown);
    const std::uint64_t committed = committed_nonce(tx->sender);
    const std::uint64_t nonce = tx->tx.nonce;
    if (nonce < committed) {
      return make_error(Errc::invalid_argument, "nonce too low: " + std::to_string(nonce) +
                                                    ", account nonce " + std::to_string(committed));
    }
    if (nonce - committed >= limits.max_per_account) {
      return make_error(Errc::limit, "nonce too far ahead: " + std::to_string(nonce) +
                                         ", account nonce " + std::to_string(committed));
    }
    auto sender_it = by_sender.find(tx->sender);
    if (sender_it != by_sender.end()) {
      if (sender_it->second.contains(nonce)) {
        return make_error(Errc::state, "nonce already pending: " + std::to_string(nonce));
      }
      if (sender_it->second.size() >= limits.max_per_account) {
        return make_error(Errc::limit, "mempool full for this account (" +
                                           std::to_string(limits.max_per_account) + " pending)");
      }
    }
    if (by_hash.size() >= limits.max_txs || bytes + tx->encoded_size > limits.max_bytes) {
      return make_error(Errc::limit, "mempool full (" + std::to_string(by_hash.size()) +
                                         " transactions, " + std::to_string(bytes) + " bytes)");
    }
    by_hash.emplace(tx->hash, tx);
    by_sender[tx->sender].emplace(nonce, Entry{tx, next_seq++});
    bytes += tx->encoded_size;
    return tx;
  }
};

Mempool::Mempool(std::uint64_t chain_id, Limits limits, NonceSource committed_nonce)
    : impl_(std::make_unique<Impl>()) {
  impl_->chain_id = chain_id;
  impl_->limits = limits;
  impl_->committed_nonce = std::move(committed_nonce);
}

Mempool::~Mempool() = default;

bool is_duplicate(const Error& e) {
  return e.code == Errc::state && (e.message == kAlreadyKnown || e.message == kAlreadyCommitted);
}

Result<types::TxRef> Mempool::add_encoded(ByteView encoded) {
  if (encoded.size() > types::Transaction::kMaxEncodedSize) {
    return make_error(Errc::limit,
                      "transaction too large: " + std::to_string(encoded.size()) + " bytes");
  }
  OL_TRY_ASSIGN(auto tx, codec::decode_exact<types::Transaction>(encoded));
  // Decoding is strict, so these bytes are the canonical encoding and hash to the tx id.
  return impl_->admit_unverified(std::move(tx), crypto::keccak256(encoded), encoded.size());
}

Result<types::TxRef> Mempool::add(types::Transaction tx) {
  const Bytes encoded = codec::encode(tx);
  const Hash32 hash = crypto::keccak256(encoded);
  return impl_->admit_unverified(std::move(tx), hash, encoded.size());
}

Result<types::TxRef> Mempool::add_verified(types::TxRef tx) {
  return impl_->admit(std::move(tx));
}

types::TxRef Mempool::find(const Hash32& hash) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->by_hash.find(hash);
  return it == impl_->by_hash.end() ? nullptr : it->second;
}

std::vector<types::TxRef> Mempool::build_batch(const BatchLimits& limits,
                                               const PendingNonces& pending) const {
  std::lock_guard lock(impl_->mu);
  // A k-way merge by arrival over each account's nonce-contiguous run.
  struct Head {
    std::uint64_t seq;
    NonceQueue::const_iterator it;
    NonceQueue::const_iterator end;
    bool operator>(const Head& o) const { return seq > o.seq; }
  };
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (const auto& [sender, queue] : impl_->by_sender) {
    auto p = pending.find(sender);
    const std::uint64_t next = p != pending.end() ? p->second : impl_->committed_nonce(sender);
    auto it = queue.find(next);
    if (it != queue.end()) heads.push(Head{it->second.seq, it, queue.end()});
  }
  std::vector<types::TxRef> out;
  out.reserve(std::min(limits.max_txs, impl_->by_hash.size()));
  std::size_t bytes = 0;
  while (!heads.empty() && out.size() < limits.max_txs) {
    Head head = heads.top();
    heads.pop();
    const auto& tx = head.it->second.tx;
    if (bytes + tx->encoded_size > limits.max_bytes) continue;  // this account stops here
    bytes += tx->encoded_size;
    out.push_back(tx);
    auto next = std::next(head.it);
    if (next != head.end && next->first == head.it->first + 1) {
      heads.push(Head{next->second.seq, next, head.end});
    }
  }
  return out;
}

void Mempool::remove_committed(std::span<const types::TxRef> committed) {
  std::lock_guard lock(impl_->mu);
  std::unordered_map<crypto::Address, bool, AddressHash> senders;
  for (const auto& tx : committed) {
    senders.emplace(tx->sender, true);
    impl_->remember_committed(tx->hash);
    // A committed transaction leaves whatever its receipt: its id is now in a block, and a
    // failed one must be re-signed rather than included twice.
    auto it = impl_->by_sender.find(tx->sender);
    if (it == impl_->by_sender.end()) continue;
    auto q = it->second.find(tx->tx.nonce);
    if (q != it->second.end() && q->second.tx->hash == tx->hash) impl_->erase(it->second, q);
  }
  for (const auto& [sender, unused] : senders) {
    auto it = impl_->by_sender.find(sender);
    if (it == impl_->by_sender.end()) continue;
    // Pending nonces below the committed one can never execute: rivals of committed ones.
    const std::uint64_t next = impl_->committed_nonce(sender);
    auto& queue = it->second;
    for (auto q = queue.begin(); q != queue.end() && q->first < next;) q = impl_->erase(queue, q);
    if (queue.empty()) impl_->by_sender.erase(it);
  }
}

std::size_t Mempool::size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->by_hash.size();
}

std::size_t Mempool::bytes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->bytes;
}

}  // namespace ol::mempool
