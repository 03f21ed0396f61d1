#include "leakwatch/alert/sink.h"

#include "leakwatch/alert/alertmanager.h"
#include "leakwatch/alert/webhook.h"
#include "leakwatch/http/encoding.h"

namespace leakwatch::alert {

const char* to_string(SinkKind k) {
  switch (k) {
    case SinkKind::slack:
      return "slack";
    case SinkKind::webhook:
      return "webhook";
    case SinkKind::alertmanager:
      return "alertmanager";
  }
  return "webhook";
}

bool Sink::wants(const Event& e) const {
  return e.type == EventType::test || e.severity() >= min_severity_;
}

namespace {

http::Request base_request(const http::Url& url, const AlertSettings& s, bool verify,
                           const std::string& ca_file) {
  http::Request req;
  req.method = "POST";
  req.url = url;
  req.content_type = "application/json";
  req.connect_timeout = s.delivery.connect_timeout;
  req.idle_timeout = s.delivery.request_timeout;
  req.total_timeout = s.delivery.request_timeout;
  req.max_body_bytes = 64 * 1024;
  req.tls.verify = verify;
  req.tls.ca_file = ca_file;
  return req;
}

class SlackSink final : public Sink {
 public:
  SlackSink(const SlackSinkSettings& sink, const AlertSettings& s, http::Url url)
      : Sink(sink.name, url.redacted(), sink.min_severity.value_or(s.min_severity)),
        secret_url_(sink.webhook_url),
        request_(base_request(url, s, sink.tls_verify, sink.ca_file)),
        options_{s.dashboard_url} {}

  SinkKind kind() const override { return SinkKind::slack; }

  http::Request build(const Event& e, core::TimePoint) const override {
    http::Request req = request_;
    req.body =
        slack_message(e, options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return req;
  }

  std::string scrub(std::string text) const override {
    text = core::redact(std::move(text), secret_url_);
    // The path alone (/services/T…/B…/secret) is also a credential.
    return core::redact(std::move(text), core::Secret(request_.url.target, ""));
  }

 private:
  core::Secret secret_url_;
  http::Request request_;
  RenderOptions options_;
};

class WebhookSink final : public Sink {
 public:
  WebhookSink(const WebhookSinkSettings& sink, const AlertSettings& s, http::Url url)
      : Sink(sink.name, url.redacted(), sink.min_severity.value_or(s.min_severity)),
        secret_(sink.secret),
        request_(base_request(url, s, sink.tls_verify, sink.ca_file)),
        options_{s.dashboard_url} {}

  SinkKind kind() const override { return SinkKind::webhook; }

  http::Request build(const Event& e, core::TimePoint now) const override {
    http::Request req = request_;
    req.body =
        webhook_payload(e, options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.headers.emplace_back(kEventHeader, to_string(e.type));
    req.headers.emplace_back(kDeliveryHeader, e.id);
    if (!secret_.empty()) {
      auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
      req.headers.emplace_back(kSignatureHeader, signature_header(secret_, t, req.body));
    }
    return req;
  }

  std::string scrub(std::string text) const override {
    text = core::redact(std::move(text), secret_);
    if (request_.url.target.size() > 1)
      text = core::redact(std::move(text), core::Secret(request_.url.target, ""));
    return text;
  }

 private:
  core::Secret secret_;
  http::Request request_;
  RenderOptions options_;
};

class AlertmanagerSink final : public Sink {
 public:
  AlertmanagerSink(const AlertmanagerSinkSettings& sink, const AlertSettings& s, http::Url url)
      : Sink(sink.name, url.redacted(), sink.min_severity.value_or(s.min_severity)),
        request_(base_request(url, s, sink.tls_verify, sink.ca_file)),
        options_{s.dashboard_url, sink.resend_interval} {
    // Alertmanager answers 400 with a JSON error that names the bad field; keep room for it.
    request_.max_body_bytes = 64 * 1024;
    if (!sink.bearer_token.empty()) {
      credential_ = core::Secret("Bearer " + sink.bearer_token.reveal(), "");
      secrets_ = {sink.bearer_token};
    } else if (!sink.username.empty()) {
      auto encoded = http::base64(sink.username + ":" + sink.password.reveal());
      credential_ = core::Secret("Basic " + encoded, "");
      secrets_ = {sink.password, core::Secret(encoded, "")};
    }
  }

  SinkKind kind() const override { return SinkKind::alertmanager; }

  bool wants(const Event& e) const override { return alertmanager_wants(e) && Sink::wants(e); }

  std::optional<std::chrono::milliseconds> resend_interval() const override {
    return options_.resend_interval;
  }

  http::Request build(const Event& e, core::TimePoint now) const override {
    http::Request req = request_;
    req.body = alertmanager_alerts(e, options_, now)
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!credential_.empty()) req.headers.emplace_back("Authorization", credential_.reveal());
    return req;
  }

  std::string scrub(std::string text) const override {
    for (const auto& s : secrets_)
      text = core::redact(std::move(text), s);
    return text;
  }

 private:
  http::Request request_;
  AlertmanagerOptions options_;
  core::Secret credential_;  // the Authorization header's value
  std::vector<core::Secret> secrets_;
};

}  // namespace

core::Result<std::unique_ptr<Sink>> make_slack_sink(const SlackSinkSettings& sink,
                                                    const AlertSettings& settings) {
  auto url = http::Url::parse(sink.webhook_url.reveal());
  if (!url)
    return core::make_error(core::Errc::config,
                            "alerts sink " + sink.name + ": invalid webhook_url (" +
                                sink.webhook_url.origin() + "): " + url.error().message);
  return std::unique_ptr<Sink>(std::make_unique<SlackSink>(sink, settings, *url));
}

core::Result<std::unique_ptr<Sink>> make_webhook_sink(const WebhookSinkSettings& sink,
                                                      const AlertSettings& settings) {
  auto url = http::Url::parse(sink.url);
  if (!url)
    return core::make_error(core::Errc::config,
                            "alerts sink " + sink.name + ": invalid url: " + url.error().message);
  return std::unique_ptr<Sink>(std::make_unique<WebhookSink>(sink, settings, *url));
}

core::Result<std::unique_ptr<Sink>> make_alertmanager_sink(const AlertmanagerSinkSettings& sink,
                                                           const AlertSettings& settings) {
  std::string base = sink.url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto url = http::Url::parse(base + kAlertmanagerAlertsPath);
  if (!url)
    return core::make_error(core::Errc::config,
                            "alerts sink " + sink.name + ": invalid url: " + url.error().message);
  return std::unique_ptr<Sink>(std::make_unique<AlertmanagerSink>(sink, settings, *url));
}

core::Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const AlertSettings& in) {
  AlertSettings settings = in;
  assign_default_names(settings);
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const auto& s : settings.slack) {
    auto sink = make_slack_sink(s, settings);
    if (!sink) return sink.error();
    sinks.push_back(std::move(*sink));
  }
  for (const auto& s : settings.webhooks) {
    auto sink = make_webhook_sink(s, settings);
    if (!sink) return sink.error();
    sinks.push_back(std::move(*sink));
  }
  for (const auto& s : settings.alertmanager) {
    auto sink = make_alertmanager_sink(s, settings);
    if (!sink) return sink.error();
    sinks.push_back(std::move(*sink));
  }
  return sinks;
}

}  // namespace leakwatch::alert
