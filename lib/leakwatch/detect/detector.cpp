#include "leakwatch/detect/detector.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "leakwatch/core/units.h"

namespace leakwatch::detect {
namespace {

// Bytes computed from samples (a floor plus an amplitude): saturate rather than cast out of range,
// which is undefined behaviour.
std::uint64_t byte_count(double v) {
  if (!(v > 0)) return 0;
  return v >= 1.8e19 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(v);
}

constexpr std::int64_t kFineSpan = 8 * 3600;  // windows up to this long use the fine tier
constexpr int kCoarseFactor = 15;             // coarse bucket = 15 fine buckets
constexpr int kMaxSegments = 24;
// With a limit, the growth gate also needs the peaks forecast to reach it within this many windows.
constexpr double kGrowthForecastWindows = 2.0;
// Restarts after a climb count as a cycle when the heights they died at are within kSameHeight of
// each other and the climbs to them within kSameClimb: a runtime heap limit ends each incarnation
// after the same climb to the same height, a deploy lands anywhere on a warm-up.
constexpr double kSameHeight = 0.1;
constexpr double kSameClimb = 0.25;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string rate_text(double bytes_per_hour) {
  return core::format_bytes(std::abs(bytes_per_hour)) + "/h";
}

std::string dur_text(double seconds) {
  return core::format_duration_seconds(std::max(0.0, std::round(seconds / 60.0) * 60.0));
}

}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::learning:
      return "learning";
    case State::ok:
      return "ok";
    case State::leak_suspected:
      return "leak_suspected";
    case State::oom_imminent:
      return "oom_imminent";
  }
  return "ok";
}

std::optional<State> state_from_string(const std::string& s) {
  for (State st : {State::learning, State::ok, State::leak_suspected, State::oom_imminent}) {
    if (s == to_string(st)) return st;
  }
  return std::nullopt;
}

nlohmann::json Decision::to_json() const {
  nlohmann::json j;
  j["t"] = core::to_unix_seconds(time);
  j["state"] = to_string(state);
  j["slope_bytes_per_hour"] = std::round(slope_bytes_per_hour);
  if (forecast_seconds) {
    j["forecast_seconds"] = std::round(*forecast_seconds);
  } else {
    j["forecast_seconds"] = nullptr;
  }
  j["confidence"] = std::round(confidence * 100.0) / 100.0;
  j["window_seconds"] = window.count();
  j["floor_bytes"] = floor_bytes;
  j["peak_bytes"] = peak_bytes;
  if (limit_bytes) {
    j["limit_bytes"] = *limit_bytes;
  } else {
    j["limit_bytes"] = nullptr;
  }
  j["oom_kills"] = oom_kills;
  j["restarts"] = restarts;
  if (restarted) j["restarted"] = true;
  if (oom_kill) j["oom_kill"] = true;
  j["explanation"] = explanation;
  return j;
}

std::vector<std::string> validate(const DetectorSettings& s) {
  std::vector<std::string> p;
  using std::chrono::seconds;
  if (s.bucket < seconds(10) || s.bucket > seconds(600))
    p.push_back("bucket must be between 10s and 10m");
  if (s.min_window < s.bucket * 6) p.push_back("min_window must be at least 6 buckets");
  if (s.max_window < s.min_window) p.push_back("max_window must not be shorter than min_window");
  if (s.max_window > std::chrono::hours(24 * 14)) p.push_back("max_window must be at most 14d");
  if (s.confirm_window < s.min_window || s.confirm_window > s.max_window) {
    p.push_back("confirm_window must be between min_window and max_window");
  }
  if (s.segments < 4 || s.segments > kMaxSegments) p.push_back("segments must be between 4 and 24");
  if (!(s.min_rise_fraction >= 0 && s.min_rise_fraction < 1)) {
    p.push_back("min_rise_fraction must be in [0, 1)");
  }
  if (!(s.min_linearity >= 0 && s.min_linearity <= 1))
    p.push_back("min_linearity must be in [0, 1]");
  if (!(s.level_off_ratio >= 0 && s.level_off_ratio <= 1)) {
    p.push_back("level_off_ratio must be in [0, 1]");
  }
  if (!(s.max_step_share > 0 && s.max_step_share <= 1))
    p.push_back("max_step_share must be in (0, 1]");
  if (!(s.growth_fraction > 0 && s.growth_fraction <= 100)) {
    p.push_back("growth_fraction must be in (0, 100]");
  }
  if (!(s.forecast_factor >= 0 && s.forecast_factor <= 100)) {
    p.push_back("forecast_factor must be in [0, 100]");
  }
  if (!(s.fast_forecast_factor >= 0 && s.fast_forecast_factor <= 100)) {
    p.push_back("fast_forecast_factor must be in [0, 100]");
  }
  if (s.oom_imminent_horizon < seconds(0)) p.push_back("oom_imminent_horizon must not be negative");
  if (!(s.oom_peak_fraction > 0 && s.oom_peak_fraction <= 1)) {
    p.push_back("oom_peak_fraction must be in (0, 1]");
  }
  if (!(s.crash_drop_fraction > 0 && s.crash_drop_fraction < 1)) {
    p.push_back("crash_drop_fraction must be in (0, 1)");
  }
  if (s.oom_cycles < 1) p.push_back("oom_cycles must be at least 1");
  if (s.oom_cycle_window < seconds(60)) p.push_back("oom_cycle_window must be at least 1m");
  if (s.capture_settle < seconds(0) || s.capture_settle > std::chrono::hours(1)) {
    p.push_back("capture_settle must be between 0s and 1h");
  }
  if (s.clear_after < s.bucket) p.push_back("clear_after must be at least one bucket");
  if (s.fast_window < seconds(0)) p.push_back("fast_window must not be negative");
  if (!(s.pinned_fraction > 0 && s.pinned_fraction <= 1))
    p.push_back("pinned_fraction must be in (0, 1]");
  if (s.pinned_after < seconds(0)) p.push_back("pinned_after must not be negative");
  if (!(s.full_gc_drop_fraction >= 0 && s.full_gc_drop_fraction < 1))
    p.push_back("full_gc_drop_fraction must be in [0, 1)");
  if (s.max_gap < s.bucket) p.push_back("max_gap must be at least one bucket");
  return p;
}

