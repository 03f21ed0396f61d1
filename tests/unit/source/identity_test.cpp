// The target identity from the real ECS task metadata captures (tests/data/fixtures/ecs): every
// field the surfaces show, nothing else, and hostile values cleaned.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "leakwatch/core/identity.h"
#include "leakwatch/core/utf8.h"
#include "leakwatch/source/ecs.h"
#include "support/read_file.h"

namespace fs = std::filesystem;
using leakwatch::testing::read_file;
using namespace leakwatch;
using namespace leakwatch::source;

namespace {
const fs::path kFixtures = LEAKWATCH_FIXTURES_DIR;
EcsTask task_of(const std::string& dir) {
  auto t = parse_ecs_task(read_file(kFixtures / "ecs" / dir / "task-metadata.json"));
  EXPECT_TRUE(t.ok()) << dir;
  return t.ok() ? *t : EcsTask{};
}
}  // namespace

TEST(EcsIdentity, ManagedInstancesTaskNamesClusterServiceTaskContainerAndImage) {
  auto id = ecs_identity(task_of("ecs-exporter-2026-09-managed-instances"), "main");
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  EXPECT_TRUE(id->ecs());
  EXPECT_EQ(id->cluster, "prom-ecs-exporter-fixtures");  // the ARN's last segment
  EXPECT_EQ(id->service, "prom-ecs-exporter-fixtures-managed-instances");
  EXPECT_EQ(id->family_revision(), "ecs-exporter-fixtures-managed-instances:2");
  EXPECT_EQ(id->task_arn,
            "arn:aws:ecs:us-east-1:829490980523:task/prom-ecs-exporter-fixtures/"
            "de02d89bb57c4ef0b6e3745d7c2c9347");
  EXPECT_EQ(id->task_id, "de02d89bb57c4ef0b6e3745d7c2c9347");
  EXPECT_EQ(id->container, "main");
  EXPECT_EQ(id->container_id, "de02d89bb57c4ef0b6e3745d7c2c9347-3935363592");
  EXPECT_EQ(id->image_digest,
            "sha256:e68d4993ccda3a65a72cf4213e8edf9ce1b36ca0fbfdd9029e504715354cb4fe");
  EXPECT_EQ(id->availability_zone, "us-east-1a");
  EXPECT_EQ(id->launch_type, "MANAGED_INSTANCES");
  // The names every surface uses, in order.
  std::vector<std::string> names;
  for (const auto& [k, v] : id->fields())
    names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"platform", "cluster", "service", "task_family",
                                             "task_revision", "task_arn", "task_id", "container",
                                             "container_id", "image", "image_digest",
                                             "availability_zone", "launch_type"}));
}

TEST(EcsIdentity, EveryCaptureGivesAnIdentityAndShortClusterNamesStayAsTheyAre) {
  for (const char* dir :
       {"aws-docs-ec2", "aws-docs-fargate", "ecs-exporter-2025-02-ec2",
        "ecs-exporter-2025-02-fargate", "ecs-exporter-2025-04-ec2-awsvpc",
        "ecs-exporter-2025-04-fargate", "ecs-exporter-2026-09-managed-instances"}) {
    auto id = ecs_identity(task_of(dir), "");
    ASSERT_TRUE(id.ok()) << dir << ": " << id.error().to_string();
    EXPECT_FALSE(id->cluster.empty()) << dir;
    EXPECT_FALSE(id->task_id.empty()) << dir;
    EXPECT_EQ(id->task_id.find('/'), std::string::npos) << dir;
    EXPECT_EQ(id->cluster.find('/'), std::string::npos) << dir;
    EXPECT_TRUE(id->container.empty()) << dir;
  }
  // ecs-exporter 2025-02 EC2 gives the cluster as a short name, not an ARN.
  auto ec2 = ecs_identity(task_of("ecs-exporter-2025-02-ec2"), "prometheus");
  ASSERT_TRUE(ec2.ok());
  EXPECT_EQ(ec2->cluster, "prom-ecs-exporter-sandbox");
  EXPECT_EQ(ec2->launch_type, "EC2");
  EXPECT_EQ(ec2->image, "prom/prometheus:v3.1.0");
  // The Fargate documentation example has no ServiceName: the field is left out.
  auto fg = ecs_identity(task_of("aws-docs-fargate"), "fargate-app");
  ASSERT_TRUE(fg.ok());
  EXPECT_TRUE(fg->service.empty());
  EXPECT_EQ(fg->family_revision(), "sample-fargate:5");
  EXPECT_EQ(fg->availability_zone, "us-east-1d");
}

