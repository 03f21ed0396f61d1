// The target identity on every surface, end to end: `leakwatch run` with source ecs against the
// real ECS Managed Instances capture (tests/data/fixtures/ecs, served by the fake task metadata
// endpoint), a snapshot dropped into capture.watch_dir, a real webhook receiver (demo/receiver.js).
// The same task must be named in the webhook alert, the archived metadata file, /api/v1/status and
// the leakwatch_target_info metric.
#include <gtest/gtest.h>

#include <optional>

#include "integration/e2e/e2e_support.h"
#include "integration/source/child_process.h"

namespace leakwatch {
namespace {

using namespace leakwatch::e2e;

const fs::path kSource = LEAKWATCH_SOURCE_DIR;
const fs::path kFixtures = LEAKWATCH_FIXTURES_DIR;
constexpr const char* kScenario = "fx-ecs-exporter-2026-09-managed-instances";
constexpr const char* kTaskId = "de02d89bb57c4ef0b6e3745d7c2c9347";

// What the fixture's `/task` says about container "main" (tests/data/fixtures/README.md §1).
void expect_fixture_identity(const json& id, const std::string& where) {
  ASSERT_TRUE(id.is_object()) << where << ": " << id.dump();
  EXPECT_EQ(id.value("platform", ""), "ecs") << where;
  EXPECT_EQ(id.value("cluster", ""), "prom-ecs-exporter-fixtures") << where;
  EXPECT_EQ(id.value("service", ""), "prom-ecs-exporter-fixtures-managed-instances") << where;
  EXPECT_EQ(id.value("task_family", ""), "ecs-exporter-fixtures-managed-instances") << where;
  EXPECT_EQ(id.value("task_revision", ""), "2") << where;
  EXPECT_EQ(id.value("task_id", ""), kTaskId) << where;
  EXPECT_EQ(
      id.value("task_arn", ""),
      std::string("arn:aws:ecs:us-east-1:829490980523:task/prom-ecs-exporter-fixtures/") + kTaskId)
      << where;
  EXPECT_EQ(id.value("container", ""), "main") << where;
  EXPECT_EQ(id.value("container_id", ""), std::string(kTaskId) + "-3935363592") << where;
  EXPECT_EQ(id.value("image_digest", ""),
            "sha256:e68d4993ccda3a65a72cf4213e8edf9ce1b36ca0fbfdd9029e504715354cb4fe")
      << where;
  EXPECT_EQ(id.value("availability_zone", ""), "us-east-1a") << where;
  EXPECT_EQ(id.value("launch_type", ""), "MANAGED_INSTANCES") << where;
}

// The peers both tests talk to: the fake ECS task metadata endpoint serving the real fixtures, and
// the webhook receiver recording every alert, in a temporary directory.
class IdentityEverywhere : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_node()) GTEST_SKIP() << "needs node";
    ASSERT_FALSE(tmp_.path().empty());
    ecs_.emplace(std::vector<std::string>{
        "node", (kSource / "tests/integration/source/fake_ecs_server.js").string(),
        kFixtures.string()});
    ASSERT_TRUE(ecs_->started());
    auto port = ecs_->read_line(15s);
    ASSERT_TRUE(port.has_value()) << "the fake ECS endpoint did not start";
    ecs_port_ = *port;
    receiver_.emplace(
        std::vector<std::string>{"node", (kSource / "demo/receiver.js").string(), "--record",
                                 path("alerts.jsonl").string(), "--quiet"},
        path("receiver.log"));
    receiver_port_ = receiver_->listening_port();
    ASSERT_GT(receiver_port_, 0) << receiver_->output();
  }
  fs::path path(const std::string& n) const { return tmp_.path() / n; }

  TempDir tmp_;
  std::optional<test_peer::ChildProcess> ecs_;
  std::optional<Process> receiver_;
  std::string ecs_port_;
  int receiver_port_ = 0;
};