Detector::Detector(DetectorSettings settings) : settings_(std::move(settings)) {
  std::int64_t w = settings_.min_window.count();
  // Fast windows, shorter than min_window, on their own finer buckets: one per segment of the
  // shortest, the largest divisor of the bucket length that fits (at least 10 s, so at least a
  // minute for the window). A leak that kills within minutes of start needs a window of minutes.
  if (settings_.fast_window.count() > 0) {
    const std::int64_t b = settings_.bucket.count();
    const std::int64_t want =
        std::max<std::int64_t>(10, settings_.fast_window.count() / std::max(settings_.segments, 1));
    std::int64_t fb = b;
    for (std::int64_t d = std::min(want, b); d >= 10; --d) {
      if (b % d == 0) {
        fb = d;
        break;
      }
    }
    for (std::int64_t f = std::max(settings_.fast_window.count(), fb * settings_.segments); f < w;
         f *= 2)
      windows_.push_back(f);
    // With the fine buckets' own length the fine tier serves.
    if (!windows_.empty() && fb < b) fast_bucket_ = fb;
  }
  std::int64_t max_w = settings_.max_window.count();
  while (w < max_w) {
    windows_.push_back(w);
    w *= 2;
  }
  windows_.push_back(max_w);
  windows_.push_back(settings_.confirm_window.count());
  std::sort(windows_.begin(), windows_.end());
  windows_.erase(std::unique(windows_.begin(), windows_.end()), windows_.end());
  rising_since_.assign(windows_.size(), 0);
  last_rising_.assign(windows_.size(), 0);
  next_eval_.assign(windows_.size(), 0);
  evals_.assign(windows_.size(), WindowEval{});
  last_.explanation = "learning: no samples yet";
}

void Detector::start_epoch(std::int64_t t) {
  fine_.clear();
  coarse_.clear();
  open_.reset();
  coarse_open_.reset();
  fast_.clear();
  fast_open_.reset();
  gaps_.clear();
  epoch_start_ = t;
  std::fill(rising_since_.begin(), rising_since_.end(), 0);
  std::fill(last_rising_.begin(), last_rising_.end(), 0);
  std::fill(next_eval_.begin(), next_eval_.end(), 0);
  std::fill(evals_.begin(), evals_.end(), WindowEval{});
  capture_at_.reset();
  capture_measuring_ = false;
  offset_ = 0;
  pinned_since_ = -1;
  last_pinned_t_ = -1;
  pinned_total_ = 0;
  cache_bound_ = false;
  last_drop_t_ = t;
  tooth_ = 0;
  troughs_seen_.clear();
  last_collection_drop_ = 0;
  collection_peak_ = 0;
  epoch_peak_ = 0;
  epoch_low_ = std::numeric_limits<double>::infinity();
  rise_held_t_ = -1;
}

void Detector::register_oom(std::int64_t t) {
  oom_times_.push_back(t);
  while (!oom_times_.empty() && oom_times_.front() < t - settings_.oom_cycle_window.count()) {
    oom_times_.pop_front();
  }
}

void Detector::note_capture(core::TimePoint t) {
  std::int64_t ts = static_cast<std::int64_t>(std::floor(core::to_unix_seconds(t)));
  // The floor before the capture: the lowest bucket minimum over the last few buckets.
  double pre = std::numeric_limits<double>::infinity();
  if (open_) pre = open_->min;
  for (auto it = fine_.rbegin(); it != fine_.rend() && it - fine_.rbegin() < 5; ++it) {
    pre = std::min(pre, it->min);
  }
  if (!std::isfinite(pre)) pre = last_value_ - offset_;
  capture_at_ = ts;
  capture_pre_floor_ = pre;
  capture_measuring_ = true;
}

bool Detector::window_has_gap(std::int64_t from, std::int64_t to) const {
  for (const auto& g : gaps_) {
    if (g.second > from && g.first < to) return true;
  }
  return false;
}

