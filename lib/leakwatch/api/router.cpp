#include "leakwatch/api/router.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "leakwatch/api/assets.h"
#include "leakwatch/api/auth.h"
#include "leakwatch/api/metrics.h"
#include "leakwatch/api/status.h"
#include "leakwatch/core/log.h"

namespace leakwatch::api {

using http::ServerRequest;
using http::ServerResponse;
using nlohmann::json;

namespace {

constexpr std::string_view kSnapshotsPrefix = "/api/v1/snapshots/";
constexpr std::string_view kDownloadSuffix = "/download";

ServerResponse json_response(int status, const json& j) {
  auto r = ServerResponse::json(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
  r.set_header("Cache-Control", "no-store");
  return r;
}

ServerResponse error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, {{"error", code}, {"message", message}});
}

// Archive ids look like "web/20261124T080000Z-leak-series-1of3". Anything else is refused before
// the listing is even consulted; a well-formed id must then be in the listing.
bool plausible_id(std::string_view id) {
  if (id.empty() || id.size() > 256 || id.front() == '/' || id.front() == '.') return false;
  if (id.find("..") != std::string_view::npos) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/';
  });
}

std::string safe_filename(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  if (out.empty()) out = "snapshot.heapsnapshot";
  return out;
}

void add_security_headers(ServerResponse& r) {
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("X-Frame-Options", "DENY");
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

Router::Router(RouterOptions options, const StateProvider& state, const SnapshotStore* store)
    : options_(std::move(options)),
      state_(state),
      store_(store),
      diff_(std::make_shared<DiffShared>()) {}

Router::~Router() {
  if (store_ && diff_->running) store_->cancel_diffs();
}

ServerResponse Router::route(const ServerRequest& req) const {
  const std::string& path = req.path;
  // Constant time, no state, no I/O: a health check must never be what feeds a leak.
  if (path == "/healthz") {
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = ServerResponse::text(405, "method not allowed");
      r.set_header("Allow", "GET, HEAD");
      return r;
    }
    auto r = ServerResponse::text(200, "ok");
    r.set_header("Cache-Control", "no-store");
    return r;
  }

  ServerResponse r;
  if (req.method != "GET" && req.method != "HEAD") {
    r = ServerResponse::text(405, "method not allowed");
    r.set_header("Allow", "GET, HEAD");
  } else if (path == "/metrics") {
    auto st = state_.snapshot();
    if (store_) {
      if (auto l = store_->list()) {
        std::uint64_t total = 0;
        for (const auto& s : *l)
          total += s.stored_bytes;
        st.archive_bytes = total;
      }
    }
    r = ServerResponse::text(200, render_metrics(st));
    r.content_type = std::string(kMetricsContentType);
    r.set_header("Cache-Control", "no-store");
  } else if (path == "/api/v1/status") {
    r = status(req);
  } else if (path == "/api/v1/snapshots" || path.starts_with(kSnapshotsPrefix)) {
    r = snapshots(req);
  } else if (path == "/api/v1/diff") {
    auto prepared = prepare_diff(req);
    if (auto* refused = std::get_if<ServerResponse>(&prepared)) {
      r = std::move(*refused);
    } else {
      r = run_diff(std::get<DiffJob>(prepared));
    }
  } else if (path.starts_with("/api/")) {
    r = error_response(404, "not_found", "no such endpoint");
  } else if (const Asset* a = find_asset(path)) {
    if (req.header("if-none-match") == a->etag) {
      r.status = 304;
      r.content_type.clear();
    } else {
      r.body = std::string(a->data);
      r.content_type = std::string(a->content_type);
    }
    r.set_header("ETag", std::string(a->etag));
    r.set_header("Cache-Control", "no-cache");
    r.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: "
                 "blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'none'");
  } else {
    r = ServerResponse::text(404, "not found");
  }
  add_security_headers(r);
  return r;
}

