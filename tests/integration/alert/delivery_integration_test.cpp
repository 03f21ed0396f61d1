// Alert delivery against real receivers on 127.0.0.1 (HTTP and HTTPS), with short real delays.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "leakwatch/alert/alerter.h"
#include "leakwatch/alert/webhook.h"
#include "leakwatch/core/log.h"
#include "receiver.h"
#include "support/io_wait.h"

using namespace leakwatch;
using namespace leakwatch::alert;
using namespace std::chrono_literals;
using leakwatch::testing::run_until;
using nlohmann::json;
using test::Receiver;
using test::ReceiverOptions;

namespace {

// Credentials the tests use; none of them may appear in a log line.
const std::string kSlackPath = "/services/T0001/B0002/XOXB-SLACK-TOKEN-abcdef123456";
const std::string kHookPath = "/hooks/leakwatch?token=HOOK-QUERY-TOKEN-987654";
const std::string kSigningSecret = "whsec-SIGNING-SECRET-5f3a1c";

DeliverySettings fast() {
  DeliverySettings d;
  d.initial_backoff = 100ms;
  d.max_backoff = 400ms;
  d.give_up_after = 5s;
  d.connect_timeout = 1s;
  d.request_timeout = 2s;
  d.slack_min_interval = 0ms;
  return d;
}

Event leak_event() {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = core::from_unix_seconds(1'700'000'000);
  e.target = "web";
  e.memory = {812u << 20, 700u << 20, 1024u << 20};
  e.leak = LeakFigures{};
  e.leak->slope_bytes_per_hour = 38.0 * (1 << 20);
  e.leak->forecast_seconds = 7800;
  e.leak->confidence = 0.9;
  e.id = "evt_0001";
  return e;
}

std::unique_ptr<Sink> slack_sink(const std::string& url, DeliverySettings d = fast(),
                                 const std::string& ca = "", bool verify = true) {
  AlertSettings s;
  s.delivery = d;
  SlackSinkSettings k;
  k.name = "team-slack";
  k.webhook_url = core::Secret(url, "env TEST_SLACK_URL");
  k.ca_file = ca;
  k.tls_verify = verify;
  auto sink = make_slack_sink(k, s);
  return std::move(sink.value());
}

std::unique_ptr<Sink> webhook_sink(const std::string& url, const std::string& secret,
                                   DeliverySettings d = fast(), const std::string& ca = "") {
  AlertSettings s;
  s.delivery = d;
  WebhookSinkSettings k;
  k.name = "pager";
  k.url = url;
  k.secret = core::Secret(secret, "env TEST_HOOK_SECRET");
  k.ca_file = ca;
  auto sink = make_webhook_sink(k, s);
  return std::move(sink.value());
}

class AlertDelivery : public ::testing::Test {
 protected:
  void SetUp() override {
    capture_ = std::make_shared<test::CaptureSink>();
    capture_->set_pattern("%l [%n] %v");
    core::logger("alert")->sinks().push_back(capture_);
  }
  void TearDown() override {
    auto& sinks = core::logger("alert")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), capture_), sinks.end());
    auto lines = capture_->lines();
    for (const auto& l : lines) {
      for (const std::string& s :
           {std::string("XOXB-SLACK-TOKEN"), std::string("T0001/B0002"),
            std::string("HOOK-QUERY-TOKEN"), kSigningSecret, std::string("/hooks/leakwatch")})
        EXPECT_EQ(l.find(s), std::string::npos) << "secret in log line: " << l;
    }
  }
  std::vector<std::string> logged(const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& l : capture_->lines())
      if (l.find(needle) != std::string::npos) out.push_back(l);
    return out;
  }

  boost::asio::io_context io_;
  core::SystemClock clock_;
  std::vector<Report> reports_;
  std::shared_ptr<test::CaptureSink> capture_;

  std::unique_ptr<Dispatcher> dispatcher(DeliverySettings d = fast()) {
    auto disp = std::make_unique<Dispatcher>(io_, clock_, d, 77);
    disp->set_observer([this](const Report& r) { reports_.push_back(r); });
    return disp;
  }
  std::optional<Report> final_report() const {
    for (auto it = reports_.rbegin(); it != reports_.rend(); ++it)
      if (it->fate != Fate::retrying) return *it;
    return std::nullopt;
  }
};

}  // namespace

