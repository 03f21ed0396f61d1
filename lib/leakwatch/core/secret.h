#pragma once
// A secret (heap-dump key, webhook URL, signing secret) that never prints its value.
#include <ostream>
#include <string>

namespace leakwatch::core {

class Secret {
 public:
  Secret() = default;
  // `origin` describes where the value came from ("env HEAP_SECRET_KEY", "file /run/secrets/k",
  // "inline") and is safe to log.
  Secret(std::string value, std::string origin)
      : value_(std::move(value)), origin_(std::move(origin)) {}

  // A secret a command did not read (it only browses or replays): it holds a placeholder, and
  // checks of its value (is it a URL?) are skipped.
  static Secret unresolved(std::string origin) {
    Secret s("<unresolved>", std::move(origin));
    s.resolved_ = false;
    return s;
  }

  bool empty() const { return value_.empty(); }
  bool resolved() const { return resolved_; }
  // The only accessor of the value: call it at the point of use (a header, an HMAC), never to log.
  const std::string& reveal() const { return value_; }
  const std::string& origin() const { return origin_; }

  friend std::ostream& operator<<(std::ostream& os, const Secret& s) {
    return os << "<secret from " << (s.origin_.empty() ? "unset" : s.origin_) << ">";
  }
  bool operator==(const Secret& o) const { return value_ == o.value_; }

 private:
  std::string value_;
  std::string origin_;
  bool resolved_ = true;
};

// Replaces every occurrence of `secret`'s value in `text` with "<redacted>" (defence in depth for
// messages that echo peer data).
std::string redact(std::string text, const Secret& secret);

}  // namespace leakwatch::core

#include <fmt/format.h>
template <>
struct fmt::formatter<leakwatch::core::Secret> : fmt::formatter<std::string> {
  auto format(const leakwatch::core::Secret& s, format_context& ctx) const {
    return fmt::formatter<std::string>::format("<secret from " + s.origin() + ">", ctx);
  }
};
