#include "leakwatch/alert/settings.h"

#include <set>

#include "leakwatch/http/url.h"

namespace leakwatch::alert {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::critical:
      return "critical";
  }
  return "info";
}

std::optional<Severity> severity_from_string(const std::string& s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "critical") return Severity::critical;
  return std::nullopt;
}

void assign_default_names(AlertSettings& settings) {
  for (std::size_t i = 0; i < settings.slack.size(); ++i)
    if (settings.slack[i].name.empty()) settings.slack[i].name = "slack-" + std::to_string(i + 1);
  for (std::size_t i = 0; i < settings.webhooks.size(); ++i)
    if (settings.webhooks[i].name.empty())
      settings.webhooks[i].name = "webhook-" + std::to_string(i + 1);
  for (std::size_t i = 0; i < settings.alertmanager.size(); ++i)
    if (settings.alertmanager[i].name.empty())
      settings.alertmanager[i].name = "alertmanager-" + std::to_string(i + 1);
}

namespace {
bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}
}  // namespace

std::vector<std::string> validate(const AlertSettings& s) {
  std::vector<std::string> problems;
  auto positive = [&](std::chrono::milliseconds d, const char* key) {
    if (d.count() <= 0) problems.push_back(std::string("alerts.") + key + ": must be positive");
  };
  positive(s.reminder_interval, "reminder_interval");
  positive(s.delivery.initial_backoff, "delivery.initial_backoff");
  positive(s.delivery.max_backoff, "delivery.max_backoff");
  positive(s.delivery.give_up_after, "delivery.give_up_after");
  positive(s.delivery.connect_timeout, "delivery.connect_timeout");
  positive(s.delivery.request_timeout, "delivery.request_timeout");
  if (s.delivery.shutdown_grace.count() < 0)
    problems.push_back("alerts.delivery.shutdown_grace: must not be negative");
  if (s.delivery.slack_min_interval.count() < 0)
    problems.push_back("alerts.delivery.slack_min_interval: must not be negative");
  if (s.delivery.max_backoff < s.delivery.initial_backoff)
    problems.push_back("alerts.delivery.max_backoff: must be at least initial_backoff");
  if (s.delivery.queue_size < 1 || s.delivery.queue_size > 100000)
    problems.push_back("alerts.delivery.queue_size: must be between 1 and 100000");
  if (!s.dashboard_url.empty()) {
    auto u = http::Url::parse(s.dashboard_url);
    if (!u) problems.push_back("alerts.dashboard_url: " + u.error().message);
  }

  std::set<std::string> names;
  auto check_name = [&](const std::string& name, const std::string& key) {
    if (name.empty()) return;
    if (!names.insert(name).second)
      problems.push_back(key + ".name: '" + name +
                         "' is used by another sink (names must be unique)");
  };
  for (std::size_t i = 0; i < s.slack.size(); ++i) {
    const auto& sink = s.slack[i];
    std::string key = "alerts.slack[" + std::to_string(i) + "]";
    check_name(sink.name, key);
    if (sink.webhook_url.empty()) {
      problems.push_back(key + ".webhook_url: required (e.g. { env: SLACK_WEBHOOK_URL })");
      continue;
    }
    if (!sink.webhook_url.resolved()) continue;
    // The URL is a credential: report what is wrong with it, never the URL itself.
    auto u = http::Url::parse(sink.webhook_url.reveal());
    if (!u) {
      problems.push_back(key + ".webhook_url (" + sink.webhook_url.origin() +
                         "): not a valid URL: " + u.error().message);
    } else if (!u->tls() && !loopback(u->host)) {
      problems.push_back(key + ".webhook_url (" + sink.webhook_url.origin() +
                         "): must be an https URL (Slack webhook URLs are credentials)");
    }
  }
  for (std::size_t i = 0; i < s.webhooks.size(); ++i) {
    const auto& sink = s.webhooks[i];
    std::string key = "alerts.webhooks[" + std::to_string(i) + "]";
    check_name(sink.name, key);
    if (sink.url.empty()) {
      problems.push_back(key + ".url: required");
      continue;
    }
    auto u = http::Url::parse(sink.url);
    if (!u) problems.push_back(key + ".url: not a valid URL: " + u.error().message);
  }
  for (std::size_t i = 0; i < s.alertmanager.size(); ++i) {
    const auto& sink = s.alertmanager[i];
    std::string key = "alerts.alertmanager[" + std::to_string(i) + "]";
    check_name(sink.name, key);
    if (sink.resend_interval.count() <= 0)
      problems.push_back(key + ".resend_interval: must be positive");
    bool basic = !sink.username.empty() || !sink.password.empty();
    if (basic && (sink.username.empty() || sink.password.empty()))
      problems.push_back(key + ": basic auth needs both username and password");
    if (basic && !sink.bearer_token.empty())
      problems.push_back(key + ": use either username/password or bearer_token, not both");
    if (sink.url.empty()) {
      problems.push_back(key + ".url: required (the Alertmanager's base URL)");
      continue;
    }
    auto u = http::Url::parse(sink.url);
    if (!u) {
      problems.push_back(key + ".url: not a valid URL: " + u.error().message);
      continue;
    }
    if (u->target.find_first_of("?#") != std::string::npos)
      problems.push_back(key + ".url: must be a base URL without query (alerts go to " +
                         u->origin() + "/…/api/v2/alerts)");
    if ((basic || !sink.bearer_token.empty()) && !u->tls() && !loopback(u->host))
      problems.push_back(key + ".url (" + u->origin() +
                         "): credentials need an https URL (or a loopback address)");
  }
  return problems;
}

}  // namespace leakwatch::alert
