#pragma once
// The tick: sample → detector → (on suspicion) capture series → diff → alerts, on one io_context
// thread. The full snapshot diff runs in a child process (diff_child.h) with its own memory and
// time limits, so the io thread never waits for it and stop() or a reload cancels it at once.
// The composition root (daemon/) builds the Engine from a validated Config and wires its alert
// output (`AlertFn`) to the alert dispatcher; the HTTP API reads `status()`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/event.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/capture/policy.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/detect/detector.h"
#include "leakwatch/engine/diff_child.h"
#include "leakwatch/engine/state_store.h"
#include "leakwatch/source/source.h"

namespace leakwatch::engine {

struct SamplePoint {
  double t = 0;  // unix seconds
  std::uint64_t usage = 0;
  std::uint64_t working_set = 0;
  std::optional<std::uint64_t> limit;
};

struct Marker {
  double t = 0;
  std::string
      kind;  // "alert", "capture", "capture_skipped", "capture_failed", "oom_kill", "restart"
  std::string label;  // short human text
};

// A consistent copy of what the engine knows, for the API, metrics and dashboard.
struct EngineStatus {
  std::string target;
  std::string source;  // the source's description
  double started_at = 0;
  std::optional<core::Sample> latest;
  detect::Decision decision;
  std::vector<SamplePoint> samples;              // recent samples, oldest first (bounded)
  std::vector<Marker> markers;                   // recent events, oldest first (bounded)
  std::vector<std::pair<double, double>> floor;  // (unix seconds, floor bytes) per sample (bounded)
  std::optional<double> state_since;             // when the detector entered its current state
  std::map<std::string, std::uint64_t> captures;  // by result: ok, skipped, failed
  std::uint64_t samples_total = 0;
  std::uint64_t source_errors = 0;
  // Since this engine started (Prometheus counters): OOM kills seen, successful captures' total
  // duration and count, stored bytes archived.
  std::uint64_t oom_kills = 0;
  double capture_seconds_sum = 0;
  std::uint64_t capture_count = 0;
  std::uint64_t archive_written_bytes = 0;
  std::string last_source_error;
  bool series_active = false;
  std::vector<std::string> series_ids;  // archive ids of the current/last series
  nlohmann::json last_diff;             // top growers of the last series diff (or null)
  bool capture_enabled = false;
  nlohmann::json capture;  // the capture in flight (capture::CaptureProgress), null when none
};

using AlertFn = std::function<void(alert::Event)>;

struct EngineOptions {
  // The diff child's command; "diff --json BASE TARGET" is appended. The daemon's own binary.
  std::vector<std::string> diff_command{"/proc/self/exe"};
  std::chrono::milliseconds diff_time_limit{std::chrono::minutes(10)};
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

  EngineStatus status() const;
  const config::Config& config() const { return config_; }
  archive::Archive* archive() { return archive_.get(); }
  std::uint64_t memory_budget() const { return memory_budget_; }
  // The running diff child's pid, if any (tests).
  std::optional<pid_t> diff_pid() const;

  // The persisted state as JSON (also written to state_dir periodically and at stop()).
  nlohmann::json save_state() const;
  core::Status persist();

  // Diffs two archived captures in the diff child when the prediction fits the memory budget;
  // `done` runs on the io thread. Errors: "disabled", "not_found", "over_budget" (the message says
  // what it needs and the command to run elsewhere), "busy" (a diff is running), and the child's
  // (diff_child.h). One diff at a time: a second request while one runs gets "busy".
  void diff_async(std::string base_id, std::string target_id,
                  std::function<void(core::Result<DiffOutcome>)> done);
  // The command that runs the same diff by hand (e.g. on a bigger machine).
  std::string diff_command_line(const std::string& base_id, const std::string& target_id) const;

  // Called on the io thread with every capture once it is archived (the S3 uploader's queue).
  void set_on_archived(std::function<void(const archive::Metadata&)> f) {
    on_archived_ = std::move(f);
  }

 private:
  void schedule_poll(std::chrono::milliseconds delay);
  void poll();
  void on_sample(core::Result<core::Sample> r);
  void on_decision(const core::Sample& s, const detect::Decision& d, detect::State previous);
  void maybe_capture(core::TimePoint now);
  void on_capture_done(core::Result<archive::Metadata> r, int index, int count);
  void emit(alert::Event e);
  alert::Event base_event(alert::EventType type, core::TimePoint t) const;
  void add_marker(core::TimePoint t, std::string kind, std::string label);
  void restore_state();
  void on_series_diff(alert::Event e, core::Result<DiffOutcome> d);
  // Top growers by self size from the histograms taken at capture time (no retainer paths).
  std::vector<alert::Grower> histogram_growers(const std::string& base_id,
                                               const std::string& target_id) const;

  boost::asio::io_context& io_;
  config::Config config_;
  const core::Clock& clock_;
  AlertFn alert_;
  EngineOptions options_;
  std::uint64_t memory_budget_ = 0;
  std::shared_ptr<ChildProcess> diff_child_;
  std::unique_ptr<source::Source> source_;
  std::unique_ptr<archive::Archive> archive_;
  std::unique_ptr<capture::Capturer> capturer_;
  detect::Detector detector_;
  capture::GuardRails guard_;
  capture::SeriesScheduler series_;
  StateStore store_;
  boost::asio::steady_timer poll_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  bool stopping_ = false;
  bool polling_ = false;
  bool capture_in_flight_ = false;
  std::function<void()> capture_finished_hook_;
  core::TimePoint started_at_{};
  core::TimePoint last_persist_{};
  std::optional<core::Sample> latest_;
  std::deque<SamplePoint> samples_;
  std::deque<Marker> markers_;
  std::deque<std::pair<double, double>> floor_;
  std::optional<double> state_since_;
  std::map<std::string, std::uint64_t> captures_;
  std::uint64_t samples_total_ = 0;
  std::uint64_t source_errors_ = 0;
  std::uint64_t oom_kills_ = 0;
  double capture_seconds_sum_ = 0;
  std::uint64_t capture_count_ = 0;
  std::uint64_t archive_written_bytes_ = 0;
  int consecutive_errors_ = 0;
  bool source_down_ = false;
  std::string last_source_error_;
  std::vector<std::string> series_ids_;
  nlohmann::json last_diff_;
  std::function<void(const archive::Metadata&)> on_archived_;
};

}  // namespace leakwatch::engine
