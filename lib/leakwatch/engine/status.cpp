#include "leakwatch/engine/status.h"

#include "leakwatch/detect/detector.h"

namespace leakwatch::engine {

DetectorView detector_view(const detect::Decision& d) {
  DetectorView v;
  v.state = detect::to_string(d.state);
  v.explanation = d.explanation;
  v.slope_bytes_per_hour = d.slope_bytes_per_hour;
  v.forecast_seconds = d.forecast_seconds;
  v.confidence = d.confidence;
  v.window_seconds = static_cast<double>(d.window.count());
  v.floor_bytes = d.floor_bytes;
  v.peak_bytes = d.peak_bytes;
  v.oom_kills = d.oom_kills;
  return v;
}

std::vector<LinePoint> trend_line(const detect::Decision& d) {
  if (d.window.count() <= 0 || d.slope_bytes_per_hour == 0 || d.floor_bytes == 0) return {};
  const double hours = static_cast<double>(d.window.count()) / 3600.0;
  const auto floor = static_cast<double>(d.floor_bytes);
  return {{d.time - d.window, floor - d.slope_bytes_per_hour * hours}, {d.time, floor}};
}

std::vector<LinePoint> forecast_line(const detect::Decision& d) {
  if (!d.forecast_seconds || !d.limit_bytes || d.peak_bytes == 0) return {};
  const auto to_limit = std::chrono::duration_cast<core::WallClock::duration>(
      std::chrono::duration<double>(*d.forecast_seconds));
  return {{d.time, static_cast<double>(d.peak_bytes)},
          {d.time + to_limit, static_cast<double>(*d.limit_bytes)}};
}

}  // namespace leakwatch::engine
