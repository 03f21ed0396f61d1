#pragma once
// Beast HTTP/1.1 client over TCP and TLS (OpenSSL: peer verification on by default, SNI, host-name
// verification, optional CA file). Asynchronous on the caller's io_context (the daemon's one I/O
// thread); `fetch_sync` runs a private io_context for CLI commands and tests.
//
// Timeouts: connect (resolve+connect+handshake), idle (re-armed for every read/write), total.
// Error codes in core::Error::code: invalid_url, resolve, connect, tls, timeout, protocol,
// too_large, aborted (a stream handler refused), io. Messages name the origin only, never the path
// (webhook URLs carry secrets in their path) and never header values.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/http/url.h"

namespace leakwatch::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct TlsOptions {
  bool verify = true;   // verify the peer certificate chain and host name
  std::string ca_file;  // extra/private CA bundle (PEM); empty = system default paths
};

struct Request {
  std::string method = "GET";
  Url url;
  Headers headers;  // may carry secrets (x-key): never logged
  std::string body;
  // Sent instead of `body` when non-empty, without a copy (multi-MiB upload parts): the caller
  // keeps the bytes alive until the request completes (the *_sync helpers return only then).
  std::string_view body_view;
  std::string content_type;  // set Content-Type when non-empty
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds total_timeout{30000};
  std::uint64_t max_body_bytes = 1 << 20;  // for buffered responses / streamed bodies
  TlsOptions tls;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // empty for streamed requests
  // Case-insensitive header lookup; empty when absent.
  std::string header(std::string_view name) const;
};

// Streaming: the head first (return an error to abort: e.g. a 403), then body chunks as they
// arrive. For a non-2xx head the client still reads up to 64 KiB of body into Response::body when
// on_head returns ok, so callers can report the peer's error text.
struct StreamHandler {
  std::function<core::Status(const Response& head)> on_head;
  std::function<core::Status(std::string_view chunk)> on_data;
};

using ResponseCallback = std::function<void(core::Result<Response>)>;

class Client {
 public:
  explicit Client(boost::asio::io_context& io);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Buffered request: the whole body (at most max_body_bytes) lands in Response::body.
  void request(Request req, ResponseCallback done);
  // Streamed request: body chunks go to handler.on_data; max_body_bytes caps the total.
  void stream(Request req, StreamHandler handler, ResponseCallback done);

 private:
  boost::asio::io_context& io_;
};

// Synchronous helpers on a private io_context (CLI commands, tests).
core::Result<Response> fetch_sync(Request req);
core::Result<Response> stream_sync(Request req, StreamHandler handler);

}  // namespace leakwatch::http
