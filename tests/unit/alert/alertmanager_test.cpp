#include "leakwatch/alert/alertmanager.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "leakwatch/alert/alerter.h"
#include "leakwatch/alert/sink.h"
#include "support/ecs_task.h"

using namespace leakwatch;
using namespace leakwatch::alert;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const core::TimePoint kOpened = core::from_unix_seconds(1'700'000'000);  // 2023-11-14T22:13:20Z

using leakwatch::testing::ecs_task;

Event leak(bool imminent = false) {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = kOpened + 600s;
  e.target = "web";
  e.instance = "0123abcd";
  e.task = ecs_task("prod", "5f2c9d", "web", "42", "app");
  e.memory = {812u << 20, 700u << 20, 1024u << 20};
  e.leak = LeakFigures{};
  e.leak->slope_bytes_per_hour = 38.0 * (1 << 20);
  e.leak->forecast_seconds = 7800;
  e.leak->oom_imminent = imminent;
  e.leak->explanation = "floor rose 120 MiB in 3h";
  e.id = "evt_1";
  e.incident_id = "inc_1";
  e.incident_opened = kOpened;
  return e;
}

AlertmanagerOptions opts() {
  return {"https://leakwatch.internal:9464/", 1min};
}

}  // namespace

TEST(AlertmanagerPayload, LeakFiresWithFleetLabelsAndAnEndThatNeedsReposts) {
  auto now = kOpened + 700s;
  json a = alertmanager_alerts(leak(), opts(), now);
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["labels"], (json{{"alertname", "LeakwatchMemoryLeak"},
                                  {"service", "web"},
                                  {"cluster", "prod"},
                                  {"task", "5f2c9d"},
                                  {"container", "app"},
                                  {"severity", "warning"}}));
  // startsAt is the incident's opening, so every post of the incident names the same start.
  EXPECT_EQ(a[0]["startsAt"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(a[0]["endsAt"], core::format_utc(now + 4min));
  EXPECT_EQ(a[0]["generatorURL"], "https://leakwatch.internal:9464/");
  const auto& ann = a[0]["annotations"];
  EXPECT_EQ(ann["summary"], "Memory leak suspected in web: +38 MiB/h, limit in ~2h 10m");
  std::string d = ann["description"];
  EXPECT_NE(d.find("+38 MiB/h"), std::string::npos) << d;
  EXPECT_NE(d.find("floor rose 120 MiB in 3h"), std::string::npos) << d;
  EXPECT_NE(d.find("812 MiB of 1.0 GiB (79%)"), std::string::npos) << d;
  EXPECT_EQ(ann["incident_id"], "inc_1");
  EXPECT_EQ(ann["task_arn"], "arn:aws:ecs:eu-west-1:1:task/prod/5f2c9d");
  EXPECT_EQ(ann["task_family"], "web:42");
}

TEST(AlertmanagerPayload, EmptyIdentityLabelsAreOmittedAndRemindersKeepTheSummary) {
  Event e = leak();
  e.task = {};
  e.reminder = true;
  json a = alertmanager_alerts(e, {"", 1min}, kOpened + 700s);
  EXPECT_EQ(
      a[0]["labels"],
      (json{{"alertname", "LeakwatchMemoryLeak"}, {"service", "web"}, {"severity", "warning"}}));
  EXPECT_FALSE(a[0].contains("generatorURL"));
  EXPECT_EQ(a[0]["annotations"]["summary"].get<std::string>().rfind("Memory leak", 0), 0u);
  EXPECT_FALSE(a[0]["annotations"].contains("task_arn"));
}

TEST(AlertmanagerPayload, EscalationToOomForecastEndsTheLeakAlert) {
  Event e = leak(true);
  e.escalated = true;
  auto now = kOpened + 700s;
  json a = alertmanager_alerts(e, opts(), now);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]["labels"]["alertname"], "LeakwatchOomForecast");
  EXPECT_EQ(a[0]["labels"]["severity"], "critical");
  EXPECT_EQ(a[0]["endsAt"], core::format_utc(now + 4min));
  EXPECT_EQ(a[1]["labels"]["alertname"], "LeakwatchMemoryLeak");
  EXPECT_EQ(a[1]["labels"]["severity"], "warning");
  EXPECT_EQ(a[1]["endsAt"], core::format_utc(now));
  // Not escalated (the incident opened as critical): nothing else to end.
  e.escalated = false;
  EXPECT_EQ(alertmanager_alerts(e, opts(), now).size(), 1u);
}

