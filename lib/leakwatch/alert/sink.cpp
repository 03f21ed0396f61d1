#include "leakwatch/alert/sink.h"

#include "leakwatch/alert/webhook.h"

namespace leakwatch::alert {

const char* to_string(SinkKind k) {
  return k == SinkKind::slack ? "slack" : "webhook";
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

}  // namespace

core::Result<std::unique_ptr<Sink>> make_slack_sink(const SlackSinkSettings& sink,
                                                    const AlertSettings& settings) {
  auto url = http::Url::parse(sink.webhook_url.reveal());
  if (!url)
    return core::make_error("config", "alerts sink " + sink.name + ": invalid webhook_url (" +
                                          sink.webhook_url.origin() + "): " + url.error().message);
  return std::unique_ptr<Sink>(std::make_unique<SlackSink>(sink, settings, *url));
}

core::Result<std::unique_ptr<Sink>> make_webhook_sink(const WebhookSinkSettings& sink,
                                                      const AlertSettings& settings) {
  auto url = http::Url::parse(sink.url);
  if (!url)
    return core::make_error("config",
                            "alerts sink " + sink.name + ": invalid url: " + url.error().message);
  return std::unique_ptr<Sink>(std::make_unique<WebhookSink>(sink, settings, *url));
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
  return sinks;
}

}  // namespace leakwatch::alert
