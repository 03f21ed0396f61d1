#pragma once
// The alert event model: what the engine reports (a suspected leak, a capture, an OOM kill, ...),
// independent of how sinks render it. Figures a producer does not know yet stay empty (optional),
// so later producers (the heap snapshot engine's top growers) plug in without changing sinks.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/settings.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/identity.h"
#include "leakwatch/s3/links.h"

namespace leakwatch::alert {

enum class EventType {
  leak_suspected,      // the detector suspects a leak (opens the "leak" incident)
  capture_completed,   // a heap snapshot was archived
  capture_skipped,     // a capture was due but not taken (not enough headroom, cooldown, daily cap)
  capture_failed,      // the heap-dump endpoint failed (403, 500, timeout, too large)
  oom_kill,            // the kernel killed the target for memory
  restart,             // the target restarted (new instance)
  recovered,           // an incident is over (the leak stopped, the source is back)
  source_unavailable,  // leakwatch cannot read the target's memory (opens the "source" incident)
  test,                // `leakwatch alert test`
};

const char* to_string(EventType t);

// Memory figures at the time of the event (bytes). Absent = unknown.
struct MemoryFigures {
  std::optional<std::uint64_t> usage_bytes;
  std::optional<std::uint64_t> working_set_bytes;
  std::optional<std::uint64_t> limit_bytes;  // absent: no limit
};

// The detector's evidence (leak_suspected; optionally attached to captures).
struct LeakFigures {
  double slope_bytes_per_hour = 0;         // floor growth rate
  std::optional<double> forecast_seconds;  // until the peaks reach the limit; absent: no limit/none
  double confidence = 0;                   // 0..1
  bool oom_imminent = false;               // the forecast is within the detector's horizon
  std::chrono::seconds window{0};          // the trend window the decision rests on
  int oom_kills = 0;                       // OOM kills seen recently (restart cycles)
  std::string explanation;                 // one line from the detector
};

// One constructor that grew between two snapshots (DevTools Comparison view).
struct Grower {
  std::string name;                         // constructor / class name, e.g. "Array", "(closure)"
  std::int64_t size_delta = 0;              // bytes
  std::optional<std::int64_t> count_delta;  // objects (#Delta)
  // One retainer path from a GC root to an instance, outermost first, e.g.
  // ["(GC roots)", "global", "cache (property)", "Map", "table (internal)"]. May be empty.
  std::vector<std::string> retainer_path;
  // Context for the path, e.g. "7,140 held by open native handles". May be empty.
  std::string path_note;
};

// A capture (completed, skipped or failed).
struct CaptureFigures {
  // Archive ids of the snapshots involved (a capture series, oldest first); for a completed
  // capture the new one is last. When at least two are present the message proposes
  // `leakwatch diff <first> <new>`, the pair that `top_growers` compares.
  std::vector<std::string> archive_ids;
  std::optional<std::uint64_t> size_bytes;  // snapshot size on disk
  std::optional<double> duration_seconds;   // how long the capture took
  std::vector<Grower> top_growers;          // from the snapshot engine, biggest first
  std::string diff_command;                 // overrides the proposed diff command when set
  // With archive.s3: where the snapshots of `archive_ids` are (or will be) in S3, in the same
  // order, each with its upload state (s3/links.h). Filled by the Alerter; empty without S3.
  std::vector<s3::ObjectLink> s3_objects;
};

// Where the target runs (core/identity.h): the ECS task, or the host outside ECS. Every sink shows
// it; fleet receivers (Alertmanager) label alerts with it so that the tasks of one service group.
using TaskInfo = core::TargetIdentity;

struct Event {
  EventType type = EventType::test;
  core::TimePoint time{};  // when it happened (sample time)
  std::string target;      // target name from the config (target.name)
  std::string instance;    // container id / pid when known
  TaskInfo task;           // where the target runs (empty: unknown)
  MemoryFigures memory;
  std::optional<LeakFigures> leak;
  std::optional<CaptureFigures> capture;
  // Why: capture_skipped/capture_failed/source_unavailable (e.g. "headroom 120 MiB < 300 MiB
  // needed"); recovered: how (e.g. "floor flat for 2h").
  std::string reason;
  std::optional<std::uint64_t> oom_kill_count;  // oom_kill: the counter's value (dedupes repeats)
  // recovered: which incident type ends (leak_suspected or source_unavailable); absent = leak.
  std::optional<EventType> recovered_from;
  // One-off events with the same key within the reminder interval are sent once. Empty: derived
  // from the type and content (see incident.h).
  std::string dedupe_key;

  // Filled by the IncidentTracker when the event is accepted for delivery.
  std::string id;  // unique per delivered event ("evt_..."); receivers dedupe retries on it
  std::string incident_id;  // the incident the event belongs to (empty: none)
  std::optional<core::TimePoint> incident_opened;
  bool reminder = false;  // a reminder of an open incident
  int reminder_count = 0;
  bool escalated = false;  // severity rose within an open incident (sent before the interval)
  // A periodic re-post of an open incident's latest event to a sink that holds alert states
  // (Alertmanager), set by the Dispatcher; logged at debug level only.
  bool resend = false;
  // recovered: the severity of the incident it closes (so it reaches every sink that got the
  // alert). Set by the tracker.
  std::optional<Severity> severity_override;

  Severity severity() const;
};

// A one-line summary for logs and the plain-text fallback, e.g.
// "Memory leak suspected in web: +38 MiB/h, limit in ~2h 10m".
std::string headline(const Event& e);

}  // namespace leakwatch::alert
