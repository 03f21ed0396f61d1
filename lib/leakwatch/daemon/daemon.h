#pragma once
// The daemon as one object: built from a validated Config, it wires the engine, the alerter, the
// S3 uploader and the HTTP API (status, metrics, dashboard, snapshots and diffs) over one Archive,
// reloads into a new configuration and stops with deadlines. `leakwatch run` (daemon/app.cpp)
// adds the signals and systemd; tests build it in-process.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "leakwatch/api/archive_store.h"
#include "leakwatch/api/router.h"
#include "leakwatch/api/state.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/engine/status.h"
#include "leakwatch/http/server.h"

namespace leakwatch::alert {
class Alerter;
}
namespace leakwatch::engine {
class Engine;
}
namespace leakwatch::s3 {
class Uploader;
}

namespace leakwatch::daemon {

struct DaemonOptions {
  engine::BuildInfo build;
  // The diff child's command (the daemon's own binary); "diff --json ..." is appended.
  std::vector<std::string> diff_command{"/proc/self/exe"};
};

class Daemon final : public api::StateProvider {
 public:
  Daemon(boost::asio::io_context& io, const core::Clock& clock, DaemonOptions options = {});
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Builds everything from `config` and starts watching and serving. Errors are startup errors.
  core::Status start(config::Config config);
  // Stops the running engine (waiting for its capture until the deadline), builds a new one from
  // `config` and carries on; `done` gets the outcome on the io thread. Settings only a restart can
  // change are logged and keep their old value.
  void reload(config::Config config, std::function<void(core::Status)> done);
  // Stops serving, kills a running API diff, stops the engine (its capture gets `deadline`), lets
  // pending alerts have their grace time, then calls `done` on the io thread.
  void stop(std::chrono::milliseconds deadline, std::function<void()> done);

  // The one status: the engine's, with the alert counters and the build.
  engine::Status snapshot() const override;
  // The API's port once start() succeeded with the server enabled.
  std::optional<std::uint16_t> api_port() const;
  // API jobs still running on the worker thread (a stop does not wait for them).
  int api_jobs() const { return api_jobs_.load(); }

 private:
  struct Runtime;
  core::Result<std::unique_ptr<Runtime>> build(config::Config config);
  // Where the target runs, resolved once (a reload that keeps the target reuses it) and passed as
  // it is to the alerts, the archive's metadata, the S3 keys, the status API and the metrics.
  const core::TargetIdentity& identity_for(const source::TargetSettings& target);
  core::Status start_api(const config::Config& config);
  void retire(std::unique_ptr<Runtime> old, std::chrono::milliseconds deadline,
              std::function<void()> then);

  boost::asio::io_context& io_;
  const core::Clock& clock_;
  DaemonOptions options_;
  boost::asio::thread_pool api_worker_{1};
  std::atomic<int> api_jobs_{0};
  std::shared_ptr<archive::Archive> archive_;  // the one Archive of archive.dir
  std::optional<std::pair<source::TargetSettings, core::TargetIdentity>> identity_;
  std::unique_ptr<Runtime> rt_;
  std::list<std::unique_ptr<Runtime>> retiring_;  // old runtimes finishing their stop
  std::unique_ptr<api::ArchiveSnapshotStore> store_;
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<http::Server> server_;
  config::ServerSettings api_settings_;  // what the API runs on (a reload updates it)
};

}  // namespace leakwatch::daemon
