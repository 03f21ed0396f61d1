#pragma once
// The server side's plain request and response values, and the helpers a router needs (query
// strings, percent-decoding). No Asio or Beast here: a router is a pure function
// `ServerResponse route(const ServerRequest&)`, tested without sockets; http::Server converts
// between these values and Beast messages.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/core/percent.h"

namespace leakwatch::http {

struct ServerRequest {
  std::string method;  // "GET", "HEAD", ... (upper case, as sent)
  std::string target;  // raw request target, e.g. "/api/v1/diff?base=a&target=b"
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', not decoded ("" when none)
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::string remote_address;  // client IP address ("" in tests)

  // Case-insensitive header lookup; empty when absent.
  std::string_view header(std::string_view name) const;
  // A decoded query parameter (the first one with that name), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;

  // Splits `target` into path and query (for tests and the server).
  static ServerRequest get(std::string target);
};

struct ServerResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // When set, the server streams this file as the body (http::file_body) instead of `body`.
  // It is opened with O_NOFOLLOW, must be a regular file, and, when `file_root` is set, must
  // resolve to a path under `file_root`; otherwise the answer is 404.
  std::optional<std::filesystem::path> file;
  std::optional<std::filesystem::path> file_root;
  bool close = false;  // close the connection after this response

  ServerResponse& set_header(std::string name, std::string value);
  std::string_view header(std::string_view name) const;  // case-insensitive; empty when absent

  static ServerResponse text(int status, std::string body);
  static ServerResponse json(int status, std::string body);
};

// Percent-decoding ("%2F" -> "/"; '+' -> ' ' when `plus_is_space`). Invalid escapes: nullopt.
using core::percent_decode;

// The reason phrase of a status code ("Not Found").
std::string_view status_reason(int status);

}  // namespace leakwatch::http
