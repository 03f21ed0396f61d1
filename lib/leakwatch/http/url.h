#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::http {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target = "/";  // path + query

  bool tls() const { return scheme == "https"; }
  // scheme://host:port — no path or query (paths of webhook URLs carry secrets).
  std::string origin() const;
  // Safe for logs: origin plus "/…" when there is a path. Never the path itself.
  std::string redacted() const;

  static core::Result<Url> parse(std::string_view text);
};

}  // namespace leakwatch::http
