#include "leakwatch/core/clock.h"

#include <ctime>

namespace leakwatch::core {

namespace {
std::string format(TimePoint t, const char* fmt) {
  std::time_t tt = WallClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}
}  // namespace

std::string format_utc(TimePoint t) {
  return format(t, "%Y-%m-%dT%H:%M:%SZ");
}
std::string format_utc_compact(TimePoint t) {
  return format(t, "%Y%m%dT%H%M%SZ");
}

}  // namespace leakwatch::core
