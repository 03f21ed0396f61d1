#include "app.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <cstdlib>
#include <list>
#include <memory>

#include "commands.h"
#include "config_summary.h"
#include "leakwatch/alert/alerter.h"
#include "leakwatch/api/archive_store.h"
#include "leakwatch/api/router.h"
#include "leakwatch/api/state.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/log.h"
#include "leakwatch/engine/engine.h"
#include "leakwatch/engine/sd_notify.h"
#include "leakwatch/http/server.h"
#include "leakwatch/s3/uploader.h"

namespace leakwatch::cli {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<spdlog::logger> log() {
  return core::logger("daemon");
}

// The engine's status with the alert counters and the build, for the HTTP API.
class EngineState final : public api::StateProvider {
 public:
  EngineState(const engine::Engine*& engine, alert::Alerter*& alerter, const core::Clock& clock)
      : engine_(engine), alerter_(alerter), clock_(clock) {}

  engine::Status snapshot() const override {
    engine::Status a;
    if (engine_) a = engine_->status();
    a.now = clock_.now();
    a.build = {LEAKWATCH_VERSION, LEAKWATCH_GIT_REVISION, __VERSION__};
    if (alerter_) {
      for (const auto& s : alerter_->dispatcher().stats()) {
        a.counters.alerts[{s.sink, "delivered"}] = s.delivered;
        a.counters.alerts[{s.sink, "rejected"}] = s.rejected;
        a.counters.alerts[{s.sink, "gave_up"}] = s.gave_up;
        a.counters.alerts[{s.sink, "dropped"}] = s.dropped;
        a.counters.alerts[{s.sink, "retried"}] = s.retries;
      }
    }
    return a;
  }

 private:
  const engine::Engine*& engine_;
  alert::Alerter*& alerter_;
  const core::Clock& clock_;
};

struct Loaded {
  std::optional<config::Config> config;
  std::string origin;
};

Loaded load_config(const RunOptions& o) {
  config::LoadResult r;
  std::string origin;
  if (!o.config_file.empty()) {
    r = config::load_file(o.config_file);
    origin = o.config_file;
  } else if (const char* yaml = std::getenv("LEAKWATCH_CONFIG_YAML"); yaml && *yaml) {
    r = config::load_string(yaml, "$LEAKWATCH_CONFIG_YAML");
    origin = "$LEAKWATCH_CONFIG_YAML";
  } else {
    r = config::load_string(config::embedded_default_yaml(), "<embedded default>");
    origin = "<embedded default>";
  }
  if (report_config_problems(r) != kExitOk) return {std::nullopt, origin};
  if (o.listen_override) r.config->server.listen = *o.listen_override;
  if (o.log_format_override)
    r.config->log.format =
        *o.log_format_override == "json" ? core::LogFormat::json : core::LogFormat::text;
  return {std::move(r.config), origin};
}

void apply_logging(const config::Config& c) {
  core::LogOptions lo;
  lo.format = c.log.format;
  lo.level = spdlog::level::from_str(c.log.level);
  lo.async = true;
  core::init_logging(lo);
}

// Everything built from one configuration. A reload builds a new Runtime and retires the old one.
struct Runtime {
  config::Config config;
  std::unique_ptr<s3::Uploader> uploader;  // outlives the engine, which feeds it
  std::unique_ptr<alert::Alerter> alerter;
  std::unique_ptr<engine::Engine> engine;
};

}  // namespace

