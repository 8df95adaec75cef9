#include "mempool/mempool.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>

#include "crypto/hash.h"
#include "crypto/secp256k1.h"
#include "mempool/recent_ids.h"

namespace ol::mempool {
namespace {

struct Entry {
  types::TxRef tx;
  std::uint64_t seq = 0;  // arrival order
  std::chrono::steady_clock::time_point
      added;  // for the lifetime of a transaction waiting for a lower nonce
};

using NonceQueue = std::map<std::uint64_t, Entry>;

// One sender's pending transactions. Those at nonces [committed, ready_end) form the run that can
// execute in order; the rest ("future") wait for a lower nonce that is not here.
struct Account {
  NonceQueue queue;
  std::uint64_t ready_end = 0;
  std::size_t future = 0;
};

constexpr const char* kAlreadyKnown = "already known";
constexpr const char* kAlreadyCommitted = "already committed";

}  // namespace

struct Mempool::Impl {
  explicit Impl(const Limits& l) : limits(l), committed(l.recent_committed) {}

  std::uint64_t chain_id = 0;
  Limits limits;
  AccountSource committed_account;

  std::uint64_t committed_nonce(const crypto::Address& a) const {
    return committed_account(a).next_nonce;
  }

  mutable std::mutex mu;
  std::unordered_map<Hash32, types::TxRef, crypto::Hash32Hasher> by_hash;
  Clock clock;
  std::unordered_map<crypto::Address, Account, crypto::AddressHasher> by_sender;
  // Senders with future > 0, and future summed over the senders.
  std::unordered_set<crypto::Address, crypto::AddressHasher> with_future;
  std::size_t future = 0;
  std::size_t bytes = 0;
  std::uint64_t next_seq = 0;
  // The last limits.recent_committed ids.
  RecentIds committed;
  // The last limits.recent_refused transactions refused after recovery, oldest first in the
  // deque. The deque and the map both hold a sequence number per remembering: a deque entry whose
  // transaction left the map since (it was admitted), or was remembered again under a newer
  // number, is skipped when it comes up, so a stale entry never evicts the newer copy.
  struct Refused {
    types::TxRef tx;
    std::uint64_t seq;
  };
  std::unordered_map<Hash32, Refused, crypto::Hash32Hasher> refused;
  std::deque<std::pair<Hash32, std::uint64_t>> refused_order;
  std::uint64_t refused_seq = 0;

  // Duplicates are errors; otherwise the verified copy of a transaction refused recently, or null.
  Result<types::TxRef> check_new(const Hash32& h) const {
    std::lock_guard lock(mu);
    if (by_hash.contains(h)) return make_error(Errc::state, kAlreadyKnown);
    if (committed.contains(h)) return make_error(Errc::state, kAlreadyCommitted);
    auto it = refused.find(h);
    return it == refused.end() ? types::TxRef{} : it->second.tx;
  }

  void remember_committed(const Hash32& h) { committed.insert(h); }

  // The sender's pending transactions and `tx` together may spend at most its committed balance
  // (caller holds mu). Walks the sender's queue, at most Limits::max_per_account entries: cheaper
  // than the recovery every admission has paid already, and nothing to keep in step.
  static Status check_funds(types::Amount balance, const Account* pending,
                            const types::VerifiedTransaction& tx) {
    constexpr types::Amount kMax = ~types::Amount{0};
    const types::Amount needs = max_spend(tx.tx);
    types::Amount spent = 0;  // saturating: pending amounts are unchecked on add_verified
    std::size_t count = 0;
    if (pending != nullptr) {
      for (const auto& [n, e] : pending->queue) {
        const types::Amount s = max_spend(e.tx->tx);
        spent = s > kMax - spent ? kMax : spent + s;
        ++count;
      }
    }
    if (spent <= balance && needs <= balance - spent) return ok_status();
    std::string msg = "insufficient balance: the sender holds " + types::amount_to_string(balance);
    if (count > 0) {
      msg += ", its " + std::to_string(count) + " pending transaction" +
             (count == 1 ? " spends " : "s spend ") + types::amount_to_string(spent);
    }
    return make_error(Errc::invalid_argument,
                      msg + ", this one needs " + types::amount_to_string(needs));
  }

  // Removes one entry of `queue` (caller holds mu); returns the next iterator.
  NonceQueue::iterator erase(NonceQueue& queue, NonceQueue::iterator it) {
    bytes -= it->second.tx->encoded_size;
    by_hash.erase(it->second.tx->hash);
    return queue.erase(it);
  }

  // Brings a sender's bookkeeping up to its committed nonce (caller holds mu): drops what can
  // never execute (below it: committed already, or rivals of committed transactions), extends
  // the ready run and recounts its future transactions.
  void settle(const crypto::Address& sender, Account& a, std::uint64_t committed) {
    while (!a.queue.empty() && a.queue.begin()->first < committed) erase(a.queue, a.queue.begin());
    a.ready_end = std::max(a.ready_end, committed);
    for (auto it = a.queue.find(a.ready_end); it != a.queue.end() && it->first == a.ready_end;
         ++it) {
      ++a.ready_end;
    }
    // Every nonce of [committed, ready_end) is present: the run grows only over present entries,
    // and entries leave it only from below (committed or stale).
    const std::size_t fut = a.queue.size() - (a.ready_end - committed);
    future = future - a.future + fut;
    a.future = fut;
    if (fut > 0) {
      with_future.insert(sender);
    } else {
      with_future.erase(sender);
    }
  }

