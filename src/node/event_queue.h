// EventQueue: a bounded multi-producer, single-consumer queue (mutex + condition variable).
//
// The consumer sleeps in pop_until() until an item arrives, the deadline passes or the queue is
// closed: nothing spins. Producers never block: push() on a full queue fails and the caller
// drops the item (consensus tolerates lost messages; a client gets "busy"). push_urgent() items
// are served before ordinary ones (first in, first out within each lane).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace ol::node {

template <typename T>
class EventQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit EventQueue(std::size_t capacity) : capacity_(capacity) {}

  /// Appends `item`; false (item dropped) if the queue is full or closed.
  bool push(T item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

  /// Like push(), but ahead of every ordinary item (behind earlier urgent ones).
  bool push_urgent(T item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.insert(items_.begin() + static_cast<std::ptrdiff_t>(urgent_), std::move(item));
      ++urgent_;
    }
    cv_.notify_one();
    return true;
  }

  /// The oldest item, waiting until `deadline` at most. nullopt on timeout or once closed (items
  /// still queued at close are discarded).
  std::optional<T> pop_until(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return closed_ || !items_.empty(); });
    if (closed_ || items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    if (urgent_ > 0) --urgent_;
    return item;
  }

  /// The oldest urgent item, if one is queued now (never waits): lets the consumer serve urgent
  /// items in the middle of a long ordinary one.
  std::optional<T> pop_urgent() {
    std::lock_guard lock(mu_);
    if (closed_ || urgent_ == 0) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    --urgent_;
    return item;
  }
  /// Wakes the consumer for good; later pushes fail.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::size_t urgent_ = 0;  // items_[0, urgent_) came from push_urgent
  bool closed_ = false;
};

/// A wake-up flag shared by a waiter and its notifiers ("a payload may be available").
class WakeSignal {
 public:
  using Clock = std::chrono::steady_clock;
  void notify() {
    {
      std::lock_guard lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  std::uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }
  /// Sleeps until a notify() after generation `seen`, or `deadline`.
  void wait_until(std::uint64_t seen, Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return generation_ != seen; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

}  // namespace ol::node
