#pragma once
// A small value-or-error type for per-tick I/O (see STYLE.md: exceptions at the edges, results
// inside).
#include <string>
#include <utility>
#include <variant>

namespace leakwatch::core {

// An error carries a short machine-readable code ("timeout", "http_403", "parse") and a human
// message. Messages must never contain secrets (keys, webhook URLs).
struct Error {
  std::string code;
  std::string message;

  std::string to_string() const { return code + ": " + message; }
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
  return Unit{};
}

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace leakwatch::core