TEST(AlertmanagerPayload, RecoveryResolvesWithTheSameLabelSets) {
  Event firing = leak();
  Event r = leak();
  r.type = EventType::recovered;
  r.leak.reset();
  r.time = kOpened + 3h;
  r.severity_override = Severity::warning;
  auto now = r.time + 1s;
  json a = alertmanager_alerts(r, opts(), now);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["labels"], alertmanager_alerts(firing, opts(), now)[0]["labels"]);
  EXPECT_EQ(a[0]["startsAt"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(a[0]["endsAt"], core::format_utc(r.time));

  r.severity_override = Severity::critical;  // the incident reached the OOM forecast
  a = alertmanager_alerts(r, opts(), now);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1]["labels"]["alertname"], "LeakwatchOomForecast");
  EXPECT_EQ(a[1]["endsAt"], core::format_utc(r.time));

  r.recovered_from = EventType::source_unavailable;
  a = alertmanager_alerts(r, opts(), now);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["labels"]["alertname"], "LeakwatchSourceUnavailable");
}

TEST(AlertmanagerPayload, EndsAtNeverPrecedesStartsAt) {
  Event r = leak();
  r.type = EventType::recovered;
  r.time = kOpened - 1h;  // a clock step: Alertmanager rejects endsAt < startsAt with 400
  json a = alertmanager_alerts(r, opts(), kOpened + 1s);
  EXPECT_EQ(a[0]["endsAt"], a[0]["startsAt"]);
}

TEST(AlertmanagerPayload, OneOffsAndNotices) {
  Event k = leak();
  k.type = EventType::oom_kill;
  k.leak.reset();
  k.incident_id.clear();
  k.incident_opened.reset();
  json a = alertmanager_alerts(k, opts(), k.time + 1s);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["labels"]["alertname"], "LeakwatchOomKill");
  EXPECT_EQ(a[0]["labels"]["severity"], "critical");
  EXPECT_FALSE(a[0].contains("endsAt"));  // Alertmanager's resolve_timeout ends it
  EXPECT_EQ(a[0]["startsAt"], core::format_utc(k.time));

  for (auto t : {EventType::capture_completed, EventType::capture_skipped,
                 EventType::capture_failed, EventType::restart}) {
    Event n = leak();
    n.type = t;
    EXPECT_FALSE(alertmanager_wants(n)) << to_string(t);
    EXPECT_TRUE(alertmanager_alerts(n, opts(), n.time).empty());
  }
  Event t = leak();
  t.type = EventType::test;
  EXPECT_TRUE(alertmanager_wants(t));
  EXPECT_EQ(alertmanager_alerts(t, opts(), t.time)[0]["labels"]["alertname"], "LeakwatchTest");
}

TEST(AlertmanagerPayload, HostileTextStaysValidJson) {
  Event e = leak();
  e.target = "we\"b\n\xff";
  e.leak->explanation = std::string("\x01\xc3", 2);
  auto body = alertmanager_alerts(e, opts(), e.time)
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(body));
  EXPECT_TRUE(parsed.is_array());
}

namespace {
AlertSettings am_settings(const std::string& url) {
  AlertSettings s;
  AlertmanagerSinkSettings m;
  m.name = "fleet";
  m.url = url;
  s.alertmanager.push_back(m);
  return s;
}
std::string header(const http::Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}
}  // namespace

TEST(AlertmanagerSink, PostsToTheApiPathUnderTheBaseUrl) {
  for (auto [base, target] :
       {std::pair{"http://127.0.0.1:9093", "/api/v2/alerts"},
        std::pair{"https://am.example/", "/api/v2/alerts"},
        std::pair{"https://am.example/monitoring/", "/monitoring/api/v2/alerts"}}) {
    auto s = am_settings(base);
    auto sink = make_alertmanager_sink(s.alertmanager[0], s);
    ASSERT_TRUE(sink) << base;
    auto req = (*sink)->build(leak(), kOpened);
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url.target, target);
    EXPECT_EQ(req.content_type, "application/json");
    EXPECT_TRUE(req.tls.verify);
    EXPECT_TRUE(header(req, "Authorization").empty());
    EXPECT_EQ((*sink)->kind(), SinkKind::alertmanager);
    EXPECT_EQ((*sink)->resend_interval(), std::chrono::milliseconds(1min));
  }
}

