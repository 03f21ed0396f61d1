// `leakwatch alert test --config FILE`: send a test message to every configured alert sink and
// report each result (exit 1 if any sink failed). Without --config (or in addition to it), sinks
// can be given on the command line: --slack-url-env NAME (the URL is a credential: it is read from
// the environment, never from argv) and --webhook URL [--webhook-secret-env NAME].
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/alert/alerter.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/units.h"
#include "leakwatch/source/identity.h"

namespace leakwatch::cli {

namespace {

struct AlertTestOptions {
  std::string config_file;
  std::vector<std::string> slack_envs;
  std::vector<std::string> webhooks;
  std::string webhook_secret_env;
  std::string ca_file;
  bool insecure = false;
  std::string target;
  std::string timeout = "30s";
};

int run_alert_test(const AlertTestOptions& o) {
  alert::AlertSettings settings;
  std::string target = "app";
  core::TargetIdentity identity = core::host_identity();
  if (!o.config_file.empty()) {
    auto loaded = load_config_file(o.config_file);
    if (!loaded) return kExitConfig;
    settings = loaded->alerts;
    target = loaded->target.name;
    // The test alert names the task as the daemon's alerts will (read once, as the daemon does).
    auto resolved = source::resolve_identity(loaded->target);
    if (!resolved.warning.empty())
      std::fprintf(stderr, "warning: no ECS task identity: %s\n", resolved.warning.c_str());
    identity = std::move(resolved.identity);
  }
  if (!o.target.empty()) target = o.target;
  for (const auto& env : o.slack_envs) {
    const char* v = std::getenv(env.c_str());
    if (!v || !*v) {
      std::fprintf(stderr, "leakwatch alert test: environment variable %s is not set\n",
                   env.c_str());
      return kExitUsage;
    }
    alert::SlackSinkSettings s;
    s.webhook_url = core::Secret(v, "env " + env);
    s.ca_file = o.ca_file;
    s.tls_verify = !o.insecure;
    settings.slack.push_back(std::move(s));
  }
  for (const auto& url : o.webhooks) {
    alert::WebhookSinkSettings w;
    w.url = url;
    if (!o.webhook_secret_env.empty()) {
      const char* v = std::getenv(o.webhook_secret_env.c_str());
      if (!v || !*v) {
        std::fprintf(stderr, "leakwatch alert test: environment variable %s is not set\n",
                     o.webhook_secret_env.c_str());
        return kExitUsage;
      }
      w.secret = core::Secret(v, "env " + o.webhook_secret_env);
    }
    w.ca_file = o.ca_file;
    w.tls_verify = !o.insecure;
    settings.webhooks.push_back(std::move(w));
  }
  alert::assign_default_names(settings);
  if (auto problems = alert::validate(settings); !problems.empty()) {
    for (const auto& p : problems)
      std::fprintf(stderr, "error: %s\n", p.c_str());
    return o.config_file.empty() ? kExitUsage : kExitConfig;
  }
  if (settings.empty()) {
    std::fprintf(
        stderr,
        "leakwatch alert test: no alert sinks configured (alerts.slack / alerts.webhooks / "
        "alerts.alertmanager, "
        "or --slack-url-env / --webhook)\n");
    return kExitUsage;
  }
  auto timeout = core::parse_duration(o.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::fprintf(stderr, "leakwatch alert test: --timeout: %s\n",
                 timeout ? "must be positive" : timeout.error().message.c_str());
    return kExitUsage;
  }

  auto results = alert::send_test(settings, target, *timeout, identity);
  if (!results) {
    std::fprintf(stderr, "leakwatch alert test: %s\n", results.error().message.c_str());
    return kExitConfig;
  }
  int failed = 0;
  for (const auto& r : *results) {
    std::printf("%-4s %-20s %-8s %s  attempts=%d  %s\n", r.ok ? "ok" : "FAIL", r.sink.c_str(),
                r.kind.c_str(), r.destination.c_str(), r.attempts, r.detail.c_str());
    if (!r.ok) ++failed;
  }
  if (failed)
    std::printf("%d of %zu sink%s failed\n", failed, results->size(),
                results->size() == 1 ? "" : "s");
  else
    std::printf("all %zu sink%s delivered the test message\n", results->size(),
                results->size() == 1 ? "" : "s");
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

void register_alert_commands(CLI::App& app, int& exit_code) {
  auto* alert = app.add_subcommand("alert", "Alert sinks (Slack, webhooks, Alertmanager)");
  alert->require_subcommand(1);
  auto* test = alert->add_subcommand(
      "test", "Send a test message to every configured alert sink and report each result");
  static AlertTestOptions o;
  test->add_option("--config", o.config_file, "YAML configuration file (its alerts: section)");
  test->add_option("--slack-url-env", o.slack_envs,
                   "Also send to the Slack webhook URL held in this environment variable");
  test->add_option("--webhook", o.webhooks, "Also send to this webhook URL");
  test->add_option("--webhook-secret-env", o.webhook_secret_env,
                   "Signing secret for --webhook, from this environment variable");
  test->add_option("--ca-file", o.ca_file, "CA bundle (PEM) for the sinks given by flags");
  test->add_flag("--insecure", o.insecure, "Do not verify TLS certificates (sinks given by flags)");
  test->add_option("--target", o.target, "Target name shown in the message (default: target.name)");
  test->add_option("--timeout", o.timeout, "Give up after this long (default 30s)");
  test->callback([&exit_code] { exit_code = run_alert_test(o); });
}

}  // namespace leakwatch::cli
