#pragma once
// The daemon's HTTP API: a pure router from ServerRequest to ServerResponse (tested without
// sockets) plus `handle`, the http::Server handler that runs slow work (diffs) off the io thread.
//
//   GET /healthz                             "ok" — constant time, no I/O, never rate limited
//   GET /metrics                             Prometheus text format 0.0.4
//   GET /api/v1/status[?since=T&max_points=N]  (heap analysis only with the bearer token)
//   GET /api/v1/snapshots                    the archive listing
//   GET /api/v1/snapshots/{id}               one snapshot's metadata (its heap analysis — class
//                                            names, retainer paths — only with the bearer token)
//   GET /api/v1/snapshots/{id}/download      the stored file (bearer token)
//   GET /api/v1/diff?base=ID&target=ID[&limit=N]   DevTools Comparison (bearer token), in the
//                                            store's diff child when it has one; 507
//                                            diff_too_large when it does not fit the budget
//   GET /, /index.html, /app.js, /app.css    the dashboard (embedded assets)
// See docs/api.md.
#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "leakwatch/api/snapshot_store.h"
#include "leakwatch/api/state.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/secret.h"
#include "leakwatch/http/router.h"
#include "leakwatch/http/server.h"

namespace leakwatch::api {

struct RouterOptions {
  core::Secret token;  // server.token; empty = downloads and diffs disabled
  // Runs a job off the io thread (the engine's worker). Unset: diffs run inline on the io thread.
  std::function<void(std::function<void()>)> offload;
  std::size_t diff_limit = 50;      // classes returned by default (?limit=, at most 1000)
  std::size_t diff_cache_size = 4;  // recent comparisons kept in memory
};

class Router {
 public:
  // `store` may be null (no archive configured): the listing is empty and ids are unknown.
  Router(RouterOptions options, const StateProvider& state, const SnapshotStore* store);
  // Cancels a diff the store is running for this router (its request gets "cancelled").
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  http::ServerResponse route(const http::ServerRequest& req) const;
  // Replaces the token (a reload): the next request is checked against the new one.
  void set_token(core::Secret token);
  // The http::Handler: answers at once, except diffs: in the store's child process when it has
  // one (answered later on the io thread; nothing waits for it), else through `offload`. Call on
  // the io thread.
  void handle(const http::ServerRequest& req, http::Responder respond) const;

 private:
  struct DiffJob {
    std::string base;
    std::string target;
    std::size_t limit = 0;
  };
  // Validates a diff request; a response when it is refused, else the job.
  std::variant<http::ServerResponse, DiffJob> prepare_diff(const http::ServerRequest& req) const;
  http::ServerResponse run_diff(const DiffJob& job) const;
  // Through the store's child process; `respond` runs once, on the io thread.
  void run_diff_async(const DiffJob& job, http::Responder respond) const;
  static std::string diff_key(const DiffJob& job);
  std::optional<http::ServerResponse> cached_diff(const std::string& key) const;
  http::ServerResponse diff_answer(const DiffJob& job, const std::string& key,
                                   core::Result<nlohmann::json> result) const;
  http::ServerResponse snapshots(const http::ServerRequest& req) const;
  http::ServerResponse status(const http::ServerRequest& req) const;
  std::optional<http::ServerResponse> authorize(const http::ServerRequest& req) const;
  // For data that is shown either way but carries heap-derived details: true with the right
  // token, false without an Authorization header, a refusal for a wrong token.
  std::variant<http::ServerResponse, bool> heap_details(const http::ServerRequest& req) const;
  core::Secret token() const;

  RouterOptions options_;
  mutable std::mutex token_mutex_;  // guards options_.token (set_token)
  const StateProvider& state_;
  const SnapshotStore* store_;
  // Shared with worker threads.
  struct DiffShared {
    std::mutex mutex;
    std::list<std::pair<std::string, std::string>> cache;  // key, body (most recent first)
    std::atomic<bool> running{false};
  };
  std::shared_ptr<DiffShared> diff_;
};

// http::ServerOptions from the validated config (listen address, limits). Error "invalid_listen".
core::Result<http::ServerOptions> server_options(const config::ServerSettings& s);
// RouterOptions from the validated config (the token).
RouterOptions router_options(const config::ServerSettings& s);

// Applies a reloaded `server:` section to the running router and server (either may be null: the
// API is off): the token, the limits, the rate limits and the allowed hosts take effect at once.
// `running` is what is in effect; it becomes `next` except for the settings that need a restart,
// which are returned by name ("server.enabled", "server.listen"; empty when none).
// Call on the io thread.
std::vector<std::string> reconfigure(Router* router, http::Server* server,
                                     config::ServerSettings& running,
                                     const config::ServerSettings& next);

}  // namespace leakwatch::api