void Router::handle(const ServerRequest& req, http::Responder respond) const {
  const bool diff = req.path == "/api/v1/diff" && (req.method == "GET" || req.method == "HEAD");
  if (diff && store_ && store_->diffs_in_child()) {
    auto prepared = prepare_diff(req);
    if (auto* refused = std::get_if<ServerResponse>(&prepared)) {
      add_security_headers(*refused);
      respond(std::move(*refused));
      return;
    }
    run_diff_async(std::get<DiffJob>(prepared), std::move(respond));
    return;
  }
  if (diff && options_.offload) {
    auto prepared = prepare_diff(req);
    if (auto* refused = std::get_if<ServerResponse>(&prepared)) {
      add_security_headers(*refused);
      respond(std::move(*refused));
      return;
    }
    // The job holds what it needs by value (the router and its store outlive the server, which
    // stops first). Whatever happens, the client gets an answer.
    options_.offload([this, job = std::get<DiffJob>(std::move(prepared)), respond]() {
      ServerResponse r;
      try {
        r = run_diff(job);
      } catch (const std::exception& e) {
        core::logger("api")->error("comparison failed: {}", e.what());
        r = error_response(500, "failed", "the comparison failed");
      }
      add_security_headers(r);
      respond(std::move(r));
    });
    return;
  }
  respond(route(req));
}

void Router::set_token(core::Secret token) {
  std::lock_guard lock(token_mutex_);
  options_.token = std::move(token);
}

core::Secret Router::token() const {
  std::lock_guard lock(token_mutex_);
  return options_.token;
}

std::variant<ServerResponse, bool> Router::heap_details(const ServerRequest& req) const {
  if (req.header("authorization").empty()) return false;
  if (auto refused = authorize(req)) return std::move(*refused);
  return true;
}

std::optional<ServerResponse> Router::authorize(const ServerRequest& req) const {
  switch (check_bearer(req.header("authorization"), token())) {
    case AuthResult::ok:
      return std::nullopt;
    case AuthResult::disabled:
      return error_response(403, "disabled",
                            "snapshot downloads and diffs are disabled: no server.token is "
                            "configured");
    case AuthResult::missing: {
      auto r = error_response(401, "unauthorized",
                              "this endpoint needs 'Authorization: Bearer <server.token>'");
      r.set_header("WWW-Authenticate", "Bearer realm=\"leakwatch\"");
      return r;
    }
    case AuthResult::invalid:
      core::logger("api")->warn("event=auth_failed remote={} path={}", req.remote_address,
                                req.path);
      return error_response(403, "forbidden", "wrong token");
  }
  return error_response(403, "forbidden", "wrong token");
}

ServerResponse Router::status(const ServerRequest& req) const {
  StatusQuery q;
  if (auto since = req.query_param("since")) {
    double t = 0;
    if (!parse_number(*since, t) || !std::isfinite(t) || t < 0) {
      return error_response(400, "bad_request", "since must be unix seconds");
    }
    q.since = core::from_unix_seconds(t);
  }
  if (auto mp = req.query_param("max_points")) {
    std::size_t n = 0;
    if (!parse_number(*mp, n) || n < 2 || n > 20000) {
      return error_response(400, "bad_request", "max_points must be between 2 and 20000");
    }
    q.max_points = n;
  }
  auto details = heap_details(req);
  if (auto* refused = std::get_if<ServerResponse>(&details)) return std::move(*refused);
  q.heap_details = std::get<bool>(details);
  return json_response(200, status_json(state_.snapshot(), q));
}

