#pragma once
// Alert settings: the `alerts:` section of the YAML config. YAML keys are the field names;
// durations are written "4h", "30s", "250ms". The defaults below are what users get when a key is
// absent.
//
//   alerts:
//     reminder_interval: 4h
//     min_severity: info
//     dashboard_url: https://leakwatch.internal:9464
//     delivery: { queue_size: 100, initial_backoff: 2s, max_backoff: 5m, give_up_after: 1h,
//                 connect_timeout: 5s, request_timeout: 15s, shutdown_grace: 5s }
//     slack:    [ { name: team-slack, webhook_url: { env: SLACK_WEBHOOK_URL } } ]
//     webhooks: [ { name: pager, url: https://example.internal/hooks/leakwatch,
//                   secret: { env: LEAKWATCH_WEBHOOK_SECRET } } ]
//     alertmanager: [ { name: fleet, url: https://alertmanager.internal:9093,
//                       bearer_token: { env: ALERTMANAGER_TOKEN }, resend_interval: 1m } ]
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/secret.h"

namespace leakwatch::alert {

// Ordered: a sink with min_severity=warning receives warning and critical events.
enum class Severity { info, warning, critical };
const char* to_string(Severity s);
std::optional<Severity> severity_from_string(
    const std::string& s);  // "info" | "warning" | "critical"

// Retry and queue behaviour, shared by every sink.
struct DeliverySettings {
  // Messages waiting per sink; when full the oldest waiting message is dropped (and counted).
  std::size_t queue_size = 100;
  // First retry delay; doubles on each failed attempt up to max_backoff, with +-20% jitter.
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(2)};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
  // A message not delivered this long after it was queued is dropped (logged, counted as gave_up).
  std::chrono::milliseconds give_up_after{std::chrono::hours(1)};
  // Per attempt: TCP connect + TLS handshake, and the whole request/response exchange.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};
  // On shutdown, pending messages get this long to go out.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(5)};
  // Minimum spacing between two messages to the same Slack webhook (Slack allows ~1 message/s).
  std::chrono::milliseconds slack_min_interval{std::chrono::seconds(1)};
};

struct SlackSinkSettings {
  std::string name;  // label in logs and metrics; default "slack-1", "slack-2", ... (in list order)
  // The incoming webhook URL (https://hooks.slack.com/services/...). It is a credential: never
  // logged, only its origin (https://hooks.slack.com) appears in logs. Required.
  core::Secret webhook_url;
  std::optional<Severity> min_severity;  // absent: alerts.min_severity
  bool tls_verify = true;                // verify the server certificate and host name
  std::string ca_file;                   // extra CA bundle (PEM); empty: system trust store
};

struct WebhookSinkSettings {
  std::string name;  // default "webhook-1", "webhook-2", ...
  // Where the JSON is POSTed (http or https). Logged as its origin only (paths may carry tokens).
  std::string url;
  // HMAC-SHA256 signing secret; empty: requests are not signed (a warning is logged at start).
  core::Secret secret;
  std::optional<Severity> min_severity;  // absent: alerts.min_severity
  bool tls_verify = true;
  std::string ca_file;
};

// Prometheus Alertmanager (API v2). Alerts carry fleet labels (service, cluster, task, container)
// so that the tasks of one service group and deduplicate there; see alertmanager.h.
struct AlertmanagerSinkSettings {
  std::string name;  // default "alertmanager-1", ...
  // The Alertmanager's base URL (http or https, may end in a path prefix); alerts go to
  // <url>/api/v2/alerts. Logged as its origin only.
  std::string url;
  // Optional credentials: HTTP basic auth (username + password) or a bearer token, not both. They
  // need https unless the Alertmanager is on loopback.
  std::string username;
  core::Secret password;
  core::Secret bearer_token;
  // Firing alerts are posted again this often while their incident is open, each time with
  // endsAt = now + 4 x resend_interval: Alertmanager keeps them active without depending on its
  // resolve_timeout, and resolves them by itself if leakwatch stops.
  std::chrono::milliseconds resend_interval{std::chrono::minutes(1)};
  std::optional<Severity> min_severity;  // absent: alerts.min_severity
  bool tls_verify = true;
  std::string ca_file;
};

struct AlertSettings {
  // While an incident stays open (a suspected leak, an unreachable source), a reminder goes out at
  // most this often, with fresh figures. The same interval suppresses repeats of one-off events
  // with the same dedupe key (e.g. "capture skipped: cooldown" on every poll).
  std::chrono::milliseconds reminder_interval{std::chrono::hours(4)};
  // Events below this severity are not sent (per sink override: min_severity). `test` and
  // `recovered` events follow the severity of what they report.
  Severity min_severity = Severity::info;
  // Base URL of the leakwatch dashboard, for links in messages; empty: no links.
  std::string dashboard_url;
  // Top growers (those the app's code creates first) whose retainer paths the alert shows.
  std::size_t retainer_paths = 3;
  DeliverySettings delivery;
  std::vector<SlackSinkSettings> slack;
  std::vector<WebhookSinkSettings> webhooks;
  std::vector<AlertmanagerSinkSettings> alertmanager;

  bool empty() const { return slack.empty() && webhooks.empty() && alertmanager.empty(); }
};

// Gives sinks without a name their default ("slack-1", "webhook-2", "alertmanager-1", ...).
void assign_default_names(AlertSettings& settings);

// Human-readable problems ("alerts.slack[0].webhook_url: must be an https URL"); empty = valid.
// Never contains secret values.
std::vector<std::string> validate(const AlertSettings& settings);

}  // namespace leakwatch::alert
