#pragma once
// The leak detector: pure (no I/O, no clock reads); time comes from the samples and the `now`
// passed to note_capture. Fed one sample at a time, it keeps a bounded, aggregated history (minute
// buckets for the last hours, coarser buckets for the last days) and judges the trend of the memory
// *floor* (the post-GC minimum) over windows from `min_window` to `max_window`. See
// docs/detection.md.
#include <cstdint>
#include <deque>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"
#include "leakwatch/detect/settings.h"

namespace leakwatch::detect {

enum class State {
  learning,        // not enough history yet (after start or a restart)
  ok,              // no rise that amounts to a leak
  leak_suspected,  // the floor keeps rising (or repeated OOM kills)
  oom_imminent,    // a suspected leak forecast to reach the limit within oom_imminent_horizon
};

const char* to_string(State s);
std::optional<State> state_from_string(const std::string& s);

// What the detector concluded after a sample, and why.
struct Decision {
  core::TimePoint time{};
  State state = State::learning;
  bool changed = false;  // state differs from the previous decision
  // Floor slope in bytes/hour over `window` (0 when no window could be judged).
  double slope_bytes_per_hour = 0;
  // Seconds until the peaks reach the limit at the current slope; none without a limit or a rise.
  std::optional<double> forecast_seconds;
  double confidence = 0;          // 0..1
  std::chrono::seconds window{};  // the window the decision rests on (0 = none)
  std::uint64_t floor_bytes = 0;  // current floor estimate (capture-corrected)
  std::uint64_t peak_bytes = 0;   // current peak estimate (capture-corrected)
  std::optional<std::uint64_t> limit_bytes;
  int oom_kills = 0;  // OOM kills seen within oom_cycle_window
  int restarts = 0;   // restarts (incl. OOM kills) seen since the detector started
  // This sample began a new incarnation of the target (a restart or an OOM kill was seen here).
  bool restarted = false;
  bool oom_kill = false;    // ...and it was an OOM kill
  std::string explanation;  // one line, e.g. "floor rising 38 MiB/h for 3h; limit in ~2h 10m"

  nlohmann::json to_json() const;  // {"t", "state", "slope_bytes_per_hour", ...}
};

class Detector {
 public:
  explicit Detector(DetectorSettings settings = {});

  // Feed the next sample. Samples older than the previous one are ignored (the previous decision is
  // returned, changed=false).
  Decision observe(const core::Sample& sample);
  // A heap snapshot was taken at `t`: ignore the next `capture_settle` and subtract the lasting
  // jump.
  void note_capture(core::TimePoint t);

  const Decision& last() const { return last_; }
  const DetectorSettings& settings() const { return settings_; }

  nlohmann::json save() const;
  static core::Result<Detector> restore(const nlohmann::json& state, DetectorSettings settings);

  struct Bucket {
    std::int64_t start = 0;  // unix seconds, multiple of the bucket length
    double min = 0;
    double max = 0;
    std::uint32_t count = 0;
  };

 private:
  struct WindowEval {
    bool valid = false;
    bool rising = false;
    double slope = 0;  // bytes per second
    double r2 = 0;
    double floor_now = 0;
    double peak_now = 0;
    double rise = 0;         // last segment floor - first segment floor
    double start_floor = 0;  // first segment floor
  };

  void start_epoch(std::int64_t t);
  void add_point(std::int64_t t, double value);
  void close_bucket();
  std::int64_t close_fast();  // closes the open fast bucket; returns its end
  // `all`: every window is due for judging (a bucket closed); otherwise only the fast windows are
  // (a fast bucket closed), and the decision changes only if one of them alerts.
  void evaluate(std::int64_t now, bool all = true);
  bool is_fast(std::size_t j) const { return windows_[j] < settings_.min_window.count(); }
  // The buckets a window is judged on: the fast tier for a fast window when there is one, else
  // the fine tier (windows up to kFineSpan; longer ones use the coarse tier in eval_window).
  bool on_fast_tier(std::int64_t window) const {
    return fast_bucket_ > 0 && window < settings_.min_window.count();
  }
  std::int64_t bucket_len(std::int64_t window) const {
    return on_fast_tier(window) ? fast_bucket_ : settings_.bucket.count();
  }
  const std::deque<Bucket>& tier(std::int64_t window) const {
    return on_fast_tier(window) ? fast_ : fine_;
  }
  // `span` > 0: each segment's floor is the lowest point over `span` before its end, back to the
  // last full collection (see cycle_span).
  WindowEval eval_window(std::int64_t now, std::int64_t window, std::int64_t span) const;
  // The look-back for per-cycle floors in a window (0 = the segments' own floors).
  std::int64_t cycle_span(std::int64_t window) const;
  // How long window j's rise must hold before it counts (W/6, at least one bucket).
  std::int64_t hold(std::size_t j) const;
  // A bucket minimum this far below the previous one is a full collection.
  bool is_collection(double before, double after) const;
  bool counts(std::size_t window) const;  // may window `window` be evidence now?
  // The floors after the last full collections rose, each above the one before, by min_rise_bytes /
  // min_rise_fraction in all (over up to three cycles).
  bool troughs_rose() const;
  // The smallest rise a window or the troughs must show: min_rise_fraction of the limit (of
  // `floor` without one), at least min_rise_bytes.
  double min_rise(double floor) const;
  bool window_has_gap(std::int64_t from, std::int64_t to) const;
  void register_oom(std::int64_t t);

