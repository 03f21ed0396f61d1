#pragma once
// Asynchronous HTTP/1.1 server (Boost.Beast) on the daemon's io_context (one thread).
//
// - A listener bound to `address:port` (port 0 = any free port; `port()` reads it back).
// - One session per connection (enable_shared_from_this): `expires_after` before every read and
//   every write (a file body is written chunk by chunk, each chunk with its own deadline, so a big
//   download is bounded by idle time, not by a total), a request_parser with explicit header and
//   body limits, keep-alive.
// - At most `max_connections` sessions, at most `max_connections_per_address` from one client
//   address. Past either cap, up to `reserved_health_connections` more are admitted for one
//   request to `health_path` only (short read deadline, then closed; anything else gets 503), so
//   idle connections held by one client cannot take the health check down. Beyond that,
//   connections are closed at once.
// - Host header check against DNS rebinding: a request whose Host is not the listen address,
//   `localhost`, a loopback address (when listening on loopback), any IP literal (when listening
//   on all interfaces) or one of `allowed_hosts` gets 421. A request without Host passes (browsers
//   always send one). Paths in `host_check_exempt` are not checked.
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
#include <string_view>
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
  int max_connections_per_address = 32;
  int reserved_health_connections = 4;
  std::string health_path = "/healthz";
  std::chrono::milliseconds health_read_timeout{2000};
  // Extra names accepted in the Host header (lower case, no port). "*" turns the check off.
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> host_check_exempt = {"/healthz"};
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

// True when a request with this Host header value may be served (see above).
bool host_allowed(std::string_view host_header, const ServerOptions& options);

using Responder = std::function<void(ServerResponse)>;
using Handler = std::function<void(const ServerRequest&, Responder)>;

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;  // over the caps, with no health slot left
  std::uint64_t health_only_admitted = 0;  // admitted to a reserved health-check slot
  std::uint64_t misdirected = 0;           // 421: Host not allowed
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
  // Applies new limits, rate limits and allowed hosts to new requests and connections (the
  // address and port stay: a different listen address needs a restart). Call on the io thread.
  void reconfigure(const ServerOptions& options);

  ServerStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::http