  // Remembers a transaction refused or dropped after its recovery (takes mu).
  void remember_refused(const types::TxRef& tx) {
    std::lock_guard lock(mu);
    remember_refused_locked(tx);
  }
  // The same; the caller holds mu. One already remembered is left as it was; past
  // limits.recent_refused the oldest are forgotten.
  void remember_refused_locked(const types::TxRef& tx) {
    if (limits.recent_refused == 0) return;
    const std::uint64_t seq = refused_seq++;
    if (!refused.emplace(tx->hash, Refused{tx, seq}).second) return;
    refused_order.emplace_back(tx->hash, seq);
    while (refused_order.size() > limits.recent_refused) {
      const auto& [hash, entry_seq] = refused_order.front();
      auto it = refused.find(hash);
      if (it != refused.end() && it->second.seq == entry_seq) refused.erase(it);
      refused_order.pop_front();
    }
  }

  Result<types::TxRef> admit_unverified(types::Transaction tx, const Hash32& hash,
                                        std::size_t encoded_size) {
    // Gossip delivers each transaction many times, and a copy may arrive after its block
    // committed: answer duplicates before paying for recovery.
    // A copy of one refused recently: the rules again (the state may have moved), not the
    // recovery.
    OL_TRY_ASSIGN(types::TxRef ref, check_new(hash));
    if (!ref) {
      OL_TRY_ASSIGN(auto verified, types::VerifiedTransaction::verify(std::move(tx), chain_id, hash,
                                                                      encoded_size));
      ref = std::make_shared<const types::VerifiedTransaction>(std::move(verified));
    }
    auto admitted = admit(ref, true);
    if (!admitted && !is_duplicate(admitted.error())) remember_refused(ref);
    return admitted;
  }

  // `check_balance`: false for transactions a proposal or sync response carries (mempool.h).
  Result<types::TxRef> admit(types::TxRef tx, bool check_balance) {
    if (tx->encoded_size > types::Transaction::kMaxEncodedSize) {
      return make_error(Errc::limit, "transaction too large");
    }
    std::lock_guard lock(mu);
    if (by_hash.contains(tx->hash)) return make_error(Errc::state, kAlreadyKnown);
    const CommittedAccount account = committed_account(tx->sender);
    const std::uint64_t committed = account.next_nonce;
    const std::uint64_t nonce = tx->tx.nonce;
    if (nonce < committed) {
      return make_error(Errc::invalid_argument, "nonce too low: " + std::to_string(nonce) +
                                                    ", account nonce " + std::to_string(committed));
    }
    if (nonce - committed >= limits.max_per_account) {
      return make_error(Errc::limit, "nonce too far ahead: " + std::to_string(nonce) +
                                         ", account nonce " + std::to_string(committed));
    }
    std::uint64_t ready_end = committed;
    const Account* pending = nullptr;
    if (auto it = by_sender.find(tx->sender); it != by_sender.end()) {
      Account& a = it->second;
      settle(tx->sender, a, committed);
      if (a.queue.empty()) {
        by_sender.erase(it);
      } else {
        if (a.queue.contains(nonce)) {
          return make_error(Errc::state, "nonce already pending: " + std::to_string(nonce));
        }
        if (a.queue.size() >= limits.max_per_account) {
          return make_error(Errc::limit, "mempool full for this account (" +
                                             std::to_string(limits.max_per_account) + " pending)");
        }
        ready_end = a.ready_end;
        pending = &a;
      }
    }
    if (check_balance) OL_TRY(check_funds(account.balance, pending, *tx));
    // A transaction that cannot execute until a lower nonce arrives may never execute: such
    // transactions get their own, smaller share of the pool, and a lifetime (drop_expired), so
    // that nobody can fill the pool for good with nonces nobody will ever fill in.
    if (nonce > ready_end && future >= limits.max_future) {
      return make_error(Errc::limit, "mempool full of transactions waiting for a lower nonce (" +
                                         std::to_string(future) + "); this one needs nonce " +
                                         std::to_string(ready_end) + " first");
    }
    if (by_hash.size() >= limits.max_txs || bytes + tx->encoded_size > limits.max_bytes) {
      return make_error(Errc::limit, "mempool full (" + std::to_string(by_hash.size()) +
                                         " transactions, " + std::to_string(bytes) + " bytes)");
    }
    by_hash.emplace(tx->hash, tx);
    // No longer refused (its entry in refused_order is skipped when it comes up).
    if (!refused.empty()) refused.erase(tx->hash);
    Account& a = by_sender[tx->sender];
    a.queue.emplace(nonce, Entry{tx, next_seq++, clock()});
    bytes += tx->encoded_size;
    settle(tx->sender, a, committed);
    return tx;
  }
};

types::Amount max_spend(const types::Transaction& tx) {
  struct Visitor {
    types::Amount operator()(const types::Transfer& t) const { return t.amount; }
  };
  return std::visit(Visitor{}, tx.action);
}

Mempool::Mempool(std::uint64_t chain_id, Limits limits, AccountSource committed, Clock clock)
    : impl_(std::make_unique<Impl>(limits)) {
  impl_->chain_id = chain_id;
  impl_->committed_account = std::move(committed);
  impl_->clock = clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); });
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
  return impl_->admit(std::move(tx), false);
}

