// Errors as values: every fallible operation at a layer boundary returns Result<T>.
// Nothing in the project throws across a boundary; decoders never throw at all.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ol {

/// Broad error categories; the message carries the detail a human needs.
enum class Errc {
  invalid_argument,  // caller passed something malformed
  decode,  // bytes did not decode (truncated, trailing, over bound, bad tag, non-canonical)
  verify,  // a signature, hash or certificate failed verification
  not_found,
  io,     // file system, socket or database failure
  limit,  // a configured capacity or rate limit was hit
  state,  // operation not valid in the current state
  timeout,
  internal,
};

/// Human-readable name of an error category ("decode", "verify", ...).
const char* errc_name(Errc c);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  /// "decode: length 70000 above bound 65535".
  std::string to_string() const;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

/// Holds either a value or an Error. `Result<void>` holds nothing on success.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() {
  return {};
}

}  // namespace ol

#define OL_CONCAT_INNER(a, b) a##b
#define OL_CONCAT(a, b) OL_CONCAT_INNER(a, b)

/// Returns the error from the enclosing function if `expr` (a Result) failed.
#define OL_TRY(expr) OL_TRY_IMPL(OL_CONCAT(ol_try_result_, __COUNTER__), expr)
#define OL_TRY_IMPL(tmp, expr)                    \
  do {                                            \
    auto&& tmp = (expr);                          \
    if (!tmp.ok()) return std::move(tmp).error(); \
  } while (0)

/// `OL_TRY_ASSIGN(auto x, f());` declares/assigns x from a successful Result or returns its error.
#define OL_TRY_ASSIGN(lhs, expr) OL_TRY_ASSIGN_IMPL(OL_CONCAT(ol_try_tmp_, __COUNTER__), lhs, expr)
#define OL_TRY_ASSIGN_IMPL(tmp, lhs, expr)      \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
