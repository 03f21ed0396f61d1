#pragma once
// Incident logic (pure: no I/O, `now` is a parameter). The engine reports what it sees on every
// poll; the tracker turns that stream into what people should receive:
//  - leak_suspected opens the "leak" incident of a target: one alert, then a reminder (with fresh
//    figures) at most every reminder_interval while it stays open, and an immediate message when
//    the severity rises (leak -> OOM imminent). `recovered` closes it.
//  - source_unavailable opens the "source" incident the same way; `recovered` with
//    recovered_from = source_unavailable closes it.
//  - other events are one-offs, sent once per dedupe key within reminder_interval.
//  - test events are always sent.
// Accepted events get an id ("evt_<hex>") and, when an incident of their target is open, its id.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "leakwatch/alert/event.h"

namespace leakwatch::alert {

// The incident key an event opens, continues or closes ("leak:web", "source:web"); empty for
// one-off events.
std::string incident_key(const Event& e);
// The key one-off events are deduplicated on (the event's dedupe_key when set).
std::string dedupe_key(const Event& e);

class IncidentTracker {
 public:
  // `seed` makes ids reproducible in tests; 0 = seeded from std::random_device.
  explicit IncidentTracker(std::chrono::milliseconds reminder_interval, std::uint64_t seed = 0);

  // The event to deliver (ids and incident fields filled), or nullopt when it is a repeat.
  std::optional<Event> accept(Event e, core::TimePoint now);

  struct Incident {
    std::string id;
    core::TimePoint opened{};
    core::TimePoint last_sent{};
    Severity severity = Severity::info;  // highest so far
    int reminders = 0;
  };
  const Incident* find(const std::string& key) const;
  std::size_t open_incidents() const { return incidents_.size(); }

 private:
  std::string make_id(const char* prefix);

  std::chrono::milliseconds interval_;
  std::mt19937_64 rng_;
  std::map<std::string, Incident> incidents_;
  std::map<std::string, core::TimePoint> recent_;  // one-off dedupe key -> last sent
};

}  // namespace leakwatch::alert