TEST(AlertmanagerSink, CredentialsGoInTheHeaderAndAreScrubbed) {
  auto s = am_settings("https://am.example");
  s.alertmanager[0].username = "leakwatch";
  s.alertmanager[0].password = core::Secret("P4ssw0rd-AM", "env AM_PASSWORD");
  auto sink = make_alertmanager_sink(s.alertmanager[0], s);
  ASSERT_TRUE(sink);
  auto req = (*sink)->build(leak(), kOpened);
  EXPECT_EQ(header(req, "Authorization"), "Basic bGVha3dhdGNoOlA0c3N3MHJkLUFN");  // base64(user:pw)
  EXPECT_EQ((*sink)->scrub("echo P4ssw0rd-AM and bGVha3dhdGNoOlA0c3N3MHJkLUFN"),
            "echo <redacted> and <redacted>");
  EXPECT_EQ((*sink)->destination(), "https://am.example/…");

  s.alertmanager[0].username.clear();
  s.alertmanager[0].password = {};
  s.alertmanager[0].bearer_token = core::Secret("tok-SECRET-123", "file /run/secrets/am");
  sink = make_alertmanager_sink(s.alertmanager[0], s);
  req = (*sink)->build(leak(), kOpened);
  EXPECT_EQ(header(req, "Authorization"), "Bearer tok-SECRET-123");
  EXPECT_EQ((*sink)->scrub("bad token tok-SECRET-123"), "bad token <redacted>");
}

TEST(AlertmanagerSink, WantsAlertStatesAboveItsSeverity) {
  auto s = am_settings("http://127.0.0.1:9093");
  s.alertmanager[0].min_severity = Severity::critical;
  auto sink = make_alertmanager_sink(s.alertmanager[0], s);
  EXPECT_FALSE((*sink)->wants(leak(false)));
  EXPECT_TRUE((*sink)->wants(leak(true)));
  Event c = leak(true);
  c.type = EventType::capture_failed;
  EXPECT_FALSE((*sink)->wants(c));
}

TEST(AlertmanagerSettings, ProblemsNameTheKeyNeverTheSecret) {
  auto s = am_settings("");
  s.alertmanager[0].name = "";
  EXPECT_EQ(validate(s), std::vector<std::string>{"alerts.alertmanager[0].url: required (the "
                                                  "Alertmanager's base URL)"});
  s = am_settings("http://am.example:9093");
  s.alertmanager[0].bearer_token = core::Secret("tok-SECRET-123", "env T");
  auto p = validate(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("credentials need an https URL"), std::string::npos) << p[0];
  EXPECT_EQ(p[0].find("tok-SECRET"), std::string::npos);
  s.alertmanager[0].url = "http://127.0.0.1:9093";  // loopback: fine
  EXPECT_TRUE(validate(s).empty());
  s.alertmanager[0].username = "u";
  p = validate(s);
  EXPECT_EQ(p.size(), 2u);  // no password; and both auth kinds
  s = am_settings("http://am.example:9093/?x=1");
  EXPECT_EQ(validate(s).size(), 1u);
  s = am_settings("http://am.example:9093");
  s.alertmanager[0].name = "";
  assign_default_names(s);
  EXPECT_EQ(s.alertmanager[0].name, "alertmanager-1");
}

TEST(AlertmanagerSink, AlerterStampsTheTaskIdentityOnEventsWithoutOne) {
  boost::asio::io_context io;  // never run: nothing leaves the process
  core::ManualClock clock(kOpened);
  auto a = Alerter::create(io, clock, am_settings("http://127.0.0.1:9"), 3);
  ASSERT_TRUE(a);
  (*a)->set_task(ecs_task("prod", "t-1", "web", "3", "app"));
  Event e = leak();
  e.task = {};
  auto out = (*a)->publish(e);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->task.task_id, "t-1");
  EXPECT_EQ(out->task.container, "app");
  EXPECT_EQ(alertmanager_alerts(*out, opts(), kOpened)[0]["labels"]["task"], "t-1");
  Event own = leak();
  own.type = EventType::oom_kill;
  out = (*a)->publish(own);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->task.task_id, "5f2c9d");  // an event's own identity wins
}
