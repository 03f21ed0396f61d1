#include "app.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdlib>
#include <memory>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/log.h"
#include "leakwatch/daemon/daemon.h"
#include "leakwatch/engine/sd_notify.h"

namespace leakwatch::cli {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<spdlog::logger> log() {
  return core::logger("daemon");
}

struct Loaded {
  std::optional<config::Config> config;
  std::string origin;
};

Loaded load_config(const RunOptions& o) {
  std::string origin;
  auto r = *read_config(o.config_file, true, origin);
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

}  // namespace

int run_daemon(const RunOptions& options) {
  auto loaded = load_config(options);
  if (!loaded.config) return kExitConfig;
  apply_logging(*loaded.config);
  log()->info("leakwatch {} starting config={}", LEAKWATCH_VERSION, loaded.origin);

  asio::io_context io;
  core::SystemClock clock;
  engine::SdNotifier notifier;
  int exit_code = kExitOk;
  daemon::DaemonOptions dopts;
  dopts.build = {LEAKWATCH_VERSION, LEAKWATCH_GIT_REVISION, __VERSION__};
  daemon::Daemon d(io, clock, dopts);
  const std::string target = loaded.config->target.name;
  if (auto st = d.start(std::move(*loaded.config)); !st.ok()) {
    log()->error("cannot start: {}", st.error().to_string());
    return st.error().code == core::Errc::invalid_listen ? kExitConfig : kExitFailure;
  }

  // systemd: ready, and the watchdog while the io loop runs.
  notifier.ready();
  notifier.status("watching " + target);
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
  auto reload = [&]() {
    log()->info("SIGHUP: reloading {}", options.config_file);
    auto r = config::load_file(options.config_file);
    if (!r.config) {
      for (const auto& p : r.problems)
        log()->error("reload rejected: {}", p.to_string());
      log()->error("reload rejected: {} problem(s); still running on the previous configuration",
                   r.problems.size());
      return;
    }
    reloading = true;
    notifier.reloading();
    apply_logging(*r.config);
    d.reload(std::move(*r.config), [&](core::Status st) {
      if (!st.ok()) {
        log()->error("reload failed: {}; stopping", st.error().to_string());
        exit_code = kExitFailure;
        io.stop();
        return;
      }
      reloading = false;
      notifier.ready();
      log()->info("configuration reloaded");
    });
  };

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&]() {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (stopping || reloading)
          log()->warn("SIGHUP ignored: {} in progress", stopping ? "shutdown" : "reload");
        else if (options.config_file.empty())
          log()->warn("SIGHUP ignored: no configuration file to reload (started without --config)");
        else
          reload();
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
      d.stop(20s, [&]() { io.stop(); });
      wait_signal();
    });
  };
  wait_signal();

  io.run();
  log()->info("leakwatch stopped");
  if (d.api_jobs() > 0) {
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
