#pragma once
// The Asio driver of the engine's Core (core.h): it polls the source on a timer, runs the captures
// and the diff child, writes the state, and feeds every result back to the Core with `now` from
// the injected clock; the Core decides, this carries the actions out. The full snapshot diff runs
// in a child process (diff_child.h) with its own memory and time limits, so the io thread never
// waits for it and stop() or a reload cancels it at once.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/event.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/engine/core.h"
#include "leakwatch/engine/diff_child.h"
#include "leakwatch/engine/state_store.h"
#include "leakwatch/engine/status.h"
#include "leakwatch/source/source.h"

namespace leakwatch::engine {

using AlertFn = std::function<void(alert::Event)>;

struct EngineOptions {
  // The diff child's command; "diff --json ..." is appended. The daemon's own binary.
  std::vector<std::string> diff_command{"/proc/self/exe"};
  std::chrono::milliseconds diff_time_limit{std::chrono::minutes(10)};
  // The archive to capture into and diff from; none: the Engine opens config.archive itself.
  std::shared_ptr<archive::Archive> archive;
  // Reads the memory figures instead of the source named by config.target (tests).
  std::unique_ptr<source::Source> source;
};

class Engine {
 public:
  Engine(boost::asio::io_context& io, config::Config config, const core::Clock& clock,
         AlertFn alert, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Builds the source, opens the archive (cleaning crash leftovers), restores persisted state and
  // starts polling. Errors here are startup errors (exit non-zero).
  core::Status start();
  // Stops polling and kills a running diff child at once; waits for an in-flight capture until
  // `deadline` (after which it is abandoned and its partial file removed), persists state, then
  // calls `done` on the io thread.
  void stop(std::chrono::milliseconds deadline, std::function<void()> done);

  // The Core's status with the source's description; the daemon adds alerts and build.
  Status status() const;
  const config::Config& config() const { return config_; }
  const std::shared_ptr<archive::Archive>& archive() const { return archive_; }
  std::uint64_t memory_budget() const { return memory_budget_; }
  // The running diff child's pid, if any (tests).
  std::optional<pid_t> diff_pid() const;

  // Called on the io thread with every capture once it is archived (the S3 uploader's queue).
  void set_on_archived(std::function<void(const archive::Metadata&)> f) {
    on_archived_ = std::move(f);
  }

 private:
  void schedule_poll(std::chrono::milliseconds delay);
  void poll();
  void run(Actions actions);
  void run(const Action& action);
  void persist();
  void start_capture(capture::CaptureRequest request);
  void request_diff(const std::string& base_id, const std::string& target_id);

  boost::asio::io_context& io_;
  config::Config config_;
  const core::Clock& clock_;
  AlertFn alert_;
  EngineOptions options_;
  std::uint64_t memory_budget_ = 0;
  Core core_;
  std::shared_ptr<ChildProcess> diff_child_;
  std::unique_ptr<source::Source> source_;
  std::shared_ptr<archive::Archive> archive_;
  std::unique_ptr<capture::Capturer> capturer_;
  StateStore store_;
  boost::asio::steady_timer poll_timer_;
  boost::asio::steady_timer stop_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool polling_ = false;
  std::function<void()> stopped_;
  std::function<void(const archive::Metadata&)> on_archived_;
};

}  // namespace leakwatch::engine
