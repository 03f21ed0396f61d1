#pragma once
// The detector's tunables. The defaults below are the recommended ones: they are what users get
// when the `detection:` section of the YAML config is empty. YAML keys are the field names
// (snake_case); durations are written "15m", "24h"; sizes "8Mi"; fractions "0.04" or "4%".
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace leakwatch::detect {

struct DetectorSettings {
  // Samples are aggregated into buckets of this length (min, max, count). Trend tests run on bucket
  // floors, so this bounds the detector's time resolution. Seconds; 10s..10m.
  std::chrono::seconds bucket{60};
  // Shortest window a trend is judged on (also the learning period after start or restart).
  std::chrono::seconds min_window{std::chrono::minutes(15)};
  // Longest window a trend is judged on (the detector keeps about this much aggregated history).
  std::chrono::seconds max_window{std::chrono::hours(48)};
  // A floor rise sustained over a window at least this long is a leak even when the limit is far
  // away or unknown. Shorter windows only alert when the forecast reaches the limit within
  // `forecast_factor` x window. Must cover a daily traffic cycle to tell a leak from a diurnal
  // swing.
  std::chrono::seconds confirm_window{std::chrono::hours(24)};
  // Each window is cut into this many segments; the floor of a segment is its lowest bucket
  // minimum.
  int segments = 6;
  // A rise must be at least this fraction of the limit (or of the floor level when there is
  // none)...
  double min_rise_fraction = 0.04;
  // ...and at least this many bytes, over the window.
  std::uint64_t min_rise_bytes = 8ull << 20;
  // Minimum R^2 of a straight line through the segment floors (a leak climbs steadily).
  double min_linearity = 0.8;
  // Growth that slows down (warm-up, a cache filling up): the floor slope over the last part of the
  // window must be at least this fraction of the slope over the first part.
  double level_off_ratio = 0.5;
  // At most this fraction of the window's rise may come from one segment to the next (one step
  // after a deploy is a re-baseline, not a leak).
  double max_step_share = 0.6;
  // Short windows alert only when the peaks are forecast to reach the limit within this many
  // window lengths (0.25: a traffic burst or the climb of a rare-full-GC sawtooth rarely comes that
  // close to the limit; a leak does, well before the kill).
  double forecast_factor = 0.25;
  // The same for the fast windows (fast_window): a fast leak needs its lead time more.
  double fast_forecast_factor = 0.5;
  // A window of at least 2 x min_window whose floor grew by this fraction of its starting level
  // (1.0 = the floor doubled) is a leak (this is how leaks are caught without a limit; with a
  // limit, the peaks must also be forecast to reach it within 2 window lengths).
  double growth_fraction = 0.75;
  // While a leak is suspected, a forecast time to the limit at or below this is `oom_imminent`.
  std::chrono::seconds oom_imminent_horizon{std::chrono::minutes(15)};
  // Without an OOM-kill counter, a crash (drop by `crash_drop_fraction` of usage) right after a
  // peak at or above this fraction of the limit is counted as an OOM kill.
  double oom_peak_fraction = 0.9;
  // A climb that ends in a restart is also judged up to the last sample within this fraction of
  // the recent peak (the emptied group may be sampled until the restart).
  double crash_drop_fraction = 0.4;
  // This many OOM kills within `oom_cycle_window` are a leak (climb, kill, restart, climb again).
  // As many restarts without a kill in a row are one too, when each ended a held rise at the same
  // height, after the same climb and at the same age, and the floor climbed to the end (a runtime
  // heap limit ends the process below the container's limit).
  int oom_cycles = 2;
  std::chrono::seconds oom_cycle_window{std::chrono::hours(24 * 7)};
  // After a heap snapshot capture, samples are ignored for this long and the lasting jump the
  // capture left (the floor after minus the floor before, if positive) is subtracted from later
  // samples.
  std::chrono::seconds capture_settle{std::chrono::minutes(5)};
  // A suspected leak goes back to `ok` when no window has shown a rise for this long.
  std::chrono::seconds clear_after{std::chrono::hours(2)};
  // Samples further apart than this are a gap: the windows spanning it need fresh data. Below it,
  // an outage costs only the segments it leaves without data (a window with an empty segment is
  // not judged): the floors on either side are the same process's, or a restart began a new
  // epoch. The default is the longest window's length.
  std::chrono::seconds max_gap{std::chrono::hours(48)};
  // Fast leaks: windows shorter than min_window, from this length up (doubling), are judged from
  // the start of an epoch, learning or not. A rise they see alerts when the peaks are forecast to
  // reach the limit within fast_forecast_factor x the window (always sooner than min_window): a
  // leak that kills the container before the learning window is over is the one that matters
  // most. The fast windows have their own buckets, one per segment of the shortest: the largest
  // divisor of `bucket` up to fast_window / segments, at least 10 s (with the defaults, the
  // buckets themselves; 30 s for 3m); a fast window needs at least 3 samples in its last one. 0 =
  // off; raised to `segments` fast buckets when shorter; no fast window when it is not shorter than
  // min_window.
  std::chrono::seconds fast_window{std::chrono::minutes(6)};
  // The tracked memory at or above this fraction of the limit (or past oom_peak_fraction while the
  // kernel's limit-hit counter rises) with no OOM kill is "pinned": the kernel is reclaiming page
  // cache, and a rise that reached the limit this way is no leak. No trend alert fires while
  // pinned; after `pinned_after` pinned in all (this epoch, one run or several) without a kill,
  // the limit forecast stops counting as evidence for the rest of the epoch (only growth_fraction
  // and confirm_window can alert).
  double pinned_fraction = 0.97;
  std::chrono::seconds pinned_after{std::chrono::minutes(5)};
  // A fall of the floor by at least this fraction from one bucket to the next, without a restart,
  // ends a climb: a full garbage collection (after one, so does a fall at least half as large as
  // the last collection's). Once one is seen, a window only alerts when each of its segments is at
  // least as long as the longest climb between collections, so that every segment floor is a
  // post-collection floor (runtimes with rare full GCs climb for minutes to hours between them),
  // or when the floors after the collections (the lowest point since the last collection, per
  // segment) rise as well. 0 = off.
  double full_gc_drop_fraction = 0.2;

  bool operator==(const DetectorSettings&) const = default;
};

// Human-readable problems with the settings ("min_window must be at least 2 buckets"); empty =
// valid.
std::vector<std::string> validate(const DetectorSettings& settings);

}  // namespace leakwatch::detect
