// TxStatusBook: what this node last learned about recent transactions, for GET /tx.
//
// Bounded LRU in memory (the store keeps every committed receipt; this book adds what the store
// cannot know: "pending here" and "rejected at admission, and why"). Thread-safe.
#pragma once

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/bytes.h"

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

  /// Records (or replaces) the status of `hash`, making it the most recent entry; the least
  /// recent entry goes when the book is full.
  void set(const Hash32& hash, TxStatus status);
  std::optional<TxStatus> get(const Hash32& hash) const;
  std::size_t size() const;

 private:
  struct HashHash {
    std::size_t operator()(const Hash32& h) const;
  };
  using Order = std::list<Hash32>;
  struct Entry {
    TxStatus status;
    Order::iterator pos;
  };

  const std::size_t capacity_;
  mutable std::mutex mu_;
  Order order_;  // most recent first
  std::unordered_map<Hash32, Entry, HashHash> entries_;
};

}  // namespace ol::node