TEST_F(AlertDelivery, SlackOkDeliversTheExactBlockKitMessage) {
  Receiver rx;
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  Event e = leak_event();
  ASSERT_EQ(d->submit(e), 1u);
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["method"], "POST");
  EXPECT_EQ(reqs[0]["url"], kSlackPath);
  EXPECT_EQ(reqs[0]["headers"]["content-type"], "application/json");
  json body = json::parse(reqs[0]["body"].get<std::string>());
  EXPECT_EQ(body, slack_message(e));
  EXPECT_TRUE(check_slack_message(body).empty());
  EXPECT_EQ(d->stats()[0].delivered, 1u);
  EXPECT_EQ(logged("alert delivered sink=team-slack").size(), 1u);
  EXPECT_EQ(logged("dest=http://127.0.0.1:" + std::to_string(rx.port()) + "/…").size(), 1u);
}

TEST_F(AlertDelivery, ServerErrorsAreRetriedWithBackoff) {
  Receiver rx(json::array({{{"status", 500}, {"body", "rollup_error"}},
                           {{"status", 503}},
                           {{"status", 200}, {"body", "ok"}}}));
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::delivered);
  EXPECT_EQ(final_report()->attempts, 3);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  // Backoff 100 ms then 200 ms, +-20% jitter (and a little scheduling slack on top).
  auto gap1 = reqs[1]["t_ms"].get<double>() - reqs[0]["t_ms"].get<double>();
  auto gap2 = reqs[2]["t_ms"].get<double>() - reqs[1]["t_ms"].get<double>();
  EXPECT_GE(gap1, 75);
  EXPECT_LE(gap1, 600);
  EXPECT_GE(gap2, 155);
  EXPECT_LE(gap2, 800);
  EXPECT_EQ(reqs[0]["body"], reqs[2]["body"]);  // the same message each time
  EXPECT_EQ(d->stats()[0].retries, 2u);
  EXPECT_EQ(logged("will retry").size(), 2u);
}

TEST_F(AlertDelivery, RateLimitHonoursRetryAfter) {
  Receiver rx(
      json::array({{{"status", 429}, {"body", "rate_limited"}, {"headers", {{"Retry-After", "1"}}}},
                   {{"status", 200}, {"body", "ok"}}}));
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u);
  auto gap = reqs[1]["t_ms"].get<double>() - reqs[0]["t_ms"].get<double>();
  EXPECT_GE(gap, 990);  // Retry-After: 1 (not the 100 ms backoff)
  EXPECT_LE(gap, 2000);
  EXPECT_EQ(d->stats()[0].rate_limited, 1u);
}

TEST_F(AlertDelivery, InvalidPayloadIsNotRetriedAndIsLoggedClearly) {
  Receiver rx(json::array({{{"status", 400}, {"body", "invalid_payload"}}}));
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::rejected);
  run_until(
      io_, [] { return false; }, 400ms);  // would be long enough for a retry
  EXPECT_EQ(rx.requests().size(), 1u);
  auto lines = logged("not retried");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("error"), std::string::npos);
  EXPECT_NE(lines[0].find("status=400 body=invalid_payload"), std::string::npos);
  EXPECT_EQ(d->stats()[0].rejected, 1u);
}

TEST_F(AlertDelivery, ReceiverEchoingTheUrlIsRedacted) {
  // A receiver (or proxy) that echoes the request path back must not leak it into logs or reports.
  Receiver rx(json::array({{{"status", 403}, {"body", "forbidden: POST " + kSlackPath}}}));
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::rejected);
  EXPECT_EQ(final_report()->detail.find("XOXB-SLACK-TOKEN"), std::string::npos);
  EXPECT_NE(final_report()->detail.find("<redacted>"), std::string::npos) << final_report()->detail;
}

