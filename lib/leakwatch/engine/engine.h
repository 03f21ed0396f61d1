#pragma once
// The tick: sample → detector → (on suspicion) capture series → diff → alerts, on one io_context
// thread. CPU-heavy work (snapshot diffing) runs on a worker thread and posts its result back.
// The composition root (daemon/) builds the Engine from a validated Config and wires its alert
// output (`AlertFn`) to the alert dispatcher; the HTTP API reads `status()`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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
  std::string last_source_error;
  bool series_active = false;
  std::vector<std::string> series_ids;  // archive ids of the current/last series
  nlohmann::json last_diff;             // top growers of the last series diff (or null)
  bool capture_enabled = false;
};

using AlertFn = std::function<void(alert::Event)>;

class Engine {
 public:
  Engine(boost::asio::io_context& io, config::Config config, const core::Clock& clock,
         AlertFn alert);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Builds the source, opens the archive (cleaning crash leftovers), restores persisted state and
  // starts polling. Errors here are startup errors (exit non-zero).
  core::Status start();
  // Stops polling; waits for an in-flight capture until `deadline` (after which it is abandoned and
  // its partial file removed), persists state, then calls `done` on the io thread.
  void stop(std::chrono::milliseconds deadline, std::function<void()> done);

  EngineStatus status() const;
  const config::Config& config() const { return config_; }
  archive::Archive* archive() { return archive_.get(); }
  bool capture_in_flight() const { return capture_in_flight_; }

  // The persisted state as JSON (also written to state_dir periodically and at stop()).
  nlohmann::json save_state() const;
  core::Status persist();

  // Runs the heap snapshot diff of two archived captures on the worker thread; `done` runs on the
  // io thread. Used after a series and by the API.
  // Runs `job` on the worker thread (CPU-heavy work such as the API's diffs).
  void offload(std::function<void()> job);

  void diff_async(std::string base_id, std::string target_id,
                  std::function<void(core::Result<nlohmann::json>)> done);

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

  boost::asio::io_context& io_;
  config::Config config_;
  const core::Clock& clock_;
  AlertFn alert_;
  std::unique_ptr<source::Source> source_;
  std::unique_ptr<archive::Archive> archive_;
  std::unique_ptr<capture::Capturer> capturer_;
  detect::Detector detector_;
  capture::GuardRails guard_;
  capture::SeriesScheduler series_;
  StateStore store_;
  boost::asio::steady_timer poll_timer_;
  boost::asio::thread_pool worker_{1};
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
  int consecutive_errors_ = 0;
  bool source_down_ = false;
  std::string last_source_error_;
  std::vector<std::string> series_ids_;
  nlohmann::json last_diff_;
  std::function<void(const archive::Metadata&)> on_archived_;
};

}  // namespace leakwatch::engine
