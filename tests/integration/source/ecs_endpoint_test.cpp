// The ECS source against a real HTTP server on loopback (a Node.js stand-in for the task metadata
// endpoint v4) serving the real captures, plus errors, timeouts, garbage and restarts.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "child_process.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/http/client.h"
#include "leakwatch/source/source.h"

using namespace leakwatch;
using namespace leakwatch::source;
using namespace std::chrono_literals;

namespace {

class EcsEndpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<test_peer::ChildProcess>(std::vector<std::string>{
        "node", LEAKWATCH_TESTS_DIR "/integration/source/fake_ecs_server.js",
        LEAKWATCH_FIXTURES_DIR});
    ASSERT_TRUE(server_->started());
    auto port = server_->read_line(10s);
    ASSERT_TRUE(port.has_value()) << "the fake ECS endpoint (node) did not start";
    base_ = "http://127.0.0.1:" + *port;
  }
  static void TearDownTestSuite() { server_.reset(); }

  // A source for container `name` at scenario `scenario`.
  std::unique_ptr<Source> make(const std::string& scenario, const std::string& name,
                               std::chrono::milliseconds timeout = 2s) {
    TargetSettings t;
    t.source = SourceKind::ecs;
    t.ecs_container = name;
    t.ecs_metadata_uri = base_ + "/" + scenario + "/";
    t.ecs_timeout = timeout;
    auto src = make_source(io_, t, clock_);
    EXPECT_TRUE(src.ok()) << (src.ok() ? "" : src.error().to_string());
    return src.ok() ? std::move(*src) : nullptr;
  }
  core::Result<core::Sample> read(Source& s) { return read_sync(io_, s); }

  static std::unique_ptr<test_peer::ChildProcess> server_;
  static std::string base_;
  boost::asio::io_context io_;
  core::ManualClock clock_;
};
std::unique_ptr<test_peer::ChildProcess> EcsEndpoint::server_;
std::string EcsEndpoint::base_;

}  // namespace

TEST_F(EcsEndpoint, ManagedInstancesCaptureOverHttp) {
  auto src = make("fx-ecs-exporter-2026-09-managed-instances", "main");
  ASSERT_TRUE(src);
  auto s = read(*src);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->usage_bytes, 99540992u);
  EXPECT_EQ(s->working_set_bytes, 55701504u);
  EXPECT_EQ(s->anon_bytes, 21495808u);
  EXPECT_EQ(s->limit_bytes, 100663296u);
  EXPECT_EQ(s->instance, "de02d89bb57c4ef0b6e3745d7c2c9347-3935363592");
  EXPECT_EQ(s->time, clock_.now());
  EXPECT_FALSE(s->restarted);
  EXPECT_NE(src->describe().find("\"main\""), std::string::npos);
  // Polling again is stable.
  auto again = read(*src);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->restarted);
}

TEST_F(EcsEndpoint, EveryExporterCaptureServes) {
  struct Case {
    const char* dir;
    const char* container;
    std::uint64_t usage;
    std::optional<std::uint64_t> limit;
  } cases[] = {
      {"ecs-exporter-2025-02-ec2", "prometheus", 60981248, 268435456},
      // What the task's limit leaves after the other containers' working sets (ecs_test.cpp).
      {"ecs-exporter-2025-02-fargate", "ecs-exporter", 84111360, 461320192},
      {"ecs-exporter-2025-04-ec2-awsvpc", "main", 26918912, 212402176},
      {"ecs-exporter-2025-04-fargate", "main", 24264704, 497205248},
  };
  for (const auto& c : cases) {
    auto src = make(std::string("fx-") + c.dir, c.container);
    ASSERT_TRUE(src);
    auto s = read(*src);
    ASSERT_TRUE(s.ok()) << c.dir << ": " << s.error().to_string();
    EXPECT_EQ(s->usage_bytes, c.usage) << c.dir;
    EXPECT_EQ(s->limit_bytes, c.limit) << c.dir;
  }
}

TEST_F(EcsEndpoint, StoppedContainerAndMissingName) {
  auto stopped = make("fx-ecs-exporter-2025-02-fargate", "nonessential");
  auto r = read(*stopped);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::not_running);
  auto missing = make("fx-ecs-exporter-2025-02-fargate", "web");
  r = read(*missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::no_container);
  EXPECT_NE(r.error().message.find("\"prometheus\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("\"ecs-exporter\""), std::string::npos);
}

