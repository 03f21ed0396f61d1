#include "leakwatch/alert/event.h"

#include <array>
#include <cmath>
#include <utility>

#include "leakwatch/core/units.h"

namespace leakwatch::alert {

namespace {
constexpr std::array<std::pair<EventType, const char*>, 9> kTypes{{
    {EventType::leak_suspected, "leak_suspected"},
    {EventType::capture_completed, "capture_completed"},
    {EventType::capture_skipped, "capture_skipped"},
    {EventType::capture_failed, "capture_failed"},
    {EventType::oom_kill, "oom_kill"},
    {EventType::restart, "restart"},
    {EventType::recovered, "recovered"},
    {EventType::source_unavailable, "source_unavailable"},
    {EventType::test, "test"},
}};

std::string target_or_default(const Event& e) {
  return e.target.empty() ? "the target" : e.target;
}
}  // namespace

const char* to_string(EventType t) {
  for (const auto& [type, name] : kTypes)
    if (type == t) return name;
  return "unknown";
}

Severity Event::severity() const {
  if (severity_override) return *severity_override;
  switch (type) {
    case EventType::leak_suspected:
      return leak && leak->oom_imminent ? Severity::critical : Severity::warning;
    case EventType::oom_kill:
      return Severity::critical;
    case EventType::capture_failed:
    case EventType::restart:
    case EventType::source_unavailable:
      return Severity::warning;
    case EventType::capture_completed:
    case EventType::capture_skipped:
    case EventType::recovered:
    case EventType::test:
      return Severity::info;
  }
  return Severity::info;
}

std::string headline(const Event& e) {
  std::string t = target_or_default(e);
  std::string prefix = e.reminder ? "Reminder: " : "";
  switch (e.type) {
    case EventType::leak_suspected: {
      std::string s = prefix + (e.leak && e.leak->oom_imminent ? "Out of memory soon: "
                                                               : "Memory leak suspected in ");
      s += t;
      if (e.leak) {
        s += ": +" + core::format_bytes(std::max(0.0, e.leak->slope_bytes_per_hour)) + "/h";
        if (e.leak->forecast_seconds)
          s += ", limit in ~" +
               core::format_duration_seconds(std::max(0.0, *e.leak->forecast_seconds));
      }
      return s;
    }
    case EventType::capture_completed: {
      std::string s = "Heap snapshot captured for " + t;
      if (e.capture && e.capture->size_bytes)
        s += " (" + core::format_bytes(static_cast<double>(*e.capture->size_bytes)) + ")";
      return s;
    }
    case EventType::capture_skipped:
      return "Heap snapshot skipped for " + t + (e.reason.empty() ? "" : ": " + e.reason);
    case EventType::capture_failed:
      return "Heap snapshot failed for " + t + (e.reason.empty() ? "" : ": " + e.reason);
    case EventType::oom_kill:
      return "OOM kill: " + t + " was killed for exceeding its memory limit";
    case EventType::restart:
      return t + " restarted";
    case EventType::recovered:
      if (e.recovered_from == EventType::source_unavailable)
        return "Memory source of " + t + " is available again";
      return "Recovered: " + t +
             (e.reason.empty() ? " no longer looks like it leaks" : ": " + e.reason);
    case EventType::source_unavailable:
      return prefix + "Cannot read the memory of " + t + (e.reason.empty() ? "" : ": " + e.reason);
    case EventType::test:
      return "leakwatch test message for " + t;
  }
  return "leakwatch event";
}

}  // namespace leakwatch::alert