void Detector::add_point(std::int64_t t, double value) {
  const std::int64_t b = settings_.bucket.count();
  const std::int64_t start = floor_div(t, b) * b;
  std::int64_t fast_end = -1;  // a fast bucket closed: the fast windows are due at its end
  if (fast_bucket_ > 0) {
    const std::int64_t fstart = floor_div(t, fast_bucket_) * fast_bucket_;
    if (fast_open_ && fast_open_->start != fstart) fast_end = close_fast();
    if (!fast_open_) fast_open_ = Bucket{fstart, value, value, 0};
    fast_open_->min = std::min(fast_open_->min, value);
    fast_open_->max = std::max(fast_open_->max, value);
    ++fast_open_->count;
  }
  if (open_ && open_->start != start) {
    close_bucket();  // judges every window, the fast ones included
  } else if (fast_end >= 0) {
    evaluate(fast_end, false);
  }
  if (!open_) {
    open_ = Bucket{start, value, value, 0};
  }
  open_->min = std::min(open_->min, value);
  open_->max = std::max(open_->max, value);
  ++open_->count;
  epoch_peak_ = std::max(epoch_peak_, value);
  epoch_low_ = std::min(epoch_low_, value);
}

std::int64_t Detector::close_fast() {
  const std::int64_t end = fast_open_->start + fast_bucket_;
  fast_.push_back(*fast_open_);
  fast_open_.reset();
  // As long as the fine tier: per-cycle floors look back one longest climb, however short the
  // window.
  while (!fast_.empty() && fast_.front().start < end - kFineSpan - settings_.bucket.count())
    fast_.pop_front();
  return end;
}

void Detector::close_bucket() {
  const std::int64_t b = settings_.bucket.count();
  const std::int64_t cb = b * kCoarseFactor;
  Bucket done = *open_;
  open_.reset();
  // Pinned: the whole bucket (its minimum, not a sawtooth peak) sat at the limit, or near it while
  // the kernel counted limit hits; an OOM kill starts a new epoch, so no kill happened here.
  if (limit_) {
    const double lim = static_cast<double>(*limit_);
    if (done.min >= settings_.pinned_fraction * lim ||
        (bucket_hit_ && done.min >= settings_.oom_peak_fraction * lim)) {
      if (pinned_since_ < 0 || done.start - last_pinned_t_ > 2 * settings_.bucket.count())
        pinned_since_ = done.start;
      last_pinned_t_ = done.start;
      pinned_total_ += settings_.bucket.count();
    }
  }
  bucket_hit_ = false;
  // fine_ holds this epoch's buckets only (start_epoch clears it): a fall out of the first one,
  // however partly filled, is a collection too.
  if (!fine_.empty() && settings_.full_gc_drop_fraction > 0) {
    if (is_collection(fine_.back().min, done.min)) {
      last_collection_drop_ = fine_.back().min - done.min;
      collection_peak_ = std::max(collection_peak_, fine_.back().max);
      // From one collection to the next: what came before the first one is a warm-up, or a climb
      // whose start was not seen.
      if (!troughs_seen_.empty()) tooth_ = std::max(tooth_, done.start - last_drop_t_);
      last_drop_t_ = done.start;
      troughs_seen_.push_back(done.min);
      if (troughs_seen_.size() > kTroughs) troughs_seen_.pop_front();
    } else if (!troughs_seen_.empty() && done.start - last_drop_t_ <= settings_.bucket.count()) {
      // The collection ended in this bucket.
      troughs_seen_.back() = std::min(troughs_seen_.back(), done.min);
    }
  }
  fine_.push_back(done);
  while (!fine_.empty() && fine_.front().start < done.start - kFineSpan - b)
    fine_.pop_front();
  const std::int64_t cstart = floor_div(done.start, cb) * cb;
  if (coarse_open_ && coarse_open_->start != cstart) {
    coarse_.push_back(*coarse_open_);
    coarse_open_.reset();
  }
  if (!coarse_open_) {
    coarse_open_ = Bucket{cstart, done.min, done.max, 0};
  }
  coarse_open_->min = std::min(coarse_open_->min, done.min);
  coarse_open_->max = std::max(coarse_open_->max, done.max);
  coarse_open_->count += done.count;
  const std::int64_t keep = settings_.max_window.count() + cb;
  while (!coarse_.empty() && coarse_.front().start < done.start - keep)
    coarse_.pop_front();
  while (!gaps_.empty() && gaps_.front().second < done.start - keep)
    gaps_.pop_front();
  evaluate(done.start + b);
}