ServerResponse Router::snapshots(const ServerRequest& req) const {
  std::vector<SnapshotInfo> list;
  if (store_) {
    auto l = store_->list();
    if (!l) {
      core::logger("api")->warn("event=archive_list_failed error=\"{}\"", l.error().to_string());
      return error_response(500, "archive", "the archive cannot be listed");
    }
    list = std::move(l.value());
  }
  if (req.path == "/api/v1/snapshots") {
    json arr = json::array();
    for (const auto& s : list)
      arr.push_back(snapshot_json(s, false));
    return json_response(200, {{"snapshots", std::move(arr)}, {"archive", store_ != nullptr}});
  }
  std::string_view rest = std::string_view(req.path).substr(kSnapshotsPrefix.size());
  bool download = false;
  if (rest.ends_with(kDownloadSuffix)) {
    download = true;
    rest.remove_suffix(kDownloadSuffix.size());
  }
  auto id = http::percent_decode(rest);
  if (!id || !plausible_id(*id)) return error_response(404, "not_found", "no such snapshot");
  auto it =
      std::find_if(list.begin(), list.end(), [&](const SnapshotInfo& s) { return s.id == *id; });
  if (it == list.end()) return error_response(404, "not_found", "no such snapshot");
  if (!download) {
    auto details = heap_details(req);
    if (auto* refused = std::get_if<ServerResponse>(&details)) return std::move(*refused);
    return json_response(200, snapshot_json(*it, true, std::get<bool>(details)));
  }

  if (auto refused = authorize(req)) return std::move(*refused);
  auto file = store_->path(it->id);
  if (!file) return error_response(404, "not_found", "the snapshot file is missing");
  ServerResponse r;
  r.file = *file;
  r.file_root = store_->root();
  r.content_type = it->compression == "zstd" ? "application/zstd" : "application/octet-stream";
  r.set_header("Content-Disposition",
               "attachment; filename=\"" + safe_filename(it->file_name) + "\"");
  r.set_header("Cache-Control", "no-store");
  core::logger("api")->info("event=snapshot_download id={} remote={}", it->id, req.remote_address);
  return r;
}

std::variant<ServerResponse, Router::DiffJob> Router::prepare_diff(const ServerRequest& req) const {
  if (auto refused = authorize(req)) return std::move(*refused);
  auto base = req.query_param("base");
  auto target = req.query_param("target");
  if (!base || !target || base->empty() || target->empty()) {
    return error_response(400, "bad_request", "diff needs ?base=ID&target=ID");
  }
  DiffJob job{*base, *target, options_.diff_limit};
  if (auto lim = req.query_param("limit")) {
    std::size_t n = 0;
    if (!parse_number(*lim, n) || n < 1 || n > 1000) {
      return error_response(400, "bad_request", "limit must be between 1 and 1000");
    }
    job.limit = n;
  }
  if (!plausible_id(job.base) || !plausible_id(job.target) || !store_) {
    return error_response(404, "not_found", "no such snapshot");
  }
  auto list = store_->list();
  if (!list) return error_response(500, "archive", "the archive cannot be listed");
  auto known = [&](const std::string& id) {
    return std::any_of(list->begin(), list->end(),
                       [&](const SnapshotInfo& s) { return s.id == id; });
  };
  if (!known(job.base)) return error_response(404, "not_found", "no such snapshot: base");
  if (!known(job.target)) return error_response(404, "not_found", "no such snapshot: target");
  return job;
}

std::string Router::diff_key(const DiffJob& job) {
  return job.base + "\n" + job.target + "\n" + std::to_string(job.limit);
}

std::optional<ServerResponse> Router::cached_diff(const std::string& key) const {
  std::lock_guard lock(diff_->mutex);
  for (auto it = diff_->cache.begin(); it != diff_->cache.end(); ++it) {
    if (it->first == key) {
      diff_->cache.splice(diff_->cache.begin(), diff_->cache, it);
      auto r = ServerResponse::json(200, diff_->cache.front().second);
      r.set_header("Cache-Control", "no-store");
      return r;
    }
  }
  return std::nullopt;
}