TEST_F(EcsEndpoint, HttpErrorsAreReportedAndTheNextPollWorks) {
  for (int code : {404, 500, 503}) {
    auto src = make("status-" + std::to_string(code), "main");
    auto r = read(*src);
    ASSERT_FALSE(r.ok()) << code;
    EXPECT_EQ(r.error().code_text(), "http_" + std::to_string(code));
    EXPECT_NE(r.error().message.find("/task"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("fake endpoint"), std::string::npos) << r.error().message;
  }
  auto half = make("stats-500", "main");
  auto r = read(*half);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code_text(), "http_500");
  EXPECT_NE(r.error().message.find("/task/stats"), std::string::npos);
}

TEST_F(EcsEndpoint, SlowAndStalledAnswersTimeOut) {
  for (const char* scenario : {"slow", "stall-body"}) {
    auto src = make(scenario, "prometheus", 300ms);
    auto t0 = std::chrono::steady_clock::now();
    auto r = read(*src);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r.ok()) << scenario;
    EXPECT_EQ(r.error().code, core::Errc::timeout) << scenario << ": " << r.error().to_string();
    EXPECT_LT(took, 2s) << scenario;
  }
}

TEST_F(EcsEndpoint, MalformedJsonIsAParseError) {
  auto src = make("malformed", "web");
  auto r = read(*src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::parse);
  EXPECT_NE(r.error().message.find("/task"), std::string::npos);
}

TEST_F(EcsEndpoint, NobodyListeningIsAConnectError) {
  TargetSettings t;
  t.source = SourceKind::ecs;
  t.ecs_container = "web";
  t.ecs_metadata_uri = "http://127.0.0.1:1/v4/x";  // port 1: nothing listens
  t.ecs_timeout = 1s;
  auto src = make_source(io_, t, clock_);
  ASSERT_TRUE(src.ok());
  auto r = read_sync(io_, **src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::connect);
}

TEST_F(EcsEndpoint, ChangedDockerIdIsARestart) {
  auto src = make("restart", "web");
  auto s1 = read(*src);
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  EXPECT_FALSE(s1->restarted);
  // Container limit 256 MiB, unlimited sentinel in stats, task 512 MiB.
  EXPECT_EQ(s1->limit_bytes, 256u << 20);
  EXPECT_EQ(s1->working_set_bytes, s1->usage_bytes - 300000);
  http::Request bump;
  bump.url = *http::Url::parse(base_ + "/restart/_bump");
  ASSERT_TRUE(http::fetch_sync(bump).ok());
  auto s2 = read(*src);
  ASSERT_TRUE(s2.ok());
  EXPECT_TRUE(s2->restarted);
  EXPECT_NE(s2->instance, s1->instance);
  auto s3 = read(*src);
  ASSERT_TRUE(s3.ok());
  EXPECT_FALSE(s3->restarted);
}

TEST_F(EcsEndpoint, IncreasedRestartCountIsARestart) {
  auto src = make("restart-count", "web");
  auto s1 = read(*src);
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  http::Request bump;
  bump.url = *http::Url::parse(base_ + "/restart-count/_bump");
  ASSERT_TRUE(http::fetch_sync(bump).ok());
  auto s2 = read(*src);
  ASSERT_TRUE(s2.ok());
  EXPECT_TRUE(s2->restarted);
  EXPECT_EQ(s2->instance.substr(0, 10), s1->instance.substr(0, 10));  // same DockerId
  EXPECT_NE(s2->instance, s1->instance);
}

// Restart policy: a restart from the limit (RestartCount 0 -> 1, derived from the Managed Instances
// capture) becomes one OOM kill in the sample's counter, which the engine and detector consume as
// they do the cgroup's memory.events oom_kill.
TEST_F(EcsEndpoint, RestartFromTheLimitCountsAsAnOomKill) {
  auto src = make("oom-restart", "main");
  auto s1 = read(*src);
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  EXPECT_EQ(s1->oom_kill_count, 0u);
  auto again = read(*src);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->oom_kill_count, 0u);
  http::Request bump;
  bump.url = *http::Url::parse(base_ + "/oom-restart/_bump");
  ASSERT_TRUE(http::fetch_sync(bump).ok());
  auto s2 = read(*src);
  ASSERT_TRUE(s2.ok()) << s2.error().to_string();
  EXPECT_TRUE(s2->restarted);
  EXPECT_EQ(s2->oom_kill_count, 1u);
  auto s3 = read(*src);
  ASSERT_TRUE(s3.ok());
  EXPECT_FALSE(s3->restarted);
  EXPECT_EQ(s3->oom_kill_count, 1u);  // counted once
}

TEST_F(EcsEndpoint, DestroyingTheSourceMidRequestIsSafe) {
  auto src = make("slow", "prometheus", 5s);
  bool called = false;
  src->read([&](core::Result<core::Sample>) { called = true; });
  src.reset();  // the answer arrives after the source is gone
  io_.restart();
  io_.run_for(200ms);
  EXPECT_FALSE(called);
}
