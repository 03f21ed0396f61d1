#pragma once
// Alert sinks: turn an event into the HTTP request for one delivery attempt.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/event.h"
#include "leakwatch/alert/settings.h"
#include "leakwatch/alert/slack.h"
#include "leakwatch/core/result.h"
#include "leakwatch/http/client.h"

namespace leakwatch::alert {

enum class SinkKind { slack, webhook, alertmanager };
const char* to_string(SinkKind k);

class Sink {
 public:
  virtual ~Sink() = default;
  virtual SinkKind kind() const = 0;
  // Builds the request of one attempt at `now` (a webhook signature carries the attempt's time, so
  // a retry is not rejected as a replay).
  virtual http::Request build(const Event& e, core::TimePoint now) const = 0;
  // Removes secret values from text that may echo them (peer answers, error messages).
  virtual std::string scrub(std::string text) const = 0;

  const std::string& name() const { return name_; }
  // Safe for logs: scheme://host[:port] plus "/…" (never the path, which carries the credential).
  const std::string& destination() const { return destination_; }
  Severity min_severity() const { return min_severity_; }
  // Whether the sink wants the event (test events go everywhere).
  virtual bool wants(const Event& e) const;
  // Sinks that hold alert states (Alertmanager) get the open incidents' latest events again this
  // often; nullopt: events are sent once.
  virtual std::optional<std::chrono::milliseconds> resend_interval() const { return std::nullopt; }

 protected:
  Sink(std::string name, std::string destination, Severity min_severity)
      : name_(std::move(name)), destination_(std::move(destination)), min_severity_(min_severity) {}

 private:
  std::string name_;
  std::string destination_;
  Severity min_severity_;
};

// Sinks from validated settings (names assigned). Errors name the sink, never the URL.
core::Result<std::unique_ptr<Sink>> make_slack_sink(const SlackSinkSettings& sink,
                                                    const AlertSettings& settings);
core::Result<std::unique_ptr<Sink>> make_webhook_sink(const WebhookSinkSettings& sink,
                                                      const AlertSettings& settings);
core::Result<std::unique_ptr<Sink>> make_alertmanager_sink(const AlertmanagerSinkSettings& sink,
                                                           const AlertSettings& settings);
core::Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const AlertSettings& settings);

}  // namespace leakwatch::alert
