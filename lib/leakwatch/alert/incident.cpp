#include "leakwatch/alert/incident.h"

#include <cstdio>

namespace leakwatch::alert {

std::string incident_key(const Event& e) {
  switch (e.type) {
    case EventType::leak_suspected:
      return "leak:" + e.target;
    case EventType::source_unavailable:
      return "source:" + e.target;
    case EventType::recovered:
      return (e.recovered_from == EventType::source_unavailable ? "source:" : "leak:") + e.target;
    default:
      return {};
  }
}

std::string dedupe_key(const Event& e) {
  if (!e.dedupe_key.empty()) return e.dedupe_key;
  std::string key = std::string(to_string(e.type)) + ":" + e.target;
  switch (e.type) {
    case EventType::capture_completed:
      if (e.capture && !e.capture->archive_ids.empty())
        return key + ":" + e.capture->archive_ids.back();
      return key + ":" + std::to_string(core::to_unix_seconds(e.time));
    case EventType::capture_skipped:
    case EventType::capture_failed:
      return key + ":" + e.reason;
    case EventType::oom_kill:
      if (e.oom_kill_count) return key + ":" + std::to_string(*e.oom_kill_count);
      return key + ":" + e.instance + ":" + std::to_string(core::to_unix_seconds(e.time));
    case EventType::restart:
      return key + ":" + e.instance;
    default:
      return key;
  }
}

IncidentTracker::IncidentTracker(std::chrono::milliseconds reminder_interval, std::uint64_t seed)
    : interval_(reminder_interval), rng_(seed != 0 ? seed : std::random_device{}()) {}

std::string IncidentTracker::make_id(const char* prefix) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s_%016llx", prefix, static_cast<unsigned long long>(rng_()));
  return buf;
}

const IncidentTracker::Incident* IncidentTracker::find(const std::string& key) const {
  auto it = incidents_.find(key);
  return it == incidents_.end() ? nullptr : &it->second;
}

std::optional<Event> IncidentTracker::accept(Event e, core::TimePoint now) {
  // Forget one-off keys older than the interval (bounded memory).
  for (auto it = recent_.begin(); it != recent_.end();)
    it = now - it->second >= interval_ ? recent_.erase(it) : std::next(it);

  auto attach = [&](Event& ev, const Incident& inc) {
    ev.incident_id = inc.id;
    ev.incident_opened = inc.opened;
  };

  if (e.type == EventType::test) {
    e.id = make_id("evt");
    return e;
  }

  std::string key = incident_key(e);
  if (e.type == EventType::recovered) {
    auto it = incidents_.find(key);
    if (it == incidents_.end()) return std::nullopt;  // nothing to recover from
    attach(e, it->second);
    e.severity_override = it->second.severity;
    e.reminder_count = it->second.reminders;
    incidents_.erase(it);
    e.id = make_id("evt");
    return e;
  }

  if (!key.empty()) {
    auto it = incidents_.find(key);
    if (it == incidents_.end()) {
      Incident inc{make_id("inc"), now, now, e.severity(), 0};
      attach(e, inc);
      incidents_.emplace(key, inc);
      e.id = make_id("evt");
      return e;
    }
    Incident& inc = it->second;
    attach(e, inc);
    if (e.severity() > inc.severity) {
      inc.severity = e.severity();
      inc.last_sent = now;
      e.escalated = true;
      e.id = make_id("evt");
      return e;
    }
    if (now - inc.last_sent < interval_) return std::nullopt;
    inc.last_sent = now;
    e.reminder = true;
    e.reminder_count = ++inc.reminders;
    e.id = make_id("evt");
    return e;
  }

  std::string dk = dedupe_key(e);
  if (recent_.count(dk)) return std::nullopt;
  recent_[dk] = now;
  if (auto it = incidents_.find("leak:" + e.target); it != incidents_.end()) attach(e, it->second);
  e.id = make_id("evt");
  return e;
}

}  // namespace leakwatch::alert