TEST_F(AlertDelivery, SlowReceiverTimesOutAndIsRetried) {
  Receiver rx(json::array(
      {{{"status", 200}, {"body", "ok"}, {"delay_ms", 1500}}, {{"status", 200}, {"body", "ok"}}}));
  DeliverySettings s = fast();
  s.request_timeout = 300ms;
  auto d = dispatcher(s);
  d->add_sink(slack_sink(rx.url(kSlackPath), s));
  auto t0 = std::chrono::steady_clock::now();
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::delivered);
  EXPECT_EQ(final_report()->attempts, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);  // did not wait for the slow answer
  EXPECT_EQ(logged("timeout").size(), 1u);
}

TEST_F(AlertDelivery, UnreachableReceiverGivesUp) {
  int port;
  {
    Receiver gone;
    port = gone.port();
  }  // a port nobody listens on any more
  DeliverySettings s = fast();
  s.give_up_after = 600ms;
  auto d = dispatcher(s);
  d->add_sink(slack_sink("http://127.0.0.1:" + std::to_string(port) + kSlackPath, s));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::gave_up);
  EXPECT_GE(d->stats()[0].attempts, 2u);
  EXPECT_EQ(logged("giving up").size(), 1u);
}

TEST_F(AlertDelivery, SignedWebhookVerifiesWithNodeCrypto) {
  ReceiverOptions o;
  o.secret_env = "LW_TEST_SECRET";
  o.secret_value = kSigningSecret;
  Receiver rx(o);
  auto d = dispatcher();
  d->add_sink(webhook_sink(rx.url(kHookPath), kSigningSecret));
  Event e = leak_event();
  d->submit(e);
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["url"], kHookPath);
  EXPECT_EQ(reqs[0]["signature_valid"], true);  // Node's crypto agrees
  EXPECT_EQ(reqs[0]["headers"]["x-leakwatch-event"], "leak_suspected");
  EXPECT_EQ(reqs[0]["headers"]["x-leakwatch-delivery"], "evt_0001");
  std::string body = reqs[0]["body"];
  EXPECT_EQ(json::parse(body), webhook_payload(e));
  EXPECT_EQ(json::parse(body)["schema"], "leakwatch.alert/v1");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  EXPECT_EQ(verify_signature(reqs[0]["headers"]["x-leakwatch-signature"].get<std::string>(),
                             core::Secret(kSigningSecret, ""), body, now),
            SignatureCheck::valid);
}

TEST_F(AlertDelivery, WrongSecretFailsNodeVerification) {
  ReceiverOptions o;
  o.secret_env = "LW_TEST_SECRET";
  o.secret_value = "a-different-secret";
  Receiver rx(o);
  auto d = dispatcher();
  d->add_sink(webhook_sink(rx.url(kHookPath), kSigningSecret));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  ASSERT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(rx.requests()[0]["signature_valid"], false);
}

TEST_F(AlertDelivery, HttpsWithTestCa) {
  test::TestPki pki;
  ReceiverOptions o;
  o.cert = pki.cert.string();
  o.key = pki.key.string();
  Receiver rx(o);
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath, true), fast(), pki.ca.string()));
  d->add_sink(webhook_sink(rx.url(kHookPath, true), kSigningSecret, fast(), pki.ca.string()));
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return reports_.size() >= 2; }, 5s));
  for (const auto& r : reports_)
    EXPECT_EQ(r.fate, Fate::delivered) << r.sink << " " << r.detail;
  EXPECT_EQ(rx.requests().size(), 2u);
}

TEST_F(AlertDelivery, HttpsUnknownCaIsRefused) {
  test::TestPki pki;
  ReceiverOptions o;
  o.cert = pki.cert.string();
  o.key = pki.key.string();
  Receiver rx(o);
  DeliverySettings s = fast();
  s.give_up_after = 300ms;
  auto d = dispatcher(s);
  d->add_sink(slack_sink(rx.url(kSlackPath, true), s));  // system trust store only
  d->submit(leak_event());
  ASSERT_TRUE(run_until(
      io_, [&] { return final_report().has_value(); }, 5s));
  EXPECT_EQ(final_report()->fate, Fate::gave_up);
  EXPECT_NE(final_report()->detail.find("tls"), std::string::npos) << final_report()->detail;
  EXPECT_TRUE(rx.requests().empty());  // nothing was sent over the unverified connection
}

