#include "leakwatch/alert/alertmanager.h"

#include <algorithm>
#include <vector>

#include "leakwatch/alert/format.h"
#include "leakwatch/core/units.h"

namespace leakwatch::alert {

using nlohmann::json;

namespace {

constexpr const char* kMemoryLeak = "LeakwatchMemoryLeak";
constexpr const char* kOomForecast = "LeakwatchOomForecast";
constexpr const char* kSourceUnavailable = "LeakwatchSourceUnavailable";
constexpr const char* kOomKill = "LeakwatchOomKill";
constexpr const char* kTest = "LeakwatchTest";

// Fixed per alertname: severity is part of the label set, and a resolve must repeat it exactly.
Severity severity_of(const std::string& alertname) {
  if (alertname == kOomForecast || alertname == kOomKill) return Severity::critical;
  if (alertname == kTest) return Severity::info;
  return Severity::warning;
}

json labels(const Event& e, const std::string& alertname) {
  json l = json::object();
  l["alertname"] = alertname;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) l[key] = value;
  };
  put("service", e.target);
  put("cluster", e.task.cluster);
  put("task", e.task.task_id);
  put("container", e.task.container);
  // Outside ECS the host tells the alerts of two machines apart (one label set = one alert).
  if (!e.task.ecs()) put("host", e.task.host);
  l["severity"] = to_string(severity_of(alertname));
  return l;
}

std::string description(const Event& e) {
  std::vector<std::string> lines;
  switch (e.type) {
    case EventType::leak_suspected:
      if (e.leak) {
        lines.push_back("Growth: " + detail::slope_text(e.leak->slope_bytes_per_hour) +
                        ", limit reached in: " + detail::forecast_text(e));
        if (!e.leak->explanation.empty()) lines.push_back(e.leak->explanation);
      }
      lines.push_back("Memory: " + detail::usage_line(e.memory));
      break;
    case EventType::oom_kill:
    case EventType::source_unavailable:
      if (!e.reason.empty()) lines.push_back(e.reason);
      if (e.memory.usage_bytes) lines.push_back("Memory: " + detail::usage_line(e.memory));
      break;
    default:
      if (!e.reason.empty()) lines.push_back(e.reason);
      break;
  }
  if (auto next = detail::next_step(e); !next.empty()) lines.push_back(next);
  std::string out;
  for (const auto& l : lines)
    out += (out.empty() ? "" : "\n") + l;
  return out;
}

json annotations(const Event& e) {
  Event plain = e;
  plain.reminder = false;  // the annotation is the alert's current state, not a message
  json a = {{"summary", headline(plain)}, {"description", description(e)}};
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) a[key] = value;
  };
  put("incident_id", e.incident_id);
  put("instance", e.instance);
  put("task_arn", e.task.task_arn);
  put("task_family", e.task.family_revision());
  put("availability_zone", e.task.availability_zone);
  put("image_digest", e.task.image_digest);
  if (e.capture && !e.capture->archive_ids.empty()) a["archive_id"] = e.capture->archive_ids.back();
  // The newest snapshot's S3 object (archive.s3) and its upload state: "pending" until it exists.
  if (auto shown = detail::shown_objects(e); !shown.empty()) {
    const auto& o = *shown.back();
    a["s3_snapshot"] = o.url();
    a["s3_upload"] = s3::to_string(o.state);
    put("s3_console_url", o.console_url);
    put("s3_diff_command", detail::s3_diff_command(e));
  }
  return a;
}

json alert(const Event& e, const std::string& alertname, const AlertmanagerOptions& o,
           core::TimePoint starts) {
  json j = {{"labels", labels(e, alertname)},
            {"annotations", annotations(e)},
            {"startsAt", core::format_utc(starts)}};
  if (auto g = detail::join_url(o.generator_url, "/"); !g.empty()) j["generatorURL"] = g;
  return j;
}

}  // namespace

std::string alertmanager_alertname(const Event& e) {
  switch (e.type) {
    case EventType::leak_suspected:
      return e.leak && e.leak->oom_imminent ? kOomForecast : kMemoryLeak;
    case EventType::source_unavailable:
      return kSourceUnavailable;
    case EventType::oom_kill:
      return kOomKill;
    case EventType::test:
      return kTest;
    default:
      return {};
  }
}

bool alertmanager_wants(const Event& e) {
  return e.type == EventType::recovered || !alertmanager_alertname(e).empty();
}

json alertmanager_alerts(const Event& e, const AlertmanagerOptions& o, core::TimePoint now) {
  json out = json::array();
  core::TimePoint starts = e.incident_opened.value_or(e.time);
  if (starts > now) starts = now;
  // How long a firing alert stays active without a re-post (Prometheus uses the same factor).
  const auto hold = std::chrono::duration_cast<core::WallClock::duration>(4 * o.resend_interval);
  auto ended = [&](const std::string& name, core::TimePoint end) {
    json j = alert(e, name, o, starts);
    j["endsAt"] = core::format_utc(std::clamp(end, starts, now));
    out.push_back(std::move(j));
  };

  if (e.type == EventType::recovered) {
    if (e.recovered_from == EventType::source_unavailable) {
      ended(kSourceUnavailable, e.time);
    } else {
      ended(kMemoryLeak, e.time);
      // Only an incident that reached critical can have fired the forecast alert.
      if (e.severity() == Severity::critical) ended(kOomForecast, e.time);
    }
    return out;
  }
  std::string name = alertmanager_alertname(e);
  if (name.empty()) return out;
  if (e.type == EventType::oom_kill) {
    out.push_back(alert(e, name, o, e.time <= now ? e.time : now));
    return out;
  }
  json j = alert(e, name, o, starts);
  j["endsAt"] = core::format_utc(now + hold);
  out.push_back(std::move(j));
  if (e.escalated && name == kOomForecast) ended(kMemoryLeak, now);
  return out;
}

}  // namespace leakwatch::alert
