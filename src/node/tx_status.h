// TxStatusBook: why this node refused recent transactions, for GET /tx.
//
// What a transaction's status is otherwise comes from where it is: the store's receipt (committed
// or failed), the mempool (pending). The book adds the one thing neither can know: that this node
// refused it (at admission, or dropped it from the pool later) and why. It is a bounded LRU in
// memory; a transaction that commits or is admitted afterwards is reported from the store or the
// pool, which GET /tx asks first. Thread-safe.
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/bytes.h"
#include "crypto/hash.h"

namespace ol::node {

enum class TxState { pending, committed, rejected, failed };

const char* to_string(TxState state);

struct TxStatus {
  TxState state = TxState::pending;
  std::uint64_t height = 0;  // committed / failed
  std::string reason;        // rejected / failed
  bool operator==(const TxStatus&) const = default;
};

class TxStatusBook {
 public:
  /// The index is sized for `capacity` entries up front (up to 1M; it grows past that), so a
  /// filling book does not rehash under load.
  explicit TxStatusBook(std::size_t capacity = 100'000);

  /// Records (or replaces) why `hash` was refused, making it the most recent entry; the least
  /// recent entry goes when the book is full.
  void reject(const Hash32& hash, std::string reason);
  /// The reason recorded for `hash`, if it is still in the book.
  std::optional<std::string> rejection(const Hash32& hash) const;
  std::size_t size() const;

 private:
  using Order = std::list<Hash32>;
  struct Entry {
    std::string reason;
    Order::iterator pos;
  };

  const std::size_t capacity_;
  mutable std::mutex mu_;
  Order order_;  // most recent first
  std::unordered_map<Hash32, Entry, crypto::Hash32Hasher> entries_;
};

}  // namespace ol::node