int run_daemon(const RunOptions& options) {
  auto loaded = load_config(options);
  if (!loaded.config) return kExitConfig;
  apply_logging(*loaded.config);
  log()->info("leakwatch 0.1.0 starting config={}", loaded.origin);

  asio::io_context io;
  // At exit a job still running is abandoned rather than joined (see the end of this function).
  asio::thread_pool api_worker(1);
  std::atomic<int> api_jobs{0};
  core::SystemClock clock;
  engine::SdNotifier notifier;
  int exit_code = kExitOk;

  std::unique_ptr<Runtime> rt;
  std::list<std::unique_ptr<Runtime>> retiring;  // old runtimes finishing their shutdown
  const engine::Engine* engine_view = nullptr;
  alert::Alerter* alerter_view = nullptr;
  EngineState state(engine_view, alerter_view, clock);

  auto build = [&](config::Config cfg) -> core::Result<std::unique_ptr<Runtime>> {
    auto r = std::make_unique<Runtime>();
    r->config = std::move(cfg);
    if (!r->config.alerts.empty()) {
      auto a = alert::Alerter::create(io, clock, r->config.alerts);
      if (!a.ok()) return a.error();
      r->alerter = std::move(*a);
      // Fleet receivers (Alertmanager) label alerts with the ECS task they come from.
      if (r->config.target.source == source::SourceKind::ecs &&
          !r->config.alerts.alertmanager.empty()) {
        std::string uri = r->config.target.ecs_metadata_uri;
        if (const char* env = std::getenv("ECS_CONTAINER_METADATA_URI_V4"); uri.empty() && env)
          uri = env;
        if (auto id = uri.empty() ? core::Result<s3::TaskIdentity>(core::make_error(
                                        "config", "ECS_CONTAINER_METADATA_URI_V4 is not set"))
                                  : s3::fetch_ecs_identity(uri);
            id.ok()) {
          r->alerter->set_task({id->cluster, id->task_id, id->task_arn,
                                id->revision.empty() ? id->family : id->family + ":" + id->revision,
                                r->config.target.ecs_container});
        } else {
          log()->warn("alerts carry no ECS task identity: {}", id.error().to_string());
        }
      }
    }
    alert::Alerter* alerter = r->alerter.get();
    r->engine = std::make_unique<engine::Engine>(io, r->config, clock, [alerter](alert::Event e) {
      log()->info("event type={} target={} \"{}\"", alert::to_string(e.type), e.target,
                  alert::headline(e));
      if (alerter) alerter->publish(std::move(e));
    });
    if (!r->config.archive.s3.bucket.empty()) {
      auto up = s3::make_archive_uploader(r->config.archive, r->config.state_dir);
      if (!up.ok()) return up.error();
      r->uploader = std::move(*up);
      r->engine->set_on_archived(
          [u = r->uploader.get()](const archive::Metadata& m) { u->enqueue(m); });
    }
    if (auto st = r->engine->start(); !st.ok()) return st.error();
    return r;
  };

  auto first = build(*loaded.config);
  if (!first.ok()) {
    log()->error("cannot start: {}", first.error().to_string());
    return kExitFailure;
  }
  rt = std::move(*first);
  engine_view = rt->engine.get();
  alerter_view = rt->alerter.get();

  // HTTP API, metrics and dashboard.
  std::unique_ptr<api::ArchiveSnapshotStore> store;
  std::unique_ptr<api::Router> router;
  std::unique_ptr<http::Server> server;
  auto api_settings = rt->config.server;  // what the API runs on (a reload updates it)
  if (rt->config.server.enabled) {
    if (!rt->config.archive.dir.empty()) {
      // The API's diffs run in a child under the same memory budget as the series diff: the
      // daemon never parses a snapshot, and stop or reload kills the child without waiting.
      api::ChildDiffSettings child;
      child.io = &io;
      child.memory_budget = rt->engine->memory_budget();
      store = std::make_unique<api::ArchiveSnapshotStore>(rt->config.archive,
                                                          rt->config.target.name, child);
    }
    auto ropts = api::router_options(rt->config.server);
    // Stores that diff in-process would run their diffs on one worker thread that outlives
    // reloads, so a reload never waits for one. A job that throws is logged; nothing escapes into
    // the pool.
    ropts.offload = [&api_worker, &api_jobs](std::function<void()> job) {
      ++api_jobs;
      asio::post(api_worker, [job = std::move(job), &api_jobs]() {
        try {
          job();
        } catch (const std::exception& e) {
          log()->error("api job failed: {}", e.what());
        } catch (...) {
          log()->error("api job failed with an unknown exception");
        }
        --api_jobs;
      });
    };
    router = std::make_unique<api::Router>(std::move(ropts), state, store.get());
    auto sopts = api::server_options(rt->config.server);
    if (!sopts.ok()) {
      log()->error("cannot start the API: {}", sopts.error().message);
      return kExitConfig;
    }
    server = std::make_unique<http::Server>(
        io, *sopts, [&router](const http::ServerRequest& req, http::Responder respond) {
          router->handle(req, std::move(respond));
        });
    if (auto st = server->start(); !st.ok()) {
      log()->error("cannot start the API: {}", st.error().message);
      return kExitFailure;
    }
    log()->info("api listening on {}:{} (dashboard at http://{}:{}/)", sopts->address,
                server->port(), sopts->address, server->port());
  }

  // systemd: ready, and the watchdog while the io loop runs.
  notifier.ready();
  notifier.status("watching " + rt->config.target.name);
  asio::steady_timer watchdog(io);
  std::function<void()> arm_watchdog;
  if (auto every = notifier.watchdog_interval()) {
    arm_watchdog = [&, every = *every]() {
      watchdog.expires_after(every);
      watchdog.async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        notifier.watchdog();
        arm_watchdog();
      });
    };
    arm_watchdog();
  }

  bool stopping = false;
  bool reloading = false;
  auto retire = [&](std::unique_ptr<Runtime> old, std::chrono::milliseconds deadline,
                    std::function<void()> then) {
    Runtime* raw = old.get();
    retiring.push_back(std::move(old));
    raw->engine->stop(deadline, [&, raw, then]() {
      auto finish = [&, raw, then]() {
        retiring.remove_if([raw](const auto& p) { return p.get() == raw; });
        if (then) then();
      };
      if (raw->alerter)
        raw->alerter->shutdown([&io, finish]() { asio::post(io, finish); });
      else
        asio::post(io, finish);
    });
  };

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&]() {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (stopping || reloading) {
          log()->warn("SIGHUP ignored: {} in progress", stopping ? "shutdown" : "reload");
        } else if (options.config_file.empty()) {
          log()->warn("SIGHUP ignored: no configuration file to reload (started without --config)");
        } else {
          log()->info("SIGHUP: reloading {}", options.config_file);
          auto r = config::load_file(options.config_file);
          if (!r.config) {
            for (const auto& p : r.problems)
              log()->error("reload rejected: {}", p.to_string());
            log()->error(
                "reload rejected: {} problem(s); still running on the previous configuration",
                r.problems.size());
          } else {
            reloading = true;
            notifier.reloading();
            auto cfg = std::move(*r.config);
            apply_logging(cfg);
            // The budget may change: a running API diff is cancelled (its client may retry).
            if (store) store->cancel_diffs();
            // Persist first, so the new engine resumes exactly where the old one stopped.
            auto old = std::move(rt);
            engine_view = nullptr;
            alerter_view = nullptr;
            retire(std::move(old), 60s, [&, cfg]() mutable {
              auto next = build(cfg);
              if (!next.ok()) {
                log()->error("reload failed: {}; stopping", next.error().to_string());
                exit_code = kExitFailure;
                io.stop();
                return;
              }
              rt = std::move(*next);
              if (store) store->set_memory_budget(rt->engine->memory_budget());
              engine_view = rt->engine.get();
              alerter_view = rt->alerter.get();
              reloading = false;
              notifier.ready();
              for (const auto& key :
                   api::reconfigure(router.get(), server.get(), api_settings, rt->config.server))
                log()->warn("reload: {} changed but needs a restart; the old value stays", key);
              log()->info("configuration reloaded");
            });
          }
        }
        wait_signal();
        return;
      }
      if (stopping) {
        log()->warn("second stop signal: exiting now");
        std::_Exit(kExitFailure);
      }
      stopping = true;
      log()->info(
          "signal {}: stopping (an in-flight capture gets up to 20s; pending alerts get their "
          "grace time)",
          sig == SIGTERM ? "SIGTERM" : "SIGINT");
      notifier.stopping();
      watchdog.cancel();
      if (store) store->cancel_diffs();  // kills an API diff's child; nothing waits for it
      if (server) server->stop();
      if (rt) {
        engine_view = nullptr;
        alerter_view = nullptr;
        retire(std::move(rt), 20s, [&]() { io.stop(); });
      } else {
        io.stop();
      }
      wait_signal();
    });
  };
  wait_signal();

  io.run();
  log()->info("leakwatch stopped");
  if (api_jobs.load() > 0) {
    // An API diff is still parsing: stopping must not wait for it. Its thread dies with the
    // process; everything else is already persisted and flushed.
    log()->warn("an API diff is still running: not waiting for it");
    spdlog::shutdown();
    std::_Exit(exit_code);
  }
  spdlog::shutdown();
  return exit_code;
}

}  // namespace leakwatch::cli
