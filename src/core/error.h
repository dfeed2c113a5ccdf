// wick::Error and wick::Result<T>: how every fallible call in libwick reports failure.
//
// Errors carry a chain of context, innermost first in the message ("model.gguf: offset 24:
// tensor 'x': type id 99 is unknown"), so a user sees where in which file something broke.
// Library code never throws across its public edge and never aborts on bad input; it
// returns a Result. Messages are always one line: text that came from a file is escaped.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace wick {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something unusable
  kNotFound,         // a file, key or tensor does not exist
  kIo,               // the operating system refused an operation
  kCorrupt,          // a file's bytes do not follow its format
  kUnsupported,      // valid, but wick does not handle it (yet)
  kTypeMismatch,     // a value exists but has another type
  kOutOfRange,       // does not fit a limit: a prompt longer than the context
  kUnavailable,      // busy right now (a full queue); the same call may succeed later
};

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  // The full one-line message, outermost context first.
  const std::string& message() const { return message_; }

  // Prepends context ("file.gguf", "offset 12", "key 'x'"), outermost last to be added.
  Error&& With(std::string_view context) && {
    message_.insert(0, std::string(context) + ": ");
    return std::move(*this);
  }
  Error& With(std::string_view context) & {
    message_.insert(0, std::string(context) + ": ");
    return *this;
  }

 private:
  ErrorCode code_;
  std::string message_;
};

// Quotes text taken from an untrusted file so that it can never break a one-line message:
// control bytes and non-ASCII bytes become \xNN, and very long text is shortened.
std::string Quote(std::string_view text, size_t max_len = 80);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` on error (for optional information only: it drops the error).
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() {
  return Ok{};
}

}  // namespace wick

// Returns the error of a Result-valued expression from the enclosing function.
#define WICK_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    auto wick_status_ = (expr);                                     \
    if (!wick_status_.ok()) return std::move(wick_status_).error(); \
  } while (0)

#define WICK_CONCAT_INNER_(a, b) a##b
#define WICK_CONCAT_(a, b) WICK_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result-valued expression, or returns its error.
#define WICK_ASSIGN_OR_RETURN(lhs, expr) \
  WICK_ASSIGN_OR_RETURN_IMPL_(WICK_CONCAT_(wick_result_, __LINE__), lhs, expr)
#define WICK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).error();     \
  lhs = std::move(tmp).value()