types::TxRef Mempool::find(const Hash32& hash) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->by_hash.find(hash);
  return it == impl_->by_hash.end() ? nullptr : it->second;
}

types::TxRef Mempool::verified(const Hash32& hash) const {
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->by_hash.find(hash); it != impl_->by_hash.end()) return it->second;
  auto it = impl_->refused.find(hash);
  return it == impl_->refused.end() ? nullptr : it->second.tx;
}

std::optional<std::uint64_t> Mempool::missing_nonce(const Hash32& hash) {
  std::lock_guard lock(impl_->mu);
  auto tx = impl_->by_hash.find(hash);
  if (tx == impl_->by_hash.end()) return std::nullopt;
  const crypto::Address sender = tx->second->sender;
  const std::uint64_t nonce = tx->second->tx.nonce;
  auto it = impl_->by_sender.find(sender);
  if (it == impl_->by_sender.end()) return std::nullopt;  // not expected: by_hash follows it
  // The committed nonce may have moved since the sender's last admission or commit; settle may
  // then drop the transaction as stale (its nonce is below the run).
  impl_->settle(sender, it->second, impl_->committed_nonce(sender));
  const std::uint64_t ready_end = it->second.ready_end;
  if (it->second.queue.empty()) impl_->by_sender.erase(it);
  if (nonce < ready_end) return std::nullopt;
  return ready_end;
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
  for (const auto& [sender, account] : impl_->by_sender) {
    const NonceQueue& queue = account.queue;
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
  // Per sender, the lowest nonce whose entry left here.
  std::unordered_map<crypto::Address, std::uint64_t, crypto::AddressHasher> senders;
  for (const auto& tx : committed) {
    auto [lowest, unused] = senders.emplace(tx->sender, UINT64_MAX);
    impl_->remember_committed(tx->hash);
    // A committed transaction leaves whatever its receipt: its id is now in a block, and a
    // failed one must be re-signed rather than included twice.
    auto it = impl_->by_sender.find(tx->sender);
    if (it == impl_->by_sender.end()) continue;
    auto& queue = it->second.queue;
    auto q = queue.find(tx->tx.nonce);
    if (q != queue.end() && q->second.tx->hash == tx->hash) {
      lowest->second = std::min(lowest->second, q->first);
      impl_->erase(queue, q);
    }
  }
  for (const auto& [sender, lowest] : senders) {
    auto it = impl_->by_sender.find(sender);
    if (it == impl_->by_sender.end()) continue;
    Account& a = it->second;
    const std::uint64_t next = impl_->committed_nonce(sender);
    // A transaction that failed without using its nonce (a faulty leader's block) leaves a gap
    // in what was a ready run: the run now ends there.
    if (lowest >= next && lowest < a.ready_end) a.ready_end = lowest;
    // Pending nonces below the committed one can never execute (rivals of committed ones); a
    // gap the block filled makes later nonces ready.
    impl_->settle(sender, a, next);
    if (a.queue.empty()) impl_->by_sender.erase(it);
  }
}

std::vector<Mempool::Dropped> Mempool::drop_expired() {
  std::lock_guard lock(impl_->mu);
  std::vector<Dropped> dropped;
  if (impl_->with_future.empty()) return dropped;
  const auto now = impl_->clock();
  const auto lifetime = impl_->limits.future_lifetime;
  const std::vector<crypto::Address> senders(impl_->with_future.begin(), impl_->with_future.end());
  for (const auto& sender : senders) {
    auto it = impl_->by_sender.find(sender);
    if (it == impl_->by_sender.end()) {  // not expected: with_future follows by_sender
      impl_->with_future.erase(sender);
      continue;
    }
    Account& a = it->second;
    impl_->settle(sender, a, impl_->committed_nonce(sender));
    for (auto q = a.queue.lower_bound(a.ready_end); q != a.queue.end();) {
      if (now - q->second.added >= lifetime) {
        dropped.push_back(Dropped{q->second.tx, a.ready_end});
        // A proposal may still carry it (another node kept it): no second recovery then.
        impl_->remember_refused_locked(q->second.tx);
        q = impl_->erase(a.queue, q);
      } else {
        ++q;
      }
    }
    impl_->settle(sender, a, impl_->committed_nonce(sender));
    if (a.queue.empty()) impl_->by_sender.erase(it);
  }
  return dropped;
}

std::size_t Mempool::future_size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->future;
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
