#pragma once
// Time is injected: decisions take `now`; the scheduler owns the only real timer.
#include <chrono>
#include <cstdint>
#include <string>

namespace leakwatch::core {

using WallClock = std::chrono::system_clock;
using TimePoint = WallClock::time_point;
using Duration = std::chrono::nanoseconds;

// Seconds since the Unix epoch as a double (the replay CSV format and JSON use this).
inline double to_unix_seconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
// Saturates outside what the clock can hold (about 1678..2262) and maps NaN to the epoch: the
// seconds can come from files, and a double too large for the nanosecond count is undefined
// behaviour.
inline TimePoint from_unix_seconds(double s) {
  constexpr double kLimit = 9.2e9;
  s = s != s ? 0.0 : s < -kLimit ? -kLimit : s > kLimit ? kLimit : s;
  return TimePoint(
      std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(s)));
}
inline double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return WallClock::now(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = from_unix_seconds(1'700'000'000)) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += std::chrono::duration_cast<WallClock::duration>(d); }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

// ISO-8601 UTC with second precision, e.g. 2026-11-24T08:00:00Z.
std::string format_utc(TimePoint t);
// Compact UTC for file names, e.g. 20261124T080000Z.
std::string format_utc_compact(TimePoint t);

}  // namespace leakwatch::core
