// The Alertmanager sink against a real Prometheus Alertmanager (Debian's prometheus-alertmanager)
// on 127.0.0.1: alerts of one service deduplicate and group there, firing alerts are re-posted
// while their incident is open, and a recovery resolves them. Skipped when the binary is missing.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "integration/s3/peers.h"
#include "leakwatch/alert/alerter.h"
#include "leakwatch/alert/dispatcher.h"
#include "leakwatch/core/log.h"
#include "leakwatch/http/client.h"
#include "receiver.h"
#include "support/ecs_task.h"
#include "support/io_wait.h"

using namespace leakwatch;
using namespace leakwatch::alert;
using namespace std::chrono_literals;
using leakwatch::testing::run_until;
using nlohmann::json;

namespace {

const char* kBinary = "/usr/bin/prometheus-alertmanager";
const std::string kToken = "am-BEARER-TOKEN-7c1e55";

class Alertmanager {
 public:
  Alertmanager() {
    dir_ = test::make_temp_dir("am");
    std::ofstream(dir_ / "am.yml") << "route:\n"
                                      "  receiver: devnull\n"
                                      "  group_by: [service]\n"
                                      "  group_wait: 1s\n"
                                      "  group_interval: 1s\n"
                                      "receivers:\n"
                                      "  - name: devnull\n";
    port_ = test::free_port();
    // An empty cluster address turns gossip off: one instance, loopback only.
    child_ = std::make_unique<test::Child>(std::vector<std::string>{
        kBinary, "--config.file=" + (dir_ / "am.yml").string(),
        "--storage.path=" + (dir_ / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="});
  }
  ~Alertmanager() {
    child_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  core::Result<http::Response> get(const std::string& path) const {
    http::Request r;
    r.url = *http::Url::parse(url() + path);
    r.total_timeout = 2s;
    r.connect_timeout = 1s;
    return http::fetch_sync(std::move(r));
  }
  json get_json(const std::string& path) const {
    auto r = get(path);
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }
  bool wait_ready(std::chrono::milliseconds limit) const {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (auto r = get("/-/ready"); r && r->status == 200) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::unique_ptr<test::Child> child_;
};

using leakwatch::testing::ecs_task;

Event leak_event(const std::string& task, const std::string& incident, core::TimePoint now) {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = now;
  e.target = "web";
  e.task = ecs_task("prod", task, "web", "7", "app");
  e.memory = {812u << 20, 700u << 20, 1024u << 20};
  e.leak = LeakFigures{};
  e.leak->slope_bytes_per_hour = 38.0 * (1 << 20);
  e.leak->forecast_seconds = 7800;
  e.id = "evt_" + task;
  e.incident_id = incident;
  e.incident_opened = now - 60s;
  return e;
}

Event recovered(Event e, core::TimePoint now) {
  e.type = EventType::recovered;
  e.time = now;
  e.leak.reset();
  e.severity_override = Severity::warning;
  e.id += "_ok";
  return e;
}

}  // namespace

TEST(AlertmanagerReal, GroupsDedupesResendsAndResolves) {
  if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << kBinary << " is not installed";
  auto capture = std::make_shared<test::CaptureSink>();
  core::logger("alert")->sinks().push_back(capture);

  Alertmanager am;
  ASSERT_TRUE(am.wait_ready(10s)) << "alertmanager did not become ready";

  boost::asio::io_context io;
  core::SystemClock clock;
  AlertSettings s;
  s.delivery.initial_backoff = 100ms;
  s.delivery.max_backoff = 400ms;
  s.delivery.give_up_after = 5s;
  s.delivery.connect_timeout = 1s;
  s.delivery.request_timeout = 2s;
  s.dashboard_url = "http://127.0.0.1:9464";
  AlertmanagerSinkSettings m;
  m.name = "fleet";
  m.url = am.url() + "/";
  m.resend_interval = 1s;
  // Alertmanager does not check it here; the point is that it never reaches a log line.
  m.bearer_token = core::Secret(kToken, "env AM_TOKEN");
  s.alertmanager.push_back(m);
  Dispatcher d(io, clock, s.delivery, 5);
  auto sink = make_alertmanager_sink(m, s);
  ASSERT_TRUE(sink);
  d.add_sink(std::move(sink.value()));
  int delivered = 0, resent = 0, failed = 0;
  d.set_observer([&](const Report& r) {
    if (r.fate == Fate::delivered) (r.resend ? resent : delivered)++;
    if (r.fate != Fate::delivered && r.fate != Fate::retrying) ++failed;
  });
  auto active = [&] {
    return am.get_json("/api/v2/alerts?active=true&filter=service%3D%22web%22");
  };

  // Task A reports its leak twice (the alert, then a reminder): one alert in Alertmanager.
  Event a = leak_event("task-a", "inc_a", clock.now());
  d.submit(a);
  ASSERT_TRUE(run_until(
      io, [&] { return delivered == 1; }, 5s));
  a.reminder = true;
  a.reminder_count = 1;
  d.submit(a);
  ASSERT_TRUE(run_until(
      io, [&] { return delivered == 2; }, 5s));
  json alerts = active();
  ASSERT_TRUE(alerts.is_array()) << alerts;
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump(2);
  EXPECT_EQ(alerts[0]["labels"], (json{{"alertname", "LeakwatchMemoryLeak"},
                                       {"service", "web"},
                                       {"cluster", "prod"},
                                       {"task", "task-a"},
                                       {"container", "app"},
                                       {"severity", "warning"}}));
  EXPECT_EQ(alerts[0]["status"]["state"], "active");
  EXPECT_EQ(alerts[0]["annotations"]["summary"],
            "Memory leak suspected in web: +38 MiB/h, limit in ~2h 10m");
  EXPECT_EQ(alerts[0]["generatorURL"], "http://127.0.0.1:9464/");
  EXPECT_EQ(alerts[0]["startsAt"], core::format_utc(a.incident_opened.value()).insert(19, ".000"));

  // Task B of the same service: a second alert, in the same group (group_by: [service]).
  Event b = leak_event("task-b", "inc_b", clock.now());
  d.submit(b);
  ASSERT_TRUE(run_until(
      io, [&] { return delivered == 3; }, 5s));
  EXPECT_EQ(active().size(), 2u);
  json groups = am.get_json("/api/v2/alerts/groups");
  ASSERT_TRUE(groups.is_array()) << groups;
  ASSERT_EQ(groups.size(), 1u) << groups.dump(2);
  EXPECT_EQ(groups[0]["labels"], (json{{"service", "web"}}));
  EXPECT_EQ(groups[0]["alerts"].size(), 2u);

  // While the incidents are open the sink re-posts them, pushing endsAt forward. Alertmanager's
  // list order is its own, so each alert is compared with itself (by its task label); endsAt has
  // whole seconds, so the check waits for re-posts at least a second after the first posts.
  auto ends_by_task = [&] {
    std::map<std::string, std::string> out;
    for (const auto& x : active())
      out[x["labels"].value("task", "")] = x["endsAt"].get<std::string>();
    return out;
  };
  const auto ends_before = ends_by_task();
  ASSERT_EQ(ends_before.size(), 2u);
  ASSERT_TRUE(run_until(
      io, [&] { return resent >= 4; }, 6s))
      << "no re-post";
  const auto ends_after = ends_by_task();
  ASSERT_EQ(ends_after.size(), 2u);
  for (const auto& [task, ends] : ends_before)
    EXPECT_GT(ends_after.at(task), ends) << task;

  // Recovery: endsAt set, Alertmanager resolves both; no re-post brings them back.
  d.submit(recovered(a, clock.now()));
  d.submit(recovered(b, clock.now()));
  ASSERT_TRUE(run_until(
      io, [&] { return delivered == 5; }, 5s));
  EXPECT_TRUE(active().empty()) << active().dump(2);
  int resent_at_recovery = resent;
  run_until(
      io, [] { return false; }, 1500ms);
  EXPECT_EQ(resent, resent_at_recovery);
  EXPECT_TRUE(active().empty()) << active().dump(2);
  EXPECT_EQ(failed, 0);

  auto& sinks = core::logger("alert")->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), capture), sinks.end());
  for (const auto& l : capture->lines())
    EXPECT_EQ(l.find(kToken), std::string::npos) << "secret in log line: " << l;
}

// With archive.s3 the leak alert names the latest capture's S3 object, and the re-posts carry its
// upload state as it is now: Alertmanager shows "pending", then "uploaded" once the uploader says
// so, without a new leak event.
TEST(AlertmanagerReal, RepostsCarryTheCurrentS3UploadState) {
  if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << kBinary << " is not installed";
  Alertmanager am;
  ASSERT_TRUE(am.wait_ready(10s)) << "alertmanager did not become ready";

  boost::asio::io_context io;
  core::SystemClock clock;
  AlertSettings s;
  s.delivery.initial_backoff = 100ms;
  s.delivery.give_up_after = 5s;
  AlertmanagerSinkSettings m;
  m.name = "fleet";
  m.url = am.url();
  m.resend_interval = 1s;
  s.alertmanager.push_back(m);
  auto alerter = Alerter::create(io, clock, s, 9);
  ASSERT_TRUE(alerter);
  int delivered = 0, resent = 0;
  (*alerter)->dispatcher().set_observer([&](const Report& r) {
    if (r.fate == Fate::delivered) (r.resend ? resent : delivered)++;
  });
  const std::string id = "web/20261203T181000Z-leak-series-1of3";
  s3::UploadState state = s3::UploadState::pending;
  (*alerter)->set_archive_linker([&](const std::string& asked) -> std::optional<s3::ObjectLink> {
    if (asked != id) return std::nullopt;
    s3::ObjectLink o;
    o.archive_id = id;
    o.bucket = "my-bucket";
    o.key = "leakwatch/prod/web/task-a/web/20261203T181000Z-leak-series-1of3.heapsnapshot.zst";
    o.metadata_key = "leakwatch/prod/web/task-a/web/20261203T181000Z-leak-series-1of3.json";
    o.console_url = s3::console_url("eu-west-1", o.bucket, o.key);
    o.state = state;
    return o;
  });

  Event cap;
  cap.type = EventType::capture_completed;
  cap.time = clock.now();
  cap.target = "web";
  cap.task = ecs_task("prod", "task-a", "web", "7", "app");
  cap.capture = CaptureFigures{};
  cap.capture->archive_ids = {id};
  ASSERT_FALSE((*alerter)->publish(cap));  // no sink wants a capture notice
  ASSERT_TRUE((*alerter)->publish(leak_event("task-a", "", clock.now())));
  ASSERT_TRUE(run_until(
      io, [&] { return delivered == 1; }, 5s));
  auto annotation = [&](const std::string& key) -> std::string {
    json a = am.get_json("/api/v2/alerts?active=true&filter=service%3D%22web%22");
    if (!a.is_array() || a.size() != 1) return "(alerts: " + a.dump() + ")";
    return a[0]["annotations"].value(key, "(none)");
  };
  EXPECT_EQ(annotation("s3_snapshot"),
            "s3://my-bucket/leakwatch/prod/web/task-a/web/"
            "20261203T181000Z-leak-series-1of3.heapsnapshot.zst");
  EXPECT_EQ(annotation("s3_upload"), "pending");
  EXPECT_NE(
      annotation("s3_console_url").find("https://eu-west-1.console.aws.amazon.com/s3/object/"),
      std::string::npos);

  state = s3::UploadState::uploaded;
  ASSERT_TRUE(run_until(
      io, [&] { return resent >= 1; }, 4s))
      << "no re-post";
  EXPECT_EQ(annotation("s3_upload"), "uploaded");
  EXPECT_EQ(delivered, 1);  // a re-post, not a new alert
}
