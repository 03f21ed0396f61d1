#include "leakwatch/source/sample_json.h"

#include <cmath>

namespace leakwatch::source {

namespace {
nlohmann::json opt(const std::optional<std::uint64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
}  // namespace

nlohmann::json sample_to_json(const core::Sample& s) {
  nlohmann::json j;
  j["time"] = core::format_utc(s.time);
  j["time_unix"] = core::to_unix_seconds(s.time);
  j["usage_bytes"] = s.usage_bytes;
  j["working_set_bytes"] = s.working_set_bytes;
  j["anon_bytes"] = opt(s.anon_bytes);
  j["limit_bytes"] = opt(s.limit_bytes);
  j["peak_bytes"] = opt(s.peak_bytes);
  j["oom_kill_count"] = opt(s.oom_kill_count);
  j["restarted"] = s.restarted;
  j["instance"] = s.instance;
  if (s.limit_bytes && *s.limit_bytes > 0)
    j["working_set_percent_of_limit"] =
        std::round(1000.0 * static_cast<double>(s.working_set_bytes) /
                   static_cast<double>(*s.limit_bytes)) /
        10.0;
  else
    j["working_set_percent_of_limit"] = nullptr;
  return j;
}

}  // namespace leakwatch::source
