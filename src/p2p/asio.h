// Boost.Asio with C++20 coroutines, as the p2p layer uses it. Boost 1.74's awaitable.hpp needs
// <utility> before it on GCC 12, so every p2p file includes Asio through this header.
#pragma once

#include <utility>

// Boost 1.74 recognises clang's coroutines only through the pre-C++20 <experimental/coroutine>;
// clang >= 14 with libstdc++ has the standard ones, which Asio's std-coroutine path supports.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif

#include <boost/asio.hpp>

#include <chrono>

#include "common/result.h"

namespace ol::p2p {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
template <typename T>
using Task = asio::awaitable<T>;
using Clock = std::chrono::steady_clock;

/// A level-less wake-up for coroutines on one io_context thread: `wait()` suspends until the next
/// `notify()`. Waiters re-check their condition in a loop, so a notify that finds no waiter is
/// harmless; because everything runs on one thread, no wake-up can slip between check and wait.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex) {
    timer_.expires_at(Clock::time_point::max());  // never fires; only notify() wakes waiters
  }
  Task<void> wait() {
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace ol::p2p

/// OL_TRY / OL_TRY_ASSIGN for coroutines (co_return instead of return).
#define OL_CO_TRY(expr)                                                          \
  do {                                                                           \
    auto&& ol_co_try_result_ = (expr);                                           \
    if (!ol_co_try_result_.ok()) co_return std::move(ol_co_try_result_).error(); \
  } while (0)
#define OL_CO_TRY_ASSIGN(lhs, expr) \
  OL_CO_TRY_ASSIGN_IMPL(OL_CONCAT(ol_co_tmp_, __LINE__), lhs, expr)
#define OL_CO_TRY_ASSIGN_IMPL(tmp, lhs, expr)      \
  auto tmp = (expr);                               \
  if (!tmp.ok()) co_return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
