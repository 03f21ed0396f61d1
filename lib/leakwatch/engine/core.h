#pragma once
// The engine's decisions, pure: samples, capture results and diff results go in with `now`, typed
// actions come out (emit an event, start a capture, request a diff, persist, ...). No I/O, no
// clock, no timers; the Engine (engine.h) is the Asio driver that reads the source, runs the
// captures and the diff child and carries the actions out. Tests feed it on a manual clock.
//
// What it decides: the source outage (kSourceDownAfter failed polls in a row) and its recovery;
// OOM kills and restarts seen in the samples; the detector's state changes and their alerts; the
// capture series (guard rails, misses, abandon); the series diff and its alert, with the growers
// of the capture-time histograms when the full diff is not available; when to persist; and a stop
// that waits for an in-flight capture until a deadline.
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "leakwatch/alert/event.h"
#include "leakwatch/archive/metadata.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/capture/policy.h"
#include "leakwatch/capture/settings.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"
#include "leakwatch/detect/detector.h"
#include "leakwatch/engine/diff_child.h"
#include "leakwatch/engine/status.h"

namespace leakwatch::engine {

inline constexpr int kSourceDownAfter = 3;  // consecutive failed polls before source_unavailable
inline constexpr std::chrono::seconds kPersistEvery{60};
inline constexpr std::size_t kMaxSamples = 4096;
inline constexpr std::size_t kMaxMarkers = 256;

// Send an alert event (and log it).
struct EmitEvent {
  alert::Event event;
};
// Take a heap snapshot for the series; answer with Core::on_capture_done.
struct StartCapture {
  capture::CaptureRequest request;
};
// Diff two archived snapshots in the diff child; answer with Core::on_diff_done.
struct RequestDiff {
  std::string base_id;
  std::string target_id;
};
// Write Core::save() to the state store.
struct Persist {};
// A capture was archived: apply retention and hand it to the uploader.
struct Archived {
  archive::Metadata metadata;
};
// Add the series diff to the archived metadata of `id`.
struct Annotate {
  std::string id;
  nlohmann::json analysis;
};
// Kill the running diff child (stop).
struct CancelDiff {};
// Abort the capture in flight and remove its partial file (the stop deadline passed).
struct AbandonCapture {};
// The stop is complete (after the final Persist).
struct Stopped {};

using Action = std::variant<EmitEvent, StartCapture, RequestDiff, Persist, Archived, Annotate,
                            CancelDiff, AbandonCapture, Stopped>;
using Actions = std::vector<Action>;

struct CoreSettings {
  std::string target;       // target.name
  std::string archive_dir;  // for the diff command proposed in alerts
  detect::DetectorSettings detection;
  capture::CaptureSettings capture;
  bool can_capture = false;  // a capturer and an archive exist
};

class Core {
 public:
  Core(CoreSettings settings, core::TimePoint now);

  // Restores what save() wrote; returns a warning per part that could not be restored.
  std::vector<std::string> restore(const nlohmann::json& state);
  nlohmann::json save() const;
  // Lets the Core fall back on the capture-time histograms of restored series snapshots.
  void note_archived(const archive::Metadata& m);

  Actions on_sample(core::Result<core::Sample> sample, core::TimePoint now);
  Actions on_capture_done(core::Result<archive::Metadata> result, core::TimePoint now);
  // A snapshot the app wrote itself near its heap limit (capture.watch_dir), archived by the
  // capturer; not part of a series and not counted by the guard rails.
  Actions on_watched_capture(core::Result<archive::Metadata> result, core::TimePoint now);
  Actions on_diff_done(core::Result<DiffOutcome> outcome, core::TimePoint now);
  // Starts a stop: waits for a capture in flight until `deadline` (the driver calls
  // on_stop_deadline then), else persists and stops at once.
  Actions stop(core::TimePoint now, core::TimePoint deadline);
  Actions on_stop_deadline(core::TimePoint now);

  Status status(core::TimePoint now) const;
  bool stopping() const { return stopping_; }
  bool capture_in_flight() const { return capture_in_flight_; }
  bool diff_pending() const { return diff_pending_.has_value(); }
  const std::vector<std::string>& series_ids() const { return series_ids_; }
  const capture::SeriesScheduler& series() const { return series_; }
  const detect::Detector& detector() const { return detector_; }

 private:
  void on_decision(const core::Sample& s, const detect::Decision& d, detect::State previous,
                   Actions& out);
  void maybe_capture(core::TimePoint now, Actions& out);
  void maybe_persist(core::TimePoint now, Actions& out);
  void finish_stop(Actions& out);
  alert::Event base_event(alert::EventType type, core::TimePoint t) const;
  void add_marker(core::TimePoint t, std::string kind, std::string label, std::string id = {});
  std::vector<alert::Grower> histogram_growers(const std::string& base_id,
                                               const std::string& target_id) const;

  CoreSettings settings_;
  detect::Detector detector_;
  capture::GuardRails guard_;
  capture::SeriesScheduler series_;

  core::TimePoint started_at_;
  core::TimePoint last_persist_;
  bool stopping_ = false;
  bool capture_in_flight_ = false;
  int capture_index_ = 0, capture_count_of_series_ = 0;
  std::optional<alert::Event> diff_pending_;  // the capture_completed event awaiting its diff

  std::optional<core::Sample> latest_;
  std::deque<StatusSample> samples_;
  std::deque<Marker> markers_;
  std::deque<LinePoint> floor_;
  std::optional<core::TimePoint> state_since_;
  Counters counters_;
  int consecutive_errors_ = 0;
  bool source_down_ = false;
  std::string last_source_error_;
  std::vector<std::string> series_ids_;
  std::map<std::string, nlohmann::json> histograms_;  // of the series' snapshots, by id
  nlohmann::json last_diff_;
};

}  // namespace leakwatch::engine