ServerResponse Router::diff_answer(const DiffJob& job, const std::string& key,
                                   core::Result<json> result) const {
  if (!result) {
    const auto& e = result.error();
    if (e.code != core::Errc::busy)
      core::logger("api")->warn("event=diff_failed base={} target={} error=\"{}\"", job.base,
                                job.target, e.to_string());
    if (e.code == core::Errc::not_found) return error_response(404, "not_found", e.message);
    if (e.code == core::Errc::busy || e.code == core::Errc::cancelled) {
      auto r =
          error_response(503, core::to_string(e.code),
                         e.code == core::Errc::busy ? "another comparison is running; retry shortly"
                                                    : "the comparison was cancelled by a stop or a "
                                                      "reload of leakwatch; retry shortly");
      r.set_header("Retry-After", "5");
      return r;
    }
    // Too big for this machine's budget (refused before starting, or its child ran out of its
    // memory or time limit): say so, and how to get it elsewhere.
    if (e.code == core::Errc::over_budget || e.code == core::Errc::killed ||
        e.code == core::Errc::timeout) {
      json body = {{"error", e.code == core::Errc::timeout ? "diff_timeout" : "diff_too_large"},
                   {"message", e.message},
                   {"base", job.base},
                   {"target", job.target}};
      std::string command = store_ ? store_->diff_command(job.base, job.target) : std::string();
      if (!command.empty()) {
        body["command"] = command;
        body["message"] = e.message + ". Run the comparison where there is more memory: " + command;
      }
      return json_response(e.code == core::Errc::timeout ? 504 : 507, body);
    }
    return error_response(500, "diff_failed", e.message);
  }
  json body = std::move(result.value());
  body["base"] = job.base;
  body["target"] = job.target;
  std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  {
    std::lock_guard lock(diff_->mutex);
    diff_->cache.emplace_front(key, text);
    while (diff_->cache.size() > options_.diff_cache_size)
      diff_->cache.pop_back();
  }
  auto r = ServerResponse::json(200, std::move(text));
  r.set_header("Cache-Control", "no-store");
  return r;
}

ServerResponse Router::run_diff(const DiffJob& job) const {
  std::string key = diff_key(job);
  if (auto hit = cached_diff(key)) return std::move(*hit);
  // One comparison at a time: each parses two snapshots, and a watchdog must stay small.
  if (diff_->running.exchange(true))
    return diff_answer(job, key, core::make_error(core::Errc::busy, ""));
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag = false; }
  } release{diff_->running};
  return diff_answer(job, key, store_->diff(job.base, job.target, job.limit));
}

void Router::run_diff_async(const DiffJob& job, http::Responder respond) const {
  std::string key = diff_key(job);
  auto send = [](ServerResponse r, const http::Responder& to) {
    add_security_headers(r);
    to(std::move(r));
  };
  if (auto hit = cached_diff(key)) return send(std::move(*hit), respond);
  if (diff_->running.exchange(true))
    return send(diff_answer(job, key, core::make_error(core::Errc::busy, "")), respond);
  // `done` runs on the io thread while the router exists: the store's child is cancelled by
  // ~Router and abandoned (without a call) by the store's destructor.
  store_->diff_async(job.base, job.target, job.limit,
                     [this, job, key, respond, send, shared = diff_](core::Result<json> r) {
                       shared->running = false;
                       send(diff_answer(job, key, std::move(r)), respond);
                     });
}

core::Result<http::ServerOptions> server_options(const config::ServerSettings& s) {
  auto listen = http::parse_listen(s.listen);
  if (!listen) return listen.error();
  http::ServerOptions o;
  o.address = listen->first;
  o.port = listen->second;
  o.max_request_bytes = s.max_request_bytes;
  o.max_connections = s.max_connections;
  o.rate_limit_per_second = s.rate_limit_per_second;
  o.rate_limit_burst = s.rate_limit_burst;
  o.max_connections_per_address = s.max_connections_per_address;
  o.allowed_hosts = s.allowed_hosts;
  for (auto& h : o.allowed_hosts)
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return o;
}

RouterOptions router_options(const config::ServerSettings& s) {
  RouterOptions o;
  o.token = s.token;
  return o;
}

}  // namespace leakwatch::api

namespace leakwatch::api {

std::vector<std::string> reconfigure(Router* router, http::Server* server,
                                     config::ServerSettings& running,
                                     const config::ServerSettings& next) {
  std::vector<std::string> restart;
  auto applied = next;
  if (running.enabled != next.enabled) {
    restart.push_back("server.enabled");
    applied.enabled = running.enabled;
  }
  if (running.listen != next.listen) {
    restart.push_back("server.listen");
    applied.listen = running.listen;
  }
  bool rotated = !(running.token == next.token);
  if (router) router->set_token(next.token);
  if (server) {
    if (auto o = server_options(applied)) server->reconfigure(*o);
  }
  if (rotated && router)
    core::logger("api")->info("event=token_rotated origin=\"{}\"", next.token.origin());
  running = std::move(applied);
  return restart;
}

}  // namespace leakwatch::api