Detector::WindowEval Detector::eval_window(std::int64_t now, std::int64_t window,
                                           std::int64_t span) const {
  WindowEval ev;
  const std::int64_t from = now - window;
  if (from < epoch_start_ || window_has_gap(from, now)) return ev;
  const int k = settings_.segments;
  std::array<double, kMaxSegments> fmin;
  std::array<double, kMaxSegments> fmax;
  std::array<int, kMaxSegments> cnt{};
  fmin.fill(std::numeric_limits<double>::infinity());
  fmax.fill(-std::numeric_limits<double>::infinity());
  // After a full collection, a segment shorter than the longest climb between two collections can
  // lie wholly on a climb, and its lowest bucket is then a point of the climb, not a floor. Such a
  // window takes as each segment's floor the lowest point over the `span` (one longest climb)
  // before the segment's end, back to the last collection in it: the trough of the latest GC
  // cycle, which only a leak (or a real growth) raises.
  const std::int64_t reach = std::max(epoch_start_, from - span);
  struct Point {
    std::int64_t mid;
    double min;
    bool collection;
  };
  std::vector<Point> pts;
  double prev = std::numeric_limits<double>::quiet_NaN();
  auto take = [&](const Bucket& bk, std::int64_t len) {
    // A bucket belongs to the segment holding its midpoint.
    const std::int64_t mid = bk.start + len / 2;
    if (mid >= now) return;
    if (span > 0) {  // buckets come in time order here
      if (mid < reach) return;
      pts.push_back({mid, bk.min, is_collection(prev, bk.min)});
      prev = bk.min;
    }
    if (mid < from) return;
    const int seg = static_cast<int>((mid - from) * k / window);
    if (span == 0) fmin[seg] = std::min(fmin[seg], bk.min);
    fmax[seg] = std::max(fmax[seg], bk.max);
    ++cnt[seg];
  };
  const std::int64_t b = bucket_len(window);
  const std::deque<Bucket>& buckets = tier(window);
  const std::int64_t first = span > 0 ? reach : from;
  if (window <= kFineSpan) {
    if (span > 0) {
      auto it = std::partition_point(buckets.begin(), buckets.end(),
                                     [&](const Bucket& bk) { return bk.start + b <= first; });
      for (; it != buckets.end(); ++it)
        take(*it, b);
    } else {
      for (auto it = buckets.rbegin(); it != buckets.rend(); ++it) {
        if (it->start + b <= first) break;
        take(*it, b);
      }
    }
  } else {
    const std::int64_t cb = b * kCoarseFactor;
    auto it = std::partition_point(coarse_.begin(), coarse_.end(),
                                   [&](const Bucket& bk) { return bk.start + cb <= first; });
    for (; it != coarse_.end(); ++it)
      take(*it, cb);
    if (coarse_open_) take(*coarse_open_, cb);
  }
  if (span > 0) {
    std::size_t last = 0;  // points before this one have mid < the segment's end
    for (int i = 0; i < k; ++i) {
      const std::int64_t end = from + (i + 1) * window / k;
      while (last < pts.size() && pts[last].mid < end)
        ++last;
      for (std::size_t p = last; p-- > 0;) {
        if (pts[p].mid < end - span) break;
        fmin[i] = std::min(fmin[i], pts[p].min);
        if (pts[p].collection) break;
      }
    }
  }
  for (int i = 0; i < k; ++i) {
    if (cnt[i] == 0) return ev;
  }
  ev.valid = true;
  // Theil-Sen slope of the segment floors (x in seconds from segment centres).
  const double seg_len = static_cast<double>(window) / k;
  std::array<double, kMaxSegments*(kMaxSegments - 1) / 2> pair_slopes{};
  int np = 0;
  for (int i = 0; i < k; ++i) {
    for (int j = i + 1; j < k; ++j)
      pair_slopes[np++] = (fmin[j] - fmin[i]) / ((j - i) * seg_len);
  }
  std::nth_element(pair_slopes.begin(), pair_slopes.begin() + np / 2, pair_slopes.begin() + np);
  const double slope = pair_slopes[np / 2];
  // OLS fit for R^2 and the current floor.
  double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  for (int i = 0; i < k; ++i) {
    const double x = (i + 0.5) * seg_len;
    sx += x;
    sy += fmin[i];
    sxx += x * x;
    sxy += x * fmin[i];
    syy += fmin[i] * fmin[i];
  }
  const double n = k;
  const double vx = sxx - sx * sx / n;
  const double vy = syy - sy * sy / n;
  const double cxy = sxy - sx * sy / n;
  ev.r2 = (vx > 0 && vy > 0) ? (cxy * cxy) / (vx * vy) : 0.0;
  ev.slope = slope;
  std::array<double, kMaxSegments> amp{};
  for (int i = 0; i < k; ++i)
    amp[i] = fmax[i] - fmin[i];
  std::nth_element(amp.begin(), amp.begin() + k / 2, amp.begin() + k);
  const double median_amp = amp[k / 2];
  // Current floor: the fitted line (Theil-Sen slope through the median intercept) at `now`.
  std::array<double, kMaxSegments> icpt{};
  for (int i = 0; i < k; ++i)
    icpt[i] = fmin[i] - slope * (i + 0.5) * seg_len;
  std::nth_element(icpt.begin(), icpt.begin() + k / 2, icpt.begin() + k);
  ev.floor_now = std::min(fmax[k - 1], std::max(fmin[k - 1], icpt[k / 2] + slope * window));
  ev.peak_now = std::max(fmax[k - 1], ev.floor_now + median_amp);

  // The rise tests.
  const double total = fmin[k - 1] - fmin[0];
  ev.rise = total;
  ev.start_floor = fmin[0];
  const double min_rise = this->min_rise(fmin[0]);
  if (!(slope > 0) || total < min_rise) return ev;
  // Most segment-to-segment moves are up (a leak in steps leaves some flat), none is a real drop,
  // the first floor is the lowest and the last the highest (the trend did not reverse).
  int increases = 0;
  double max_step = 0;
  for (int i = 0; i + 1 < k; ++i) {
    const double d = fmin[i + 1] - fmin[i];
    if (d > 0.02 * total) ++increases;
    if (d < -0.2 * total) return ev;
    max_step = std::max(max_step, d);
    if (fmin[i + 1] > fmin[k - 1] || fmin[i] < fmin[0]) return ev;
  }
  // Per-cycle floors move only at a collection, so a window holding three collections shows at
  // most three moves: two moves up (three rising troughs) is the most a short window can show.
  if (increases < (span > 0 ? 2 : (k + 1) / 2)) return ev;
  if (max_step > settings_.max_step_share * total) return ev;
  const int h = k / 2;
  const double first_half = fmin[h - 1] - fmin[0];
  const double second_half = fmin[k - 1] - fmin[k - h];
  if (second_half < settings_.level_off_ratio * first_half) return ev;
  if (ev.r2 < settings_.min_linearity) return ev;
  ev.rising = true;
  return ev;
}

