#include "leakwatch/daemon/daemon.h"

#include <boost/asio/post.hpp>

#include "leakwatch/alert/alerter.h"
#include "leakwatch/core/log.h"
#include "leakwatch/engine/engine.h"
#include "leakwatch/s3/uploader.h"
#include "leakwatch/source/identity.h"

namespace leakwatch::daemon {

namespace asio = boost::asio;

namespace {

std::shared_ptr<spdlog::logger> log() {
  return core::logger("daemon");
}

}  // namespace

// Everything built from one configuration. A reload builds a new Runtime and retires the old one.
struct Daemon::Runtime {
  config::Config config;
  std::unique_ptr<s3::Uploader> uploader;  // outlives the engine, which feeds it
  std::unique_ptr<alert::Alerter> alerter;
  std::unique_ptr<engine::Engine> engine;
};

Daemon::Daemon(asio::io_context& io, const core::Clock& clock, DaemonOptions options)
    : io_(io), clock_(clock), options_(std::move(options)) {}

Daemon::~Daemon() {
  // The router's jobs hold `this`-owned objects: the API stops before they go.
  if (server_) server_->stop();
  router_.reset();
  store_.reset();
  retiring_.clear();
  rt_.reset();
}

const core::TargetIdentity& Daemon::identity_for(const source::TargetSettings& t) {
  if (identity_ && identity_->first.source == t.source &&
      identity_->first.ecs_container == t.ecs_container &&
      identity_->first.ecs_metadata_uri == t.ecs_metadata_uri)
    return identity_->second;
  auto resolved = source::resolve_identity(t);
  if (!resolved.warning.empty())
    log()->warn("no ECS task identity, alerts and archives name the host: {}", resolved.warning);
  std::string fields;
  for (const auto& [k, v] : resolved.identity.fields())
    fields += (fields.empty() ? "" : " ") + k + "=" + v;
  log()->info("target identity: {}", fields);
  identity_.emplace(t, std::move(resolved.identity));
  return identity_->second;
}

core::Result<std::unique_ptr<Daemon::Runtime>> Daemon::build(config::Config cfg) {
  auto r = std::make_unique<Runtime>();
  r->config = std::move(cfg);
  r->config.archive.identity = identity_for(r->config.target);
  if (!r->config.alerts.empty()) {
    auto a = alert::Alerter::create(io_, clock_, r->config.alerts);
    if (!a.ok()) return a.error();
    r->alerter = std::move(*a);
    r->alerter->set_task(r->config.archive.identity);
  }
  engine::EngineOptions eo;
  eo.diff_command = options_.diff_command;
  if (!r->config.archive.dir.empty() &&
      (!archive_ || archive_->root() != std::filesystem::path(r->config.archive.dir)))
    archive_ = std::make_shared<archive::Archive>(r->config.archive);
  eo.archive = archive_;
  alert::Alerter* alerter = r->alerter.get();
  r->engine = std::make_unique<engine::Engine>(
      io_, r->config, clock_,
      [alerter](alert::Event e) {
        log()->info("event type={} target={} \"{}\"", alert::to_string(e.type), e.target,
                    alert::headline(e));
        if (alerter) alerter->publish(std::move(e));
      },
      std::move(eo));
  if (!r->config.archive.s3.bucket.empty()) {
    auto up = s3::make_archive_uploader(r->config.archive, r->config.state_dir,
                                        r->config.archive.identity);
    if (!up.ok()) return up.error();
    r->uploader = std::move(*up);
    r->engine->set_on_archived(
        [u = r->uploader.get()](const archive::Metadata& m) { u->enqueue(m); });
    if (r->alerter) {  // alerts name the snapshots' S3 objects; the uploader outlives the alerter
      r->alerter->set_archive_linker(
          [u = r->uploader.get()](const std::string& id) { return u->link(id); });
      if (archive_)
        r->alerter->remember_capture(
            r->config.target.name,
            archive_->latest_capture_ids(r->config.target.name, r->config.archive.identity));
    }
  }
  if (auto st = r->engine->start(); !st.ok()) return st.error();
  return r;
}

core::Status Daemon::start(config::Config config) {
  auto first = build(std::move(config));
  if (!first.ok()) return first.error();
  rt_ = std::move(*first);
  if (!rt_->config.server.enabled) return core::ok_status();
  return start_api(rt_->config);
}

core::Status Daemon::start_api(const config::Config& c) {
  api_settings_ = c.server;
  if (archive_) {
    // The API's diffs run in a child under the same memory budget as the series diff: the
    // daemon never parses a snapshot, and stop or reload kills the child without waiting.
    api::ChildDiffSettings child;
    child.io = &io_;
    child.command = options_.diff_command;
    child.memory_budget = rt_->engine->memory_budget();
    store_ = std::make_unique<api::ArchiveSnapshotStore>(archive_, c.target.name, child);
  }
  auto ropts = api::router_options(c.server);
  // Stores that diff in-process run their diffs on one worker thread that outlives reloads, so a
  // reload never waits for one. The router's job answers its request whatever happens; nothing
  // escapes into the pool.
  ropts.offload = [this](std::function<void()> job) {
    ++api_jobs_;
    asio::post(api_worker_, [this, job = std::move(job)]() {
      try {
        job();
      } catch (const std::exception& e) {
        log()->error("api job failed: {}", e.what());
      } catch (...) {
        log()->error("api job failed with an unknown exception");
      }
      --api_jobs_;
    });
  };
  router_ = std::make_unique<api::Router>(std::move(ropts), *this, store_.get());
  auto sopts = api::server_options(c.server);
  if (!sopts.ok()) return sopts.error();
  server_ = std::make_unique<http::Server>(
      io_, *sopts, [this](const http::ServerRequest& req, http::Responder respond) {
        router_->handle(req, std::move(respond));
      });
  if (auto st = server_->start(); !st.ok()) return st.error();
  log()->info("api listening on {}:{} (dashboard at http://{}:{}/)", sopts->address,
              server_->port(), sopts->address, server_->port());
  return core::ok_status();
}

void Daemon::retire(std::unique_ptr<Runtime> old, std::chrono::milliseconds deadline,
                    std::function<void()> then) {
  Runtime* raw = old.get();
  retiring_.push_back(std::move(old));
  raw->engine->stop(deadline, [this, raw, then]() {
    auto finish = [this, raw, then]() {
      retiring_.remove_if([raw](const auto& p) { return p.get() == raw; });
      if (then) then();
    };
    if (raw->alerter)
      raw->alerter->shutdown([this, finish]() { asio::post(io_, finish); });
    else
      asio::post(io_, finish);
  });
}

void Daemon::reload(config::Config cfg, std::function<void(core::Status)> done) {
  // The budget may change: a running API diff is cancelled (its client may retry).
  if (store_) store_->cancel_diffs();
  // The old engine persists first, so the new one resumes exactly where it stopped.
  retire(std::move(rt_), std::chrono::seconds(60),
         [this, cfg = std::move(cfg), done = std::move(done)]() mutable {
           auto next = build(std::move(cfg));
           if (!next.ok()) return done(next.error());
           rt_ = std::move(*next);
           if (store_) store_->set_memory_budget(rt_->engine->memory_budget());
           for (const auto& key :
                api::reconfigure(router_.get(), server_.get(), api_settings_, rt_->config.server))
             log()->warn("reload: {} changed but needs a restart; the old value stays", key);
           done(core::ok_status());
         });
}

void Daemon::stop(std::chrono::milliseconds deadline, std::function<void()> done) {
  if (store_) store_->cancel_diffs();  // kills an API diff's child; nothing waits for it
  if (server_) server_->stop();
  if (!rt_) return asio::post(io_, std::move(done));
  retire(std::move(rt_), deadline, std::move(done));
}

engine::Status Daemon::snapshot() const {
  engine::Status s;
  if (rt_) s = rt_->engine->status();
  s.now = clock_.now();
  s.build = options_.build;
  if (rt_ && rt_->alerter) {
    for (const auto& st : rt_->alerter->dispatcher().stats()) {
      s.counters.alerts[{st.sink, "delivered"}] = st.delivered;
      s.counters.alerts[{st.sink, "rejected"}] = st.rejected;
      s.counters.alerts[{st.sink, "gave_up"}] = st.gave_up;
      s.counters.alerts[{st.sink, "dropped"}] = st.dropped;
      s.counters.alerts[{st.sink, "retried"}] = st.retries;
    }
  }
  return s;
}

std::optional<std::uint16_t> Daemon::api_port() const {
  if (!server_) return std::nullopt;
  return server_->port();
}

}  // namespace leakwatch::daemon
