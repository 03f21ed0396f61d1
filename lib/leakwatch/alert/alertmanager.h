#pragma once
// Prometheus Alertmanager sink (API v2): each event becomes a JSON array POSTed to
// <url>/api/v2/alerts. Alertmanager identifies an alert by its label set, so the labels are chosen
// to be stable for the life of an incident and shared by the tasks of one service:
//   alertname  LeakwatchMemoryLeak (warning), LeakwatchOomForecast (critical: the limit is reached
//              within the detector's horizon), LeakwatchSourceUnavailable (warning),
//              LeakwatchOomKill (critical), LeakwatchTest (info)
//   service    the target's name (target.name)
//   cluster, task, container   the ECS task identity when known (empty labels are omitted)
//   host       outside ECS, the host name (core/identity.h)
//   severity   fixed per alertname, so that a resolve can name the same label set
// Incident alerts (leak, source) fire with endsAt = now + 4 x resend_interval and are re-posted
// every resend_interval while the incident is open; `recovered` posts them with endsAt set, which
// resolves them. When a leak escalates to an OOM forecast, LeakwatchMemoryLeak is ended in the same
// post. OOM kills are one-off alerts without endsAt (Alertmanager's resolve_timeout ends them).
// Capture notices and restarts are not sent: they are not alert states.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "leakwatch/alert/event.h"

namespace leakwatch::alert {

inline constexpr const char* kAlertmanagerAlertsPath = "/api/v2/alerts";

struct AlertmanagerOptions {
  std::string generator_url;  // alerts.dashboard_url; empty: no generatorURL
  std::chrono::milliseconds resend_interval{std::chrono::minutes(1)};
};

// The alertname an event fires (empty for recovered and for events Alertmanager does not get).
std::string alertmanager_alertname(const Event& e);
// Whether Alertmanager gets the event (alert states, their recoveries, tests).
bool alertmanager_wants(const Event& e);
// The alerts array of one post at `now` (the attempt's time: endsAt of a firing alert counts from
// it, so a late retry does not post an alert that has already expired).
nlohmann::json alertmanager_alerts(const Event& e, const AlertmanagerOptions& options,
                                   core::TimePoint now);

}  // namespace leakwatch::alert