bool Detector::troughs_rose() const {
  // A slow leak raises each trough by less than a window's minimum rise: the rise counts in all
  // over the last run of rising troughs.
  if (troughs_seen_.size() < 2) return false;
  std::size_t first = troughs_seen_.size() - 1;
  while (first > 0 && troughs_seen_[first - 1] < troughs_seen_[first])
    --first;
  return troughs_seen_.back() - troughs_seen_[first] >= min_rise(troughs_seen_[first]);
}

double Detector::min_rise(double floor) const {
  const double ref = limit_ ? static_cast<double>(*limit_) : std::max(floor, 0.0);
  return std::max(static_cast<double>(settings_.min_rise_bytes), settings_.min_rise_fraction * ref);
}

bool Detector::is_collection(double before, double after) const {
  const double drop = before - after;  // false when `before` is NaN (no previous bucket)
  // A fall as large as half the last collection's is one too: a sawtooth keeps its amplitude
  // while a leak raises the level, so the same fall becomes a smaller fraction of it.
  return settings_.full_gc_drop_fraction > 0 &&
         drop >= static_cast<double>(settings_.min_rise_bytes) &&
         (drop >= settings_.full_gc_drop_fraction * before ||
          (last_collection_drop_ > 0 && drop >= 0.5 * last_collection_drop_));
}

std::int64_t Detector::cycle_span(std::int64_t window) const {
  // Segments shorter than the longest climb between two full collections (none seen: 0).
  return climb_ * settings_.segments > window ? climb_ : 0;
}

std::int64_t Detector::hold(std::size_t j) const {
  return std::max(bucket_len(windows_[j]), windows_[j] / settings_.segments);
}

bool Detector::counts(std::size_t j) const {
  // After a full collection, a segment shorter than a climb between two of them sees the climb,
  // not the floor: such a window counts only when the floors after the last collections rose too.
  return !(climb_ > 0 && windows_[j] / settings_.segments < climb_ && !troughs_rose());
}

bool Detector::climbed_to_the_end() const {
  // The floor of each quarter of the epoch (the lowest bucket in it): a leak ended by a heap limit
  // climbs as fast in the last quarter as in the third, a warm-up cut short by a restart slows
  // down. The same test as a window's level-off, on the whole climb. Up to the start of the bucket
  // of the last sample before the fall: between a death and the restart the source may sample the
  // emptied group.
  const std::int64_t b = settings_.bucket.count();
  const std::int64_t end = floor_div(alive_time(), b) * b;
  const std::int64_t age = end - epoch_start_;
  if (age <= 0) return false;
  const bool fine = age <= kFineSpan;
  const std::int64_t len = b * (fine ? 1 : kCoarseFactor);
  std::array<double, 4> q;
  q.fill(std::numeric_limits<double>::infinity());
  auto take = [&](const Bucket& bk) {
    const std::int64_t mid = bk.start + len / 2;
    if (mid < epoch_start_ || mid >= end) return;
    const auto i = static_cast<std::size_t>((mid - epoch_start_) * 4 / age);
    q[i] = std::min(q[i], bk.min);
  };
  if (fine) {
    for (const auto& bk : fine_)
      take(bk);
  } else {
    for (const auto& bk : coarse_)
      take(bk);
    if (coarse_open_) take(*coarse_open_);
  }
  for (double v : q) {
    if (!std::isfinite(v)) return false;
  }
  const double third = q[2] - q[1];
  return third > 0 && q[3] - q[2] >= settings_.level_off_ratio * third;
}

int Detector::climb_cycle() const {
  // The latest deaths in a row (climb_deaths_ holds consecutive incarnations only) that came after
  // the same climb, at the same age, to the same height as the last one.
  if (climb_deaths_.empty()) return 0;
  const ClimbDeath& last = climb_deaths_.back();
  int n = 0;
  for (auto it = climb_deaths_.rbegin(); it != climb_deaths_.rend(); ++it) {
    const ClimbDeath& c = *it;
    if (!(std::abs(c.height - last.height) <= kSameHeight * std::max(c.height, last.height) &&
          std::abs(c.climb - last.climb) <= kSameClimb * std::max(c.climb, last.climb) &&
          std::abs(c.age - last.age) <= kSameClimb * std::max(c.age, last.age)))
      break;
    ++n;
  }
  return n;
}