TEST_F(AlertDelivery, FlushDeliversPendingThenStopsAtTheDeadline) {
  Receiver ok;
  Receiver broken(json::array({{{"status", 500}}}));
  DeliverySettings s = fast();
  s.initial_backoff = 2s;  // a retry would come after the grace: flush must not wait for it
  s.max_backoff = 2s;
  auto d = dispatcher(s);
  d->add_sink(slack_sink(ok.url(kSlackPath), s));
  d->add_sink(webhook_sink(broken.url(kHookPath), kSigningSecret, s));
  d->submit(leak_event());
  bool done = false;
  auto t0 = std::chrono::steady_clock::now();
  d->flush(500ms, [&] { done = true; });
  ASSERT_TRUE(run_until(
      io_, [&] { return done; }, 3s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 1500ms);
  auto stats = d->stats();
  EXPECT_EQ(stats[0].delivered, 1u);
  EXPECT_EQ(stats[1].abandoned, 1u);
  EXPECT_EQ(ok.requests().size(), 1u);
  EXPECT_EQ(logged("abandoned at shutdown").size(), 1u);
}

TEST_F(AlertDelivery, FlushReturnsAsSoonAsQueuesAreEmpty) {
  Receiver rx;
  auto d = dispatcher();
  d->add_sink(slack_sink(rx.url(kSlackPath)));
  d->submit(leak_event());
  bool done = false;
  auto t0 = std::chrono::steady_clock::now();
  d->flush(5s, [&] { done = true; });
  ASSERT_TRUE(run_until(
      io_, [&] { return done; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(d->idle());
}

TEST_F(AlertDelivery, AlerterSendsOneAlertPerIncident) {
  Receiver rx;
  AlertSettings s;
  s.delivery = fast();
  s.delivery.give_up_after = 1h;  // the dispatcher runs on the manual clock below
  s.slack.push_back(
      {"team-slack", core::Secret(rx.url(kSlackPath), "env X"), std::nullopt, true, ""});
  core::ManualClock clock(core::from_unix_seconds(1'700'000'000));
  auto alerter = Alerter::create(io_, clock, s, 5);
  ASSERT_TRUE(alerter.ok()) << alerter.error().message;
  int queued = 0;
  for (int i = 0; i < 30; ++i) {  // 30 polls, 10 s apart, of the same suspicion
    if ((*alerter)->publish(leak_event())) ++queued;
    clock.advance(10s);
  }
  EXPECT_EQ(queued, 1);
  Event rec;
  rec.type = EventType::recovered;
  rec.target = "web";
  rec.time = clock.now();
  EXPECT_TRUE((*alerter)->publish(rec));
  ASSERT_TRUE(run_until(
      io_, [&] { return rx.requests().size() >= 2; }, 5s));
  run_until(
      io_, [] { return false; }, 200ms);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[1]["body"].get<std::string>().find("Recovered"), std::string::npos);
}

TEST_F(AlertDelivery, SendTestReportsEachSink) {
  Receiver slack;
  Receiver hook(json::array({{{"status", 400}, {"body", "invalid_payload"}}}));
  AlertSettings s;
  s.delivery = fast();
  s.slack.push_back({"", core::Secret(slack.url(kSlackPath), "env X"), std::nullopt, true, ""});
  s.webhooks.push_back(
      {"", hook.url(kHookPath), core::Secret(kSigningSecret, "env Y"), std::nullopt, true, ""});
  auto out = send_test(s, "web", 3s);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].sink, "slack-1");
  EXPECT_TRUE((*out)[0].ok);
  EXPECT_EQ((*out)[1].sink, "webhook-1");
  EXPECT_FALSE((*out)[1].ok);
  EXPECT_NE((*out)[1].detail.find("invalid_payload"), std::string::npos);
  for (const auto& o : *out)
    EXPECT_EQ(o.destination.find("TOKEN"), std::string::npos);
  json body = json::parse(slack.requests().at(0)["body"].get<std::string>());
  EXPECT_TRUE(check_slack_message(body).empty());
  EXPECT_EQ(json::parse(hook.requests().at(0)["body"].get<std::string>())["type"], "test");
}
