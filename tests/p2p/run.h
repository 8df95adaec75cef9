// Test helper: drive one coroutine to completion on an io_context (blocking in run_one, so no
// spinning), leaving other work (hosts, sessions) on the same context running alongside.
#pragma once

#include <optional>

#include "p2p/asio.h"

namespace ol::p2p::test {

template <typename T>
Task<void> store_result(Task<T> task, std::optional<T>* out) {
  out->emplace(co_await std::move(task));
}

template <typename T>
T run(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, store_result(std::move(task), &out), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  while (!out) io.run_one();
  return std::move(*out);
}

/// Runs the context until `done()` holds.
template <typename Pred>
void run_until(asio::io_context& io, Pred done) {
  while (!done()) io.run_one();
}

}  // namespace ol::p2p::test