void Detector::evaluate(std::int64_t now, bool all) {
  evaluated_ = true;
  // The climb since the last collection is one too while it has not passed the height that
  // collection fell from by a minimum rise: the old generation refilling, not yet a floor. Above
  // it, a collection would have come, and only the climbs from one collection to the next count
  // (none after a one-off drop).
  climb_ = tooth_;
  if (!troughs_seen_.empty() && !fine_.empty() &&
      fine_.back().min <= collection_peak_ + min_rise(troughs_seen_.back()))
    climb_ = std::max(tooth_, now - last_drop_t_);
  const std::int64_t b = settings_.bucket.count();
  bool any_rising = false;
  for (std::size_t j = 0; j < windows_.size(); ++j) {
    if (!all && !is_fast(j)) continue;
    if (now >= next_eval_[j]) {
      const std::int64_t jb = bucket_len(windows_[j]);
      const std::int64_t step = std::max(jb, (windows_[j] / 24) / jb * jb);
      next_eval_[j] = now + step;
      evals_[j] = eval_window(now, windows_[j], 0);
      // Per-cycle floors, where a window could alert on them (segments shorter than a climb, the
      // troughs rose): they move only at collections, so they are slow to show a fast leak, and
      // the segments' own floors still count.
      const std::int64_t span = cycle_span(windows_[j]);
      if (span > 0 && !evals_[j].rising && troughs_rose()) {
        WindowEval cycle = eval_window(now, windows_[j], span);
        if (cycle.rising) evals_[j] = cycle;
      }
      // A window that cannot be judged (a segment without data: a short outage) is no evidence
      // either way, so it does not end a rise it interrupts; one that lasts longer than the hold
      // does.
      if (evals_[j].rising) {
        if (rising_since_[j] == 0) rising_since_[j] = now;
        last_rising_[j] = now;
      } else if (evals_[j].valid || now - last_rising_[j] > hold(j)) {
        rising_since_[j] = 0;
      }
    }
    if (evals_[j].rising && counts(j)) any_rising = true;
  }
  // Only a rise that could alert keeps an alert up: the climbs of a rare-full-GC sawtooth are
  // not evidence once collections were seen, or the first climb's alert would never clear.
  if (any_rising) last_rise_seen_ = now;

  // Pinned at the limit without a kill: the kernel reclaims (page cache in usage); a rise that
  // got there this way says nothing about a leak.
  const bool pinned = last_pinned_t_ >= 0 && now - last_pinned_t_ <= 2 * b;
  // In all, not in one run: a sawtooth whose collections dip below the limit for a few minutes
  // and climb back to it keeps breaking the runs, and the kernel is still reclaiming.
  if (pinned && pinned_total_ >= settings_.pinned_after.count()) cache_bound_ = true;
  pinned_hold_ = false;
  // Pick the evidence: the longest window whose rise has held long enough and passes its gate.
  int alert_window = -1;
  for (std::size_t j = 0; j < windows_.size(); ++j) {
    if (!all && !is_fast(j)) continue;
    const WindowEval& ev = evals_[j];
    if (!ev.rising) continue;
    if (now - rising_since_[j] < hold(j)) continue;
    if (!counts(j)) continue;
    const bool fast = is_fast(j);
    // A fast window needs a few samples per bucket: six single samples are noise, not a trend.
    const auto& judged = tier(windows_[j]);
    if (fast && (judged.empty() || judged.back().count < 3)) continue;
    if (pinned) {
      pinned_hold_ = true;
      continue;
    }
    rise_held_t_ = now;  // a rise that held, short of its gate (see climb_deaths_)
    double t_lim = std::numeric_limits<double>::infinity();
    if (limit_ && ev.slope > 0)
      t_lim = std::max(0.0, (static_cast<double>(*limit_) - ev.peak_now) / ev.slope);
    // Growth gate: the floor grew by growth_fraction of its starting level. With a limit, growth
    // alone is not enough: the limit must also be in sight (within kGrowthForecastWindows windows);
    // traffic bursts and caches also double a floor for an hour or two, far below the limit.
    const bool growth =
        windows_[j] >= 2 * settings_.min_window.count() &&
        ev.rise >= settings_.growth_fraction * std::max(ev.start_floor, 1.0) &&
        (!limit_ || t_lim <= kGrowthForecastWindows * static_cast<double>(windows_[j]));
    bool gate = !fast && (windows_[j] >= settings_.confirm_window.count() || growth);
    if (!gate && limit_ && ev.slope > 0 && !cache_bound_)
      gate = t_lim <= (fast ? settings_.fast_forecast_factor : settings_.forecast_factor) *
                          static_cast<double>(windows_[j]);
    if (gate) alert_window = static_cast<int>(j);
  }
  // Between two buckets only a new alert from a fast window changes the decision.
  if (!all && (alert_window < 0 || leak_)) {
    evaluated_ = false;
    return;
  }
  while (!oom_times_.empty() && oom_times_.front() < now - settings_.oom_cycle_window.count()) {
    oom_times_.pop_front();
  }
  while (!climb_deaths_.empty() &&
         climb_deaths_.front().t < now - settings_.oom_cycle_window.count()) {
    climb_deaths_.pop_front();
  }
  const bool oom_cycle = static_cast<int>(oom_times_.size()) >= settings_.oom_cycles;
  // Restarts are weaker evidence than kills (a deploy is one too), so climb_deaths_ only holds
  // incarnations in a row whose floor climbed steadily to the end.
  const int climbs = climb_cycle();
  const bool restart_cycle = climbs >= settings_.oom_cycles && !oom_cycle;
  if (alert_window >= 0 || oom_cycle || restart_cycle) {
    leak_ = true;
  } else if (leak_ && now - last_rise_seen_ >= settings_.clear_after.count()) {
    leak_ = false;
  }

  State state;
  if (leak_) {
    state = State::leak_suspected;
  } else if (now - epoch_start_ < settings_.min_window.count()) {
    state = State::learning;
  } else {
    state = State::ok;
  }
  // The window the decision rests on: the alerting one, else the longest valid one.
  int w = alert_window;
  if (w < 0) {
    for (std::size_t j = 0; j < windows_.size(); ++j) {
      if (evals_[j].valid && counts(j) && (evals_[j].rising || !any_rising))
        w = static_cast<int>(j);
    }
  }
  Decision d;
  d.time = core::from_unix_seconds(static_cast<double>(now));
  d.limit_bytes = limit_;
  d.oom_kills = static_cast<int>(oom_times_.size());
  d.restarts = restarts_;
  if (w >= 0) {
    const WindowEval& ev = evals_[w];
    d.window = std::chrono::seconds(windows_[w]);
    d.slope_bytes_per_hour = ev.slope * 3600.0;
    d.floor_bytes = byte_count(ev.floor_now);
    d.peak_bytes = byte_count(ev.peak_now);
    if (limit_ && ev.slope > 0) {
      d.forecast_seconds = std::max(0.0, (static_cast<double>(*limit_) - ev.peak_now) / ev.slope);
    }
    if (ev.rising) {
      const double held = static_cast<double>(now - rising_since_[w]);
      const double need = static_cast<double>(hold(static_cast<std::size_t>(w)));
      d.confidence = std::clamp(0.5 * ev.r2 + 0.5 * std::min(1.0, held / (2 * need)), 0.0, 1.0);
    } else {
      d.confidence = ev.valid ? std::clamp(1.0 - ev.r2 * 0.5, 0.5, 1.0) : 0.0;
    }
  }
  if (state == State::leak_suspected && d.forecast_seconds &&
      *d.forecast_seconds <= static_cast<double>(settings_.oom_imminent_horizon.count()) &&
      (last_.state == State::leak_suspected || last_.state == State::oom_imminent)) {
    state = State::oom_imminent;
  }
  d.state = state;
  if ((oom_cycle || restart_cycle) && alert_window < 0) d.confidence = std::max(d.confidence, 0.9);

  // Explanation.
  std::string e;
  const std::string lim = !limit_
                              ? "no limit set"
                              : (d.forecast_seconds ? "limit in ~" + dur_text(*d.forecast_seconds)
                                                    : "limit not in sight");
  // The same words for a rise whether it alerts or not.
  const std::string rising = w >= 0 && evals_[w].rising
                                 ? "floor rising " + rate_text(d.slope_bytes_per_hour) + " for " +
                                       dur_text(static_cast<double>(windows_[w]))
                                 : "";
  if (state == State::leak_suspected || state == State::oom_imminent) {
    if (!rising.empty()) {
      e = rising + "; " + lim;
    } else {
      e = "no steady rise right now; " + lim;
    }
    if (oom_cycle) {
      e = std::to_string(oom_times_.size()) + " OOM kills in " +
          dur_text(static_cast<double>(settings_.oom_cycle_window.count())) +
          ", memory climbs back after each restart; " + e;
    } else if (restart_cycle) {
      e = std::to_string(climbs) + " restarts in " +
          dur_text(static_cast<double>(settings_.oom_cycle_window.count())) +
          ", each after memory climbed to ~" + core::format_bytes(climb_deaths_.back().height) +
          " (a runtime heap limit?); " + e;
    }
  } else if (pinned_hold_ || (pinned && cache_bound_)) {
    e = "at the limit for " + dur_text(static_cast<double>(now - pinned_since_)) +
        " with no OOM kill: the kernel reclaims (page cache), not a leak";
  } else if (state == State::learning) {
    e = "learning: " + dur_text(static_cast<double>(now - epoch_start_)) + " of " +
        dur_text(static_cast<double>(settings_.min_window.count())) + " history";
  } else if (!rising.empty()) {
    // A rise short of a gate (limit far away, window too short, not held long enough) is still a
    // rise: say so, and what keeps it from being a leak, rather than deny it.
    const auto held = static_cast<double>(now - rising_since_[w]);
    const auto need = static_cast<double>(hold(static_cast<std::size_t>(w)));
    e = rising + (held < need ? " (held " + dur_text(held) + " of " + dur_text(need) + ")" : "") +
        ", not a leak yet; " + lim;
  } else if (w >= 0) {
    e = "no sustained floor rise (" + std::string(d.slope_bytes_per_hour < 0 ? "-" : "+") +
        rate_text(d.slope_bytes_per_hour) + " over " + dur_text(static_cast<double>(windows_[w])) +
        ")";
  } else {
    e = "no sustained floor rise (not enough recent data)";
  }
  d.explanation = std::move(e);
  d.changed = d.state != last_.state;
  last_ = std::move(d);
}