  DetectorSettings settings_;
  Decision last_;
  // History since the current epoch (start or last restart): fine and coarse tiers.
  std::deque<Bucket> fine_;
  std::deque<Bucket> coarse_;
  std::optional<Bucket> open_;         // fine bucket being filled
  std::optional<Bucket> coarse_open_;  // coarse bucket being filled
  // The fast windows' own tier: buckets of fast_window / segments (a divisor of the bucket length,
  // at least 10 s), kept as long as the fine tier (per-cycle floors look back one longest climb).
  // Not saved: after a restore the fast windows wait for new data.
  std::int64_t fast_bucket_ = 0;  // 0 = no fast windows
  std::deque<Bucket> fast_;
  std::optional<Bucket> fast_open_;
  std::int64_t epoch_start_ = 0;
  bool started_ = false;
  double last_t_ = 0;  // unix seconds of the last accepted sample
  double last_value_ = 0;
  double recent_peak_ = 0;  // max over the last few samples (for crash detection)
  std::int64_t recent_peak_t_ = 0;
  std::optional<std::uint64_t> limit_;
  std::optional<std::uint64_t> last_oom_count_;
  std::string instance_;
  std::deque<std::int64_t> oom_times_;
  int restarts_ = 0;
  std::deque<std::pair<std::int64_t, std::int64_t>> gaps_;
  // Capture handling.
  double offset_ = 0;  // bytes subtracted from samples (lasting capture jumps)
  std::optional<std::int64_t> capture_at_;
  double capture_pre_floor_ = 0;
  bool capture_measuring_ = false;
  double post_capture_min_ = std::numeric_limits<double>::infinity();
  bool evaluated_ = false;  // the current observe() closed a bucket and re-evaluated
  // Per-window evidence: since when the window has shown a rise (0 = not rising).
  std::vector<std::int64_t> windows_;
  std::vector<std::int64_t> rising_since_;
  std::vector<std::int64_t> last_rising_;  // the last evaluation that found the rise
  std::vector<std::int64_t> next_eval_;
  std::vector<WindowEval> evals_;
  std::int64_t last_rise_seen_ = 0;
  // Pinned at the limit without an OOM kill (see DetectorSettings::pinned_fraction).
  std::optional<std::uint64_t> last_hit_count_;
  std::int64_t pinned_since_ = -1;  // start of the current pinned run (-1 = none)
  std::int64_t last_pinned_t_ = -1;
  std::int64_t pinned_total_ = 0;  // seconds pinned in this epoch, all runs together
  bool cache_bound_ = false;       // pinned for pinned_after in this epoch without a kill
  bool pinned_hold_ = false;       // the last evaluation held back an alert because of it
  bool bucket_hit_ = false;        // the limit-hit counter rose during the open bucket
  // Full collections (see DetectorSettings::full_gc_drop_fraction).
  std::int64_t last_drop_t_ = 0;  // end of the previous climb (epoch start before the first)
  std::int64_t tooth_ = 0;        // longest climb between two collections in this epoch (s)
  // tooth_, or the climb since the last collection while it has not passed collection_peak_
  // (set by evaluate).
  std::int64_t climb_ = 0;
  // The floors after the last few collections in this epoch, oldest first: a rise over up to
  // three cycles.
  static constexpr std::size_t kTroughs = 4;
  std::deque<double> troughs_seen_;
  double last_collection_drop_ = 0;  // how far the last collection took the floor down
  double collection_peak_ = 0;       // the highest point a collection in this epoch fell from
  // Restarts without an OOM kill that ended a held rise: a runtime's own heap limit (V8's
  // --max-old-space-size, the JVM's -Xmx) ends a leaking process below the container's limit, so
  // no kill is ever counted, and each new epoch is too short for a window to alert.
  struct ClimbDeath {
    std::int64_t t = 0;
    double height = 0;  // the epoch's peak
    double climb = 0;   // the epoch's peak above its lowest point
    double age = 0;     // how long the epoch lasted (s)
  };
  double epoch_peak_ = 0;  // highest tracked value in this epoch
  // The last sample within crash_drop_fraction of the recent peak (-1 = not known): a death's
  // fall, and the emptied group sampled until the restart, come after it.
  std::int64_t alive_t_ = -1;
  double epoch_low_ = std::numeric_limits<double>::infinity();  // lowest one
  std::int64_t rise_held_t_ = -1;  // the last evaluation, this epoch, at which a rise had held
  // Consecutive incarnations only: any other restart clears it.
  std::deque<ClimbDeath> climb_deaths_;
  // How many of the latest climb_deaths_ in a row (evaluate drops those older than
  // oom_cycle_window) came after the same climb, at the same age, to the same height as the last.
  int climb_cycle() const;
  // The epoch's floor still climbed at its end as in the middle (see level_off_ratio).
  bool climbed_to_the_end() const;
  std::int64_t alive_time() const {  // alive_t_, or the last sample when not known
    return alive_t_ >= 0 ? alive_t_ : static_cast<std::int64_t>(last_t_);
  }
  bool leak_ = false;
  std::string leak_reason_;
};

}  // namespace leakwatch::detect
