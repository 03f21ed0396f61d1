#pragma once
// The guard rails of a capture and the scheduling of a capture series, as pure objects: they take
// `now` and the latest sample, do no I/O and read no clock, so every rule is tested with a manual
// clock. The daemon drives them; `leakwatch capture` uses the same GuardRails (seeded from the
// archive) so a manual capture obeys the same rules.
//
// Why it matters: writing a V8 heap snapshot blocks the app and needs about as much free memory
// again as the heap; a capture that pushes the container over its limit gets the app OOM-killed.
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <iosfwd>
#include <string_view>

#include "leakwatch/capture/settings.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::capture {

// The verdict of the guard rails. When `allowed` is false, `code` and `message` say why (for the
// log, the alert and the API); `retry_after` tells when a time-based rule lifts.
enum class Refusal : std::uint8_t {
  none,
  disabled,
  busy,
  cooldown,
  daily_cap,
  no_sample,
  headroom
};

// The names appear in logs, API bodies and alert dedupe keys ("capture_skipped:headroom").
std::string_view to_string(Refusal refusal);
std::ostream& operator<<(std::ostream& out, Refusal refusal);

struct Verdict {
  bool allowed = false;
  Refusal code = Refusal::none;  // none when allowed
  std::string message;
  // Set when the capture is allowed only because `force` overrode a failed headroom/no_sample
  // check: the caller must warn.
  std::string override_warning;
  std::optional<core::TimePoint> retry_after;
  // Headroom figures (0 when unknown): free room under the limit, and the room required.
  std::uint64_t free_bytes = 0;
  std::uint64_t required_bytes = 0;

  nlohmann::json to_json() const;
};

class GuardRails {
 public:
  explicit GuardRails(const CaptureSettings& settings);

  // May a capture start at `now`? `latest` is the most recent memory sample (none: unknown).
  // `force` overrides the headroom and no_sample rules only (never busy, cooldown or the daily
  // cap).
  Verdict check(core::TimePoint now, const std::optional<core::Sample>& latest,
                bool force = false) const;

  // The capture started (counts towards the cooldown and the daily cap, even if it fails).
  void started(core::TimePoint now);
  void finished(core::TimePoint now, bool success);
  // Every memory sample of the target. While a capture runs, the highest working set above the
  // one it started from is what writing that snapshot cost the app (Node 18 took a 150 MiB app to
  // 510 MiB); later captures need at least that much free room, whatever headroom_factor says.
  void observe(const core::Sample& sample);
  // The working-set growth the last successful capture caused (0: none measured yet).
  std::uint64_t measured_cost() const { return capture_cost_; }
  bool in_progress() const { return in_progress_; }
  // A capture known from elsewhere (the archive) that counts for cooldown and daily cap.
  void note_past_capture(core::TimePoint t);

  std::optional<core::TimePoint> last_start() const { return last_start_; }
  int attempts_last_24h(core::TimePoint now) const;

  // Counters for the daemon's persisted state: {"attempts": [unix...], "last_start":..,
  // "last_success":.., "last_failure":.., "capture_cost_bytes":..}. in_progress is not persisted (a
  // restart ends it).
  nlohmann::json to_json() const;
  core::Status load_json(const nlohmann::json& j);

 private:
  void trim(core::TimePoint now) const;

  CaptureSettings settings_;
  bool in_progress_ = false;
  mutable std::deque<core::TimePoint> attempts_;  // starts within the last 24h, oldest first
  std::optional<core::TimePoint> last_start_;
  std::optional<core::TimePoint> last_success_;
  std::optional<core::TimePoint> last_failure_;
  std::optional<std::uint64_t> last_working_set_;
  bool measuring_ = false;  // a capture runs and its starting working set is known
  std::uint64_t start_working_set_ = 0;
  std::uint64_t peak_working_set_ = 0;
  std::uint64_t capture_cost_ = 0;
};

// Required free room under the limit for a working set of `working_set` bytes.
std::uint64_t required_headroom(const CaptureSettings& s, std::uint64_t working_set);

// A series of `series_count` captures spaced `series_spacing` apart, started when a leak is
// suspected. Pure: the daemon asks `due(now)`, runs the guard rails and the capture, then reports
// the outcome with `record(...)`.
class SeriesScheduler {
 public:
  explicit SeriesScheduler(const CaptureSettings& settings);

  // Starts a series (no-op when one is active). `trigger` is recorded ("leak_suspected", ...).
  // Returns true when a new series started.
  bool start(core::TimePoint now, std::string trigger = "leak_suspected");
  bool active() const { return active_; }
  // When the next capture of the active series is due (none when idle).
  std::optional<core::TimePoint> next_due() const;
  bool due(core::TimePoint now) const { return active_ && now >= next_due_; }
  // 1-based index of the next capture, and the series length.
  int next_index() const { return done_ + 1; }
  int count() const { return count_; }
  const std::string& series_id() const { return id_; }
  const std::string& trigger() const { return trigger_; }

  // The outcome of the capture attempted for the series at `now`: success moves to the next
  // index (spaced by series_spacing); a skip or failure retries after series_retry, and the series
  // is abandoned after series_max_misses misses in a row.
  void record_success(core::TimePoint now);
  void record_miss(core::TimePoint now);
  // True once the last capture of the series succeeded; it then goes idle.
  bool complete() const { return completed_; }
  bool abandoned() const { return abandoned_; }
  int captured() const { return done_; }
  // Ends the active series (e.g. the target restarted: later snapshots would not diff with
  // earlier).
  void cancel();

  nlohmann::json to_json() const;
  core::Status load_json(const nlohmann::json& j);

 private:
  CaptureSettings settings_;
  bool active_ = false;
  bool completed_ = false;
  bool abandoned_ = false;
  int count_ = 0;
  int done_ = 0;
  int misses_ = 0;
  core::TimePoint next_due_{};
  std::string id_;
  std::string trigger_;
};

}  // namespace leakwatch::capture
