#pragma once
// The one status type: what the engine knows, as the HTTP API, the metrics and the dashboard show
// it. Plain values. The engine's Core fills the watch figures (Core::status), the daemon adds the
// alert counters and the build, the router the archive size.
//
// Sizes: `samples`, `floor` and `markers` are bounded by the Core; the status endpoint downsamples
// to what a client asks for (`max_points`).
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/identity.h"

namespace leakwatch::detect {
struct Decision;
}

namespace leakwatch::engine {

struct StatusSample {
  core::TimePoint time{};
  std::uint64_t usage_bytes = 0;
  std::uint64_t working_set_bytes = 0;
  std::optional<std::uint64_t> limit_bytes;
};

struct LinePoint {
  core::TimePoint time{};
  double bytes = 0;
};

struct DetectorView {
  std::string state = "learning";          // learning | ok | leak_suspected | oom_imminent
  std::optional<core::TimePoint> since;    // when the current state began
  std::string explanation;                 // one line, plain words
  double slope_bytes_per_hour = 0;         // floor slope (0 when none judged)
  std::optional<double> forecast_seconds;  // to the limit; none without a limit or a rise
  double confidence = 0;                   // 0..1
  double window_seconds = 0;               // the window the decision rests on
  std::uint64_t floor_bytes = 0;
  std::uint64_t peak_bytes = 0;
  int oom_kills = 0;  // OOM kills within the detector's cycle window
};

// Fills a DetectorView from the detector's last decision (state, explanation, slope, forecast...).
// `since` is not part of a Decision: the Core sets it when the state changes.
DetectorView detector_view(const detect::Decision& decision);

// The fitted floor over the decision's window (two points), and the peaks projected from the
// decision to the limit (two points); each empty when the decision has no such line.
std::vector<LinePoint> trend_line(const detect::Decision& decision);
std::vector<LinePoint> forecast_line(const detect::Decision& decision);

struct Marker {
  core::TimePoint time{};
  // "alert" | "capture" | "capture_skipped" | "capture_failed" | "oom_kill" | "restart"
  std::string kind;
  std::string label;        // plain words, e.g. "leak suspected", "snapshot 1/3"
  std::string snapshot_id;  // for captures: the archive id (may be empty)
};

struct Counters {
  std::map<std::string, std::uint64_t> captures;  // by result: "ok", "failed", "skipped"
  std::map<std::pair<std::string, std::string>, std::uint64_t> alerts;  // (sink, result)
  std::uint64_t source_errors = 0;
  std::uint64_t samples = 0;
  std::uint64_t oom_kills = 0;              // OOM kills of the target seen since start
  double capture_seconds_sum = 0;           // successful captures: total duration...
  std::uint64_t capture_seconds_count = 0;  // ...and how many
  std::uint64_t archive_written_bytes = 0;  // stored bytes of the snapshots archived since start
};

struct BuildInfo {
  std::string version;
  std::string revision;  // git commit, "" when unknown
  std::string compiler;
};

struct Status {
  std::string target;             // target.name
  std::string source;             // e.g. "cgroup v2 /sys/fs/cgroup/app.slice" (no secrets)
  core::TargetIdentity identity;  // where the target runs (the ECS task, or the host)
  core::TimePoint now{};          // when the status was taken
  core::TimePoint started_at{};
  std::optional<core::TimePoint> last_sample_at;

  std::vector<StatusSample> samples;  // oldest first
  std::vector<LinePoint> floor;       // extracted floor points, oldest first
  std::vector<LinePoint> trend;       // trend_line of the latest decision
  std::vector<LinePoint> forecast;    // forecast_line of the latest decision

  DetectorView detector;
  std::vector<Marker> markers;  // oldest first
  Counters counters;
  BuildInfo build;
  // The latest comparison's growers (class names, retainer paths): heap-derived, so /status shows
  // it only to a bearer of the token. Null when none.
  nlohmann::json heap_analysis;
  // The capture in flight, as the capturer reports it ({"active", "method", "phase", "bytes",
  // "fraction"}: V8's own progress for the inspector method, else null). Null when none runs.
  nlohmann::json capture;
  // Stored bytes of every snapshot in the archive (the router fills it from its store).
  std::optional<std::uint64_t> archive_bytes;

  // The latest sample, if any.
  const StatusSample* latest() const { return samples.empty() ? nullptr : &samples.back(); }
};

}  // namespace leakwatch::engine
