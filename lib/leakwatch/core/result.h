#pragma once
// A small value-or-error type for per-tick I/O (see STYLE.md: exceptions at the edges, results
// inside). Functions that return a Result do not throw.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace leakwatch::core {

// What went wrong, as the callers branch on it. The names (to_string) appear in logs, API error
// bodies and alert dedupe keys, so renaming one changes those too.
enum class Errc : std::uint8_t {
  aborted,
  bad_output,
  bind,
  busy,
  cancelled,
  closed,
  compression,
  config,
  connect,
  corrupt,
  credentials,
  detector_state,
  disabled,
  disk_full,
  empty,
  failed,
  forbidden,
  http_status,  // detail: the status code ("404")
  inspector_error,
  invalid_duration,
  invalid_id,
  invalid_key,
  invalid_listen,
  invalid_percent,
  invalid_signal,
  invalid_size,
  invalid_url,
  io,
  io_network,
  killed,
  no_container,
  no_counts,
  no_credentials,
  no_memcg,
  no_process,
  not_a_snapshot,
  not_found,
  not_inspector,
  not_loopback,
  not_running,
  over_budget,
  parse,
  permission,
  protocol,
  resolve,
  s3,  // detail: the S3 error code ("NoSuchUpload")
  sd_notify,
  server_error,
  spawn,
  timeout,
  tls,
  too_large,
  trace,
  truncated,
  unavailable,
  version,
};

std::string_view to_string(Errc code);
std::ostream& operator<<(std::ostream& out, Errc code);

// An error carries a code, a human message and, for codes whose meaning comes from a peer (an
// HTTP status, an S3 error code), that peer's detail. Messages must never contain secrets (keys,
// webhook URLs).
struct Error {
  Errc code = Errc::failed;
  std::string message;
  std::string detail;

  // "timeout", "http_404", "s3_NoSuchUpload": the code as logs and dedupe keys show it.
  std::string code_text() const;
  std::string to_string() const { return code_text() + ": " + message; }
  bool is_s3(std::string_view s3_code) const { return code == Errc::s3 && detail == s3_code; }
  // The same error with context in front of its message ("FILE: "), code and detail kept.
  Error prefixed(std::string_view context) const {
    return Error{code, std::string(context) + message, detail};
  }
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

inline Error make_error(Errc code, std::string message, std::string detail = {}) {
  return Error{code, std::move(message), std::move(detail)};
}

}  // namespace leakwatch::core