TEST(EcsIdentity, UnknownContainerAndIncompleteTasksAreErrors) {
  auto missing = ecs_identity(task_of("aws-docs-fargate"), "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, core::Errc::no_container);
  auto t = parse_ecs_task(R"({"Containers":[]})");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(ecs_identity(*t, "").ok());
}

TEST(EcsIdentity, HostileValuesAreCleanedAndBoundedAndSecretsStayOut) {
  std::string big(5000, 'x');
  auto t = parse_ecs_task(
      std::string(R"({"Cluster":"c\"l\\u\nster","TaskARN":"arn:aws:ecs:r:1:task/c/t\u0001id",)") +
      R"("Family":"fam\u007f)" + big + R"(","Revision":7,)" +
      R"("Containers":[{"Name":"web","DockerId":"d","Image":"img",)" +
      R"("Environment":["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI"],)" +
      R"("Labels":{"secret":"wJalrXUtnFEMI"},"LogOptions":{"token":"wJalrXUtnFEMI"}}]})");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  auto id = ecs_identity(*t, "web");
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  EXPECT_EQ(id->revision, "7");  // a number is accepted
  for (const auto& [k, v] : id->fields()) {
    EXPECT_TRUE(core::is_valid_utf8(v)) << k;
    EXPECT_LE(v.size(), core::kIdentityValueMax + 3) << k;
    for (unsigned char c : v)
      EXPECT_TRUE(c >= 0x20 && c != 0x7f) << k << " holds a control character";
    EXPECT_EQ(v.find("wJalrXUtnFEMI"), std::string::npos) << k;
  }
  EXPECT_EQ(id->cluster, "c\"l\\u?ster");
  EXPECT_EQ(id->task_id, "t?id");
  core::TargetIdentity raw;
  ASSERT_TRUE(raw.set("host", std::string("h\xff\xc3", 3)));  // not UTF-8
  EXPECT_TRUE(core::is_valid_utf8(raw.host));
}

TEST(TargetIdentity, SetReadsBackWhatFieldsWrote) {
  auto id = ecs_identity(task_of("ecs-exporter-2026-09-managed-instances"), "main");
  ASSERT_TRUE(id.ok());
  core::TargetIdentity copy;
  for (const auto& [k, v] : id->fields())
    EXPECT_TRUE(copy.set(k, v)) << k;
  EXPECT_EQ(copy, *id);
  EXPECT_FALSE(copy.set("password", "x"));
  EXPECT_TRUE(core::TargetIdentity{}.empty());
  auto host = core::host_identity();
  EXPECT_FALSE(host.ecs());
  EXPECT_EQ(host.fields().front(), (std::pair<std::string, std::string>{"platform", "host"}));
}

// ---- OOM kills from ECS restart counts
// -----------------------------------------------------------

namespace {
const fs::path kRestart = kFixtures / "ecs" / "restart-policy-derived";
const core::TimePoint kT0 = core::from_unix_seconds(1'790'000'000);

struct Reading {
  EcsContainer main;
  core::Sample sample;
};
Reading reading(const fs::path& task_file, const fs::path& stats_file) {
  auto task = parse_ecs_task(read_file(task_file));
  EXPECT_TRUE(task.ok()) << task_file;
  auto stats = parse_ecs_task_stats(read_file(stats_file));
  EXPECT_TRUE(stats.ok()) << stats_file;
  Reading r;
  if (!task.ok() || !stats.ok()) return r;
  for (const auto& c : task->containers)
    if (c.name == "main") r.main = c;
  auto s = ecs_sample(*task, *stats, "main", kT0);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  if (s.ok()) r.sample = *s;
  return r;
}
}  // namespace

TEST(EcsOomTracker, ARestartFromTheLimitIsAnOomKillCountedOnce) {
  // Before: restart policy on, RestartCount 0, the working set at 95% of its 96 MiB limit.
  auto before =
      reading(kRestart / "task-metadata-restart0.json", kRestart / "task-stats-anon-at-limit.json");
  ASSERT_EQ(before.main.restart_count, 0);
  ASSERT_TRUE(before.sample.limit_bytes.has_value());
  EXPECT_GE(before.sample.working_set_bytes, 0.9 * *before.sample.limit_bytes);
  // After: RestartCount 1, same DockerId, no ExitCode (the agent does not record it on a restart).
  auto after =
      reading(kRestart / "task-metadata-restart1.json", kRestart / "task-stats-after-restart.json");
  ASSERT_EQ(after.main.restart_count, 1);
  EXPECT_FALSE(after.main.exit_code.has_value());
  EXPECT_NE(after.sample.instance, before.sample.instance);  // "#restart=1": a restart

  EcsOomTracker t;
  EXPECT_EQ(t.observe(before.main, std::nullopt), 0u);  // counting starts at 0
  EXPECT_EQ(t.observe(before.main, before.sample), 0u);
  EXPECT_EQ(t.observe(after.main, before.sample), 1u);
  EXPECT_EQ(t.observe(after.main, after.sample), 1u);  // the same restart seen again
}

TEST(EcsOomTracker, ExitCode137CountsAndAPlainRestartDoesNot) {
  // The real capture: usage at 98.9% of the limit, but mostly page cache (working set 55%).
  auto cache_heavy =
      reading(kRestart / "task-metadata-restart0.json",
              kFixtures / "ecs" / "ecs-exporter-2026-09-managed-instances" / "task-stats.json");
  ASSERT_GT(cache_heavy.sample.usage_bytes, 0.98 * *cache_heavy.sample.limit_bytes);
  auto plain =
      reading(kRestart / "task-metadata-restart1.json", kRestart / "task-stats-after-restart.json");
  auto killed = reading(kRestart / "task-metadata-restart1-exit137.json",
                        kRestart / "task-stats-after-restart.json");
  ASSERT_EQ(killed.main.exit_code, 137);

  EcsOomTracker a;
  a.observe(cache_heavy.main, std::nullopt);
  EXPECT_EQ(a.observe(plain.main, cache_heavy.sample), 0u) << "a cache-full restart is no OOM kill";

  EcsOomTracker b;
  b.observe(cache_heavy.main, std::nullopt);
  EXPECT_EQ(b.observe(killed.main, cache_heavy.sample), 1u) << "exit 137 is the OOM killer's kill";

  // No restart policy (no RestartCount, every other capture): no count at all.
  auto no_policy =
      reading(kFixtures / "ecs" / "ecs-exporter-2026-09-managed-instances" / "task-metadata.json",
              kFixtures / "ecs" / "ecs-exporter-2026-09-managed-instances" / "task-stats.json");
  EcsOomTracker c;
  EXPECT_FALSE(c.observe(no_policy.main, std::nullopt).has_value());
}

TEST(EcsOomTracker, ACgroupCountOfTheSameKillsIsNotAddedTo) {
  EXPECT_EQ(EcsOomTracker::merge(std::nullopt, 2u), 2u);
  EXPECT_EQ(EcsOomTracker::merge(3u, std::nullopt), 3u);
  EXPECT_EQ(EcsOomTracker::merge(1u, 1u), 1u);  // one kill seen by both: one
  EXPECT_EQ(EcsOomTracker::merge(1u, 2u), 2u);
  EXPECT_FALSE(EcsOomTracker::merge(std::nullopt, std::nullopt).has_value());
}