Decision Detector::observe(const core::Sample& sample) {
  evaluated_ = false;
  const double t = core::to_unix_seconds(sample.time);
  if (!std::isfinite(t) || (started_ && t < last_t_)) {
    Decision d = last_;
    d.changed = false;
    return d;
  }
  const double raw = static_cast<double>(sample.working_set_bytes > 0 ? sample.working_set_bytes
                                                                      : sample.usage_bytes);
  const std::int64_t ts = static_cast<std::int64_t>(std::floor(t));
  if (sample.limit_bytes && *sample.limit_bytes > 0) {
    limit_ = *sample.limit_bytes;
  } else {
    limit_.reset();
  }
  bool restart = sample.restarted ||
                 (!instance_.empty() && !sample.instance.empty() && sample.instance != instance_);
  bool oom = false;
  if (sample.oom_kill_count) {
    if (last_oom_count_ && *sample.oom_kill_count > *last_oom_count_) {
      oom = true;  // a kill; the restart usually follows (or the next incarnation starts here)
    }
    last_oom_count_ = *sample.oom_kill_count;  // a lower value is a counter reset: rebase silently
  } else if (started_ && limit_ && recent_peak_ >= settings_.oom_peak_fraction * *limit_ &&
             raw <= (1.0 - settings_.crash_drop_fraction) * recent_peak_ &&
             (sample.instance.empty() || restart)) {
    // No counter: a crash right after touching the limit. Where the source knows the process
    // (pid, container id) and it is still the same one, the drop was a full collection.
    oom = true;
    restart = true;
  }
  if (!sample.instance.empty()) instance_ = sample.instance;
  bool hit = false;
  if (sample.limit_hit_count) {
    hit = last_hit_count_ && *sample.limit_hit_count > *last_hit_count_;
    last_hit_count_ = sample.limit_hit_count;
  }
  if (started_ && t - last_t_ > static_cast<double>(settings_.max_gap.count())) {
    gaps_.emplace_back(static_cast<std::int64_t>(last_t_), ts);
  }
  if (!started_) {
    started_ = true;
    start_epoch(ts);
  }
  if (oom) register_oom(ts);
  if (restart || oom) ++restarts_;
  if (restart || oom) {
    if (fast_open_) close_fast();
    if (open_) close_bucket();
    // A restart that ended a rise still holding before the fall (no kill counted; after a death
    // the source may sample the emptied group until the restart).
    if (!oom && rise_held_t_ >= 0 && alive_time() - rise_held_t_ <= 2 * settings_.bucket.count() &&
        climbed_to_the_end()) {
      climb_deaths_.push_back(
          {ts, epoch_peak_, epoch_peak_ - epoch_low_, static_cast<double>(ts - epoch_start_)});
    } else {
      // Any other restart breaks the cycle: a heap limit ends every incarnation the same way.
      climb_deaths_.clear();
    }
    start_epoch(ts);
    recent_peak_ = raw;  // a new incarnation: its own peaks
    recent_peak_t_ = ts;
  }
  // Track the recent peak for crash detection.
  if (ts - recent_peak_t_ > 300 || raw >= recent_peak_) {
    recent_peak_ = std::max(raw, ts - recent_peak_t_ > 300 ? last_value_ : recent_peak_);
    recent_peak_t_ = ts;
  }
  if (raw >= (1.0 - settings_.crash_drop_fraction) * recent_peak_) alive_t_ = ts;
  last_t_ = t;
  last_value_ = raw;
  if (hit) bucket_hit_ = true;

  bool masked = false;
  if (capture_at_) {
    const std::int64_t settle = settings_.capture_settle.count();
    if (ts < *capture_at_ + settle) {
      masked = true;
    } else if (capture_measuring_ && ts < *capture_at_ + 2 * settle) {
      masked = true;  // measure the floor after the capture before feeding samples again
      post_capture_min_ = std::min(post_capture_min_, raw - offset_);
    } else if (capture_measuring_) {
      if (std::isfinite(post_capture_min_) && post_capture_min_ > capture_pre_floor_) {
        offset_ += post_capture_min_ - capture_pre_floor_;
      }
      capture_measuring_ = false;
      post_capture_min_ = std::numeric_limits<double>::infinity();
      capture_at_.reset();
    }
  }
  if (!masked) add_point(ts, raw - offset_);
  if (restart || oom) {
    last_.restarts = restarts_;
    last_.oom_kills = static_cast<int>(oom_times_.size());
  }
  Decision d = last_;
  d.time = sample.time;
  d.changed = evaluated_ && last_.changed;
  d.restarted = restart || oom;
  d.oom_kill = oom;
  return d;
}

}  // namespace leakwatch::detect
