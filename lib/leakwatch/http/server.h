#pragma once
// Asynchronous HTTP/1.1 server (Boost.Beast) on the daemon's io_context (one thread).
//
// - A listener bound to `address:port` (port 0 = any free port; `port()` reads it back).
// - One session per connection (enable_shared_from_this): `expires_after` before every read and
//   every write (a file body is written chunk by chunk, each chunk with its own deadline, so a big
//   download is bounded by idle time, not by a total), a request_parser with explicit header and
//   body limits, keep-alive.
// - At most `max_connections` sessions; further connections are closed at once.
// - A per-client-address token bucket (RateLimiter); over the limit: 429 with Retry-After. Paths
//   in `rate_limit_exempt` (e.g. "/healthz") are not counted.
// - The handler gets a ServerRequest and a Responder; it may answer at once or later from any
//   thread (the Responder posts back to the io thread). Exactly one call per request.
// - `stop()` closes the listener and every connection; call it on the io thread.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/http/router.h"

namespace leakwatch::http {

// Token bucket per key (client address). Pure: time is passed in. Memory is bounded: at most
// `max_keys` buckets; when full, buckets that have refilled are dropped first, then the stalest.
class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // rate_per_second <= 0 disables limiting.
  RateLimiter(double rate_per_second, double burst, std::size_t max_keys = 4096);

  // Takes one token for `key`. When none is left returns false and sets `retry_after_seconds`.
  bool allow(const std::string& key, TimePoint now, double* retry_after_seconds = nullptr);
  std::size_t tracked_keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint last{};
  };
  void evict(TimePoint now);

  double rate_;
  double burst_;
  std::size_t max_keys_;
  std::unordered_map<std::string, Bucket> buckets_;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 9464;
  std::uint64_t max_request_bytes = 64 * 1024;  // request line + headers + body
  int max_connections = 64;
  double rate_limit_per_second = 20;  // per client address; <= 0 disables
  double rate_limit_burst = 40;
  std::vector<std::string> rate_limit_exempt = {"/healthz"};
  std::chrono::milliseconds read_timeout{15000};   // per request (idle keep-alive included)
  std::chrono::milliseconds write_timeout{30000};  // per write / per file chunk
  std::string server_name = "leakwatch";
};

// Parses a listen address: "127.0.0.1:9464", "0.0.0.0:80", "[::1]:9464", "localhost:9464",
// ":9464" (all interfaces). Errors: "invalid_listen".
core::Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen);

using Responder = std::function<void(ServerResponse)>;
using Handler = std::function<void(const ServerRequest&, Responder)>;

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;  // over max_connections
  std::uint64_t requests = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t bad_requests = 0;  // parse errors, limits
  int active_connections = 0;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Errors: "invalid_listen", "bind" (with the address, e.g. in use).
  core::Status start();
  // The bound port (after start()).
  std::uint16_t port() const;
  // Closes the listener and all connections. Idempotent. Call on the io thread.
  void stop();

  ServerStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::http
