#include "node/tx_status.h"

#include <algorithm>

namespace ol::node {

const char* to_string(TxState state) {
  switch (state) {
    case TxState::pending:
      return "pending";
    case TxState::committed:
      return "committed";
    case TxState::rejected:
      return "rejected";
    case TxState::failed:
      return "failed";
  }
  return "unknown";
}

TxStatusBook::TxStatusBook(std::size_t capacity) : capacity_(capacity) {
  entries_.reserve(std::min<std::size_t>(capacity, 1'000'000));
}

void TxStatusBook::reject(const Hash32& hash, std::string reason) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0) return;
  if (auto it = entries_.find(hash); it != entries_.end()) {
    it->second.reason = std::move(reason);
    order_.splice(order_.begin(), order_, it->second.pos);
    return;
  }
  if (entries_.size() >= capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(hash);
  entries_.emplace(hash, Entry{std::move(reason), order_.begin()});
}

std::optional<std::string> TxStatusBook::rejection(const Hash32& hash) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(hash);
  if (it == entries_.end()) return std::nullopt;
  return it->second.reason;
}

std::size_t TxStatusBook::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace ol::node