TEST_F(IdentityEverywhere, EcsTaskIsNamedInAlertsMetadataStatusAndMetrics) {
  fs::create_directories(path("watch"));
  std::ostringstream y;
  y << "target:\n  name: web\n  source: ecs\n  ecs_container: main\n"
    << "  ecs_metadata_uri: http://127.0.0.1:" << ecs_port_ << "/" << kScenario << "\n"
    << "  ecs_timeout: 2s\n"
    << "poll_interval: 1s\n"
    << "state_dir: " << path("state").string() << "\n"
    << "capture:\n  url: http://127.0.0.1:1/heapdump\n  key: { env: HEAP_SECRET_KEY }\n"
    << "  watch_dir: " << path("watch").string() << "\n  watch_interval: 1s\n"
    << "archive:\n  dir: " << path("archive").string()
    << "\n"
    // An S3 archive nobody answers: uploads stay pending (retried), and the alert says so.
    << "  s3:\n    bucket: leak-bucket\n    prefix: fleet\n    region: us-east-1\n"
    << "    endpoint: http://127.0.0.1:1\n"
    << "alerts:\n  webhooks:\n    - name: receiver\n      url: http://127.0.0.1:" << receiver_port_
    << "/hooks/leakwatch\n"
    << "server:\n  listen: 127.0.0.1:0\nlog:\n  level: info\n";
  spit(path("leakwatch.yaml"), y.str());

  Process daemon({LEAKWATCH_BIN, "run", "--config", path("leakwatch.yaml").string()},
                 path("leakwatch.log"), nullptr,
                 {"HEAP_SECRET_KEY=identity-test-key", "AWS_ACCESS_KEY_ID=AKIDIDENTITYTEST",
                  "AWS_SECRET_ACCESS_KEY=identity-aws-secret"});
  auto line = daemon.wait_for("api listening on 127.0.0.1:", 30s);
  ASSERT_TRUE(line.has_value()) << daemon.output();
  int port = std::atoi(line->substr(line->find("127.0.0.1:") + 10).c_str());

  // The app writes a snapshot near its heap limit: archived and alerted on.
  fs::copy_file(kFixtures.parent_path() / "heapsnap" / "weak-orphan.heapsnapshot",
                path("watch") / "Heap.20261204.031500.1.0.001.heapsnapshot");
  std::vector<json> captured;
  ASSERT_TRUE(eventually(
      [&] {
        captured = alerts_of(read_alerts(path("alerts.jsonl")), "web", "capture_completed");
        return !captured.empty();
      },
      30s, 200ms))
      << daemon.output();
  expect_fixture_identity(captured[0]["identity"], "webhook alert");

  auto meta = files_in(path("archive"), [](const std::string& n) { return n.ends_with(".json"); });
  ASSERT_EQ(meta.size(), 1u);
  auto archived = json::parse(read_file(meta[0]));
  expect_fixture_identity(archived["identity"], "archived metadata");

  // The alert names the S3 object the uploader queued (the near-heap-limit snapshot is uploaded
  // like every capture), under the task's key layout, and says the upload is still pending.
  const json& objects = captured[0]["capture"]["s3_objects"];
  ASSERT_EQ(objects.size(), 1u) << captured[0].dump();
  const std::string dir = std::string("fleet/prom-ecs-exporter-fixtures/") +
                          "ecs-exporter-fixtures-managed-instances/" + kTaskId + "/web/";
  const std::string file = archived.value("file", "");
  ASSERT_TRUE(file.ends_with(".heapsnapshot") || file.ends_with(".heapsnapshot.zst")) << file;
  EXPECT_EQ(objects[0].value("key", ""), dir + file);
  EXPECT_EQ(objects[0].value("url", ""), "s3://leak-bucket/" + dir + file);
  EXPECT_EQ(objects[0].value("metadata_key", ""), dir + meta[0].filename().string());
  EXPECT_EQ(objects[0].value("upload", ""), "pending");
  EXPECT_TRUE(objects[0]["console_url"].is_null());  // an S3-compatible endpoint
  EXPECT_EQ(read_file(path("alerts.jsonl")).find("identity-aws-secret"), std::string::npos);

  auto status = get_json(port, "/api/v1/status");
  ASSERT_TRUE(status.has_value());
  expect_fixture_identity((*status)["identity"], "/api/v1/status");

  auto metrics = http_request(port, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  std::string info;
  std::istringstream in(metrics->body);
  for (std::string l; std::getline(in, l);)
    if (l.rfind("leakwatch_target_info{", 0) == 0) info = l;
  for (const std::string& want : std::vector<std::string>{
           "cluster=\"prom-ecs-exporter-fixtures\"", "task_id=\"" + std::string(kTaskId) + "\"",
           "task_family=\"ecs-exporter-fixtures-managed-instances\"", "task_revision=\"2\"",
           "container=\"main\"", "availability_zone=\"us-east-1a\"", "platform=\"ecs\""})
    EXPECT_NE(info.find(want), std::string::npos) << want << " in " << info;
  EXPECT_TRUE(info.ends_with("} 1")) << info;

  // The identity was read once: the log names it, and no secret-looking value is in it.
  EXPECT_NE(
      daemon.output().find("target identity: platform=ecs cluster=prom-ecs-exporter-fixtures"),
      std::string::npos)
      << daemon.output();
  EXPECT_EQ(daemon.output().find("identity-test-key"), std::string::npos);
  EXPECT_EQ(daemon.output().find("identity-aws-secret"), std::string::npos);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(15s), 0);
}

// An in-place restart from the limit (ECS restart policy) reaches the receiver as an OOM kill of
// the named task, through the engine's own OOM path.
TEST_F(IdentityEverywhere, EcsRestartFromTheLimitIsAlertedAsAnOomKillOfTheTask) {
  std::ostringstream y;
  y << "target:\n  name: web\n  source: ecs\n  ecs_container: main\n"
    << "  ecs_metadata_uri: http://127.0.0.1:" << ecs_port_ << "/oom-restart\n"
    << "poll_interval: 1s\nstate_dir: " << path("state").string() << "\n"
    << "alerts:\n  webhooks:\n    - name: receiver\n      url: http://127.0.0.1:" << receiver_port_
    << "/hooks/leakwatch\n"
    << "server:\n  enabled: false\nlog:\n  level: info\n";
  spit(path("leakwatch.yaml"), y.str());
  Process daemon({LEAKWATCH_BIN, "run", "--config", path("leakwatch.yaml").string()},
                 path("leakwatch.log"));
  // Two polls at the limit, then the restart.
  ASSERT_TRUE(daemon.wait_for("watching target=", 15s).has_value()) << daemon.output();
  std::this_thread::sleep_for(2500ms);
  ASSERT_TRUE(daemon.running()) << daemon.output();
  ASSERT_TRUE(http_request(std::atoi(ecs_port_.c_str()), "GET", "/oom-restart/_bump").has_value());
  std::vector<json> ooms;
  ASSERT_TRUE(eventually(
      [&] {
        ooms = alerts_of(read_alerts(path("alerts.jsonl")), "web", "oom_kill");
        return !ooms.empty();
      },
      20s, 200ms))
      << daemon.output();
  EXPECT_EQ(ooms.size(), 1u);
  expect_fixture_identity(ooms[0]["identity"], "oom_kill alert");
  EXPECT_FALSE(alerts_of(read_alerts(path("alerts.jsonl")), "web", "restart").empty());
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(15s), 0);
}

}  // namespace
}  // namespace leakwatch
