// ECS task metadata v4 parsers against every ECS and Docker capture in the shared fixtures.
#include "leakwatch/source/ecs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "leakwatch/source/parse.h"
#include "support/read_file.h"

namespace fs = std::filesystem;
using leakwatch::testing::read_file;
using namespace leakwatch;
using namespace leakwatch::source;

namespace {
const fs::path kFixtures = LEAKWATCH_FIXTURES_DIR;
constexpr std::optional<std::uint64_t> kNone = std::nullopt;
const core::TimePoint kNow = core::from_unix_seconds(1'790'000'000);

struct Sampled {
  const char* dir;
  const char* container;
  std::uint64_t usage, working_set;
  std::optional<std::uint64_t> anon, limit, peak;
  const char* docker_id;
};

// usage/limit straight from memory_stats; working set = usage - (total_)inactive_file; limit =
// the container's, capped by what the task's Limits.Memory leaves it: that limit less the other
// running containers' working sets (512 MiB on these Fargate tasks, 256 MiB on the EC2 awsvpc task
// where `main` has no container limit and stats show the host's 439066624). Fargate 2025-02:
// prometheus 512 MiB - 45010944 (ecs-exporter), ecs-exporter 512 MiB - 75550720 (prometheus).
// EC2 awsvpc: main 256 MiB - 55615488 (ecs-exporter) - 417792 (pause); the pause container
// 256 MiB - 55615488 - 23474176 (main). A container limit below that stays (ecs-exporter's
// 128 MiB, main's 96 MiB on the managed instance).
const Sampled kSampled[] = {
    {"ecs-exporter-2025-02-ec2", "ecs-exporter", 65249280, 47607808, 37691392, 268435456, kNone,
     "01cf1f3208005cda71d5ac936ded65d2ecc0a8cc8ff8a82d2e00410bf4fbbd6d"},
    {"ecs-exporter-2025-02-ec2", "prometheus", 60981248, 49934336, 39268352, 268435456, kNone,
     "6b80adab0733f579594eccae31e5b0056b9544b805450ad6e278fed7f5e1c5ba"},
    {"ecs-exporter-2025-02-fargate", "prometheus", 127934464, 75550720, 40820736, 491859968,
     128557056, "bae32def0ab64f06818e8862e58f8d6d-1819985369"},
    {"ecs-exporter-2025-02-fargate", "ecs-exporter", 84111360, 45010944, 39469056, 461320192,
     84238336, "bae32def0ab64f06818e8862e58f8d6d-4159844948"},
    {"ecs-exporter-2025-04-ec2-awsvpc", "ecs-exporter", 62619648, 55615488, 39903232, 134217728,
     kNone, "559f4af51a2f85286138de04fbe2892348128ed55dbf24033bc6a1a3eb6f1d7f"},
    {"ecs-exporter-2025-04-ec2-awsvpc", "main", 26918912, 23474176, 15392768, 212402176, kNone,
     "d3b4c06f3fe8614d958ed27f7f3e40adc3b252793399741a92f0935fb60fb5a8"},
    {"ecs-exporter-2025-04-ec2-awsvpc", "~internal~ecs~pause", 655360, 417792, 36864, 189345792,
     kNone, "b14a1fde2922565d8820e6ee859cdadbc7bc9020c3f751b3446c700deacd1ce8"},
    {"ecs-exporter-2025-04-fargate", "ecs-exporter", 40611840, 39665664, 27844608, 134217728,
     69406720, "04d558ed038d41bb9de115aab248e4f9-4159844948"},
    {"ecs-exporter-2025-04-fargate", "main", 24264704, 23994368, 19329024, 497205248, 27025408,
     "04d558ed038d41bb9de115aab248e4f9-3935363592"},
    {"ecs-exporter-2026-09-managed-instances", "ecs-exporter", 38309888, 20262912, 18468864,
     134217728, kNone, "de02d89bb57c4ef0b6e3745d7c2c9347-4159844948"},
    // 98.9 % of the limit by raw usage, 55 % by working set (43 MB inactive_file).
    {"ecs-exporter-2026-09-managed-instances", "main", 99540992, 55701504, 21495808, 100663296,
     kNone, "de02d89bb57c4ef0b6e3745d7c2c9347-3935363592"},
};

core::Result<core::Sample> sample_of(const std::string& dir, const std::string& container) {
  auto task = parse_ecs_task(read_file(kFixtures / "ecs" / dir / "task-metadata.json"));
  if (!task) return task.error();
  auto stats = parse_ecs_task_stats(read_file(kFixtures / "ecs" / dir / "task-stats.json"));
  if (!stats) return stats.error();
  return ecs_sample(*task, *stats, container, kNow);
}
}  // namespace

TEST(EcsSample, EveryRunningContainerOfEveryExporterCapture) {
  for (const auto& e : kSampled) {
    auto s = sample_of(e.dir, e.container);
    ASSERT_TRUE(s.ok()) << e.dir << "/" << e.container << ": " << s.error().to_string();
    EXPECT_EQ(s->usage_bytes, e.usage) << e.dir << "/" << e.container;
    EXPECT_EQ(s->working_set_bytes, e.working_set) << e.dir << "/" << e.container;
    EXPECT_EQ(s->anon_bytes, e.anon) << e.dir << "/" << e.container;
    EXPECT_EQ(s->limit_bytes, e.limit) << e.dir << "/" << e.container;
    EXPECT_EQ(s->peak_bytes, e.peak) << e.dir << "/" << e.container;
    EXPECT_EQ(s->instance, e.docker_id);
    EXPECT_EQ(s->time, kNow);
    EXPECT_FALSE(s->oom_kill_count.has_value());  // Docker stats carry no oom_kill counter
  }
}

TEST(EcsSample, StoppedContainersAreNotRunning) {
  // {} on EC2, null on Fargate and Managed Instances.
  for (const char* dir : {"ecs-exporter-2025-02-ec2", "ecs-exporter-2025-02-fargate",
                          "ecs-exporter-2025-04-ec2-awsvpc", "ecs-exporter-2025-04-fargate",
                          "ecs-exporter-2026-09-managed-instances"}) {
    auto s = sample_of(dir, "nonessential");
    ASSERT_FALSE(s.ok()) << dir;
    EXPECT_EQ(s.error().code, core::Errc::not_running) << dir;
    EXPECT_NE(s.error().message.find("STOPPED"), std::string::npos) << s.error().message;
  }
}

TEST(EcsSample, MissingNameListsTheNamesPresent) {
  auto s = sample_of("ecs-exporter-2026-09-managed-instances", "web");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, core::Errc::no_container);
  EXPECT_NE(s.error().message.find("\"web\""), std::string::npos);
  EXPECT_NE(s.error().message.find("\"ecs-exporter\", \"main\", \"nonessential\""),
            std::string::npos)
      << s.error().message;
}

// What the task's limit leaves never goes below the container's own working set, and hostile
// working sets beside it saturate: two of 2^63 + 5 MiB would wrap around to 10 MiB and leave the
// app a 246 MiB limit.
TEST(EcsSample, TaskLimitLessTheOthersStaysAtLeastTheOwnWorkingSet) {
  auto task =
      parse_ecs_task(R"({"Limits":{"Memory":256},"Containers":[{"Name":"app","DockerId":"a"},)"
                     R"({"Name":"x","DockerId":"b"},{"Name":"y","DockerId":"c"}]})");
  ASSERT_TRUE(task.ok()) << task.error().to_string();
  auto stats_of = [](const std::string& other) {
    return parse_ecs_task_stats(R"({"a":{"memory_stats":{"usage":52428800}},"b":{"memory_stats":)"
                                R"({"usage":)" +
                                other + R"(}},"c":{"memory_stats":{"usage":)" + other + "}}}");
  };
  auto small = stats_of("10485760");
  ASSERT_TRUE(small.ok()) << small.error().to_string();
  EXPECT_EQ(ecs_sample(*task, *small, "app", kNow)->limit_bytes, (256u - 20) << 20);
  for (const char* other : {"209715200", "18446744073709551000", "9223372036860018688"}) {
    auto big = stats_of(other);
    ASSERT_TRUE(big.ok()) << big.error().to_string();
    auto s = ecs_sample(*task, *big, "app", kNow);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->limit_bytes, 52428800u) << other;
  }
}

TEST(EcsSample, AwsDocsExamplesComeFromDifferentRuns) {
  // The documentation's /task and /task/stats examples do not share DockerIds: a RUNNING
  // container without a stats entry is reported, not guessed.
  auto s = sample_of("aws-docs-ec2", "curl");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, core::Errc::not_running);
  EXPECT_NE(s.error().message.find("ee08638adaaf"), std::string::npos);
  EXPECT_EQ(sample_of("aws-docs-fargate", "fargate-app").error().code, core::Errc::not_running);
}

TEST(EcsTask, MetadataFields) {
  auto fargate = parse_ecs_task(read_file(kFixtures / "ecs/aws-docs-fargate/task-metadata.json"));
  ASSERT_TRUE(fargate.ok());
  EXPECT_EQ(fargate->launch_type, "FARGATE");
  EXPECT_EQ(fargate->limit_mib, 512u);
  ASSERT_EQ(fargate->containers.size(), 2u);
  EXPECT_FALSE(fargate->containers[0].limit_mib.has_value());  // CPU only
  EXPECT_EQ(fargate->containers[1].docker_id, "bfa2636268144d039771334145e490c5-3681984407");

  auto ec2 = parse_ecs_task(read_file(kFixtures / "ecs/aws-docs-ec2/task-metadata.json"));
  ASSERT_TRUE(ec2.ok());
  EXPECT_FALSE(ec2->limit_mib.has_value());                // no task Limits on EC2
  EXPECT_FALSE(ec2->containers[0].limit_mib.has_value());  // Memory: 0 = no hard limit
  EXPECT_EQ(ec2->containers[1].limit_mib, 128u);
  EXPECT_EQ(ec2->containers[1].known_status, "RUNNING");

  for (const char* f : {"aws-docs-ec2/task-metadata-with-tags.json",
                        "ecs-exporter-2025-04-ec2-awsvpc/task-metadata.json",
                        "ecs-exporter-2026-09-managed-instances/task-metadata.json"}) {
    auto t = parse_ecs_task(read_file(kFixtures / "ecs" / f));
    ASSERT_TRUE(t.ok()) << f;
    EXPECT_FALSE(t->containers.empty()) << f;
  }
  // The container endpoint's own document and the error form are not /task answers.
  EXPECT_FALSE(
      parse_ecs_task(read_file(kFixtures / "ecs/aws-docs-ec2/container-metadata.json")).ok());
}

TEST(EcsTask, RestartCountBecomesPartOfTheInstance) {
  const char* task = R"({"Limits":{"Memory":1024},"Containers":[
      {"Name":"web","DockerId":"abc-1","KnownStatus":"RUNNING","RestartCount":2,
       "Limits":{"CPU":2,"Memory":512}}]})";
  const char* stats = R"({"abc-1":{"name":"web","memory_stats":{"usage":1000,
      "limit":9.223372036854772e18,"stats":{"anon":600,"file":400,"inactive_file":300}}}})";
  auto s = ecs_sample(*parse_ecs_task(task), *parse_ecs_task_stats(stats), "web", kNow);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->instance, "abc-1#restart=2");
  EXPECT_EQ(s->working_set_bytes, 700u);
  EXPECT_EQ(s->limit_bytes, 512u << 20);  // float "unlimited" -> container Limits.Memory
}

struct DockerCase {
  const char* file;
  std::uint64_t usage;
  std::optional<std::uint64_t> inactive, anon, limit, max_usage;
  int key_set;
};

TEST(DockerStats, EveryLiveCaptureAndDocsExample) {
  const DockerCase cases[] = {
      {"docker/live-cgroupv1-child-oom-96m/stats-01.json", 52658176, 50356224, 122880, 100663296,
       53796864, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-02.json", 52658176, 50352128, 122880, 100663296,
       53796864, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-03.json", 52658176, 50352128, 122880, 100663296,
       53796864, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-04.json", 56987648, 50339840, 4472832, 100663296,
       61227008, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-05.json", 61386752, 50335744, 8667136, 100663296,
       69554176, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-06.json", 65515520, 50335744, 12857344, 100663296,
       77877248, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-07.json", 75513856, 50335744, 23097344, 100663296,
       88944640, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-08.json", 97173504, 50335744, 43999232, 100663296,
       97263616, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-09.json", 100569088, 47210496, 50659328, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-10.json", 100257792, 37756928, 60039168, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-11.json", 83783680, 31465472, 50581504, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-12.json", 62607360, 23076864, 38027264, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-13.json", 58150912, 14688256, 42221568, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-14.json", 53956608, 6299648, 46419968, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-15.json", 561152, 143360, 49152, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-16-final.json", 466944, 143360, 49152, 100663296,
       100663296, 1},
      {"docker/live-cgroupv1-child-oom-96m/stats-17-final-one-shot.json", 466944, 143360, 49152,
       100663296, 100663296, 1},
      {"docker/live-cgroupv1-grow-256m/stats-01.json", 23826432, 0, 23158784, 268435456, 23830528,
       1},
      {"docker/live-cgroupv1-grow-256m/stats-02.json", 38510592, 0, 37937152, 268435456, 76304384,
       1},
      {"docker/live-cgroupv1-grow-256m/stats-03.json", 115191808, 0, 114581504, 268435456,
       118632448, 1},
      {"docker/live-cgroupv1-grow-256m/stats-04.json", 85016576, 0, 84074496, 268435456, 168947712,
       1},
      {"docker/live-cgroupv1-grow-256m/stats-05.json", 105750528, 0, 105050112, 268435456,
       210657280, 1},
      {"docker/live-cgroupv1-grow-256m/stats-06.json", 131129344, 0, 130207744, 268435456,
       261201920, 1},
      {"ecs/aws-docs-ec2/container-stats.json", 1806336, 0, 606208, 134217728, 6299648, 1},
      {"ecs/ecs-agent-unit-test/unix_test_stats.json", 30, kNone, 10, kNone, 100, 1},
  };
  for (const auto& c : cases) {
    auto r = parse_docker_stats(read_file(kFixtures / c.file));
    ASSERT_TRUE(r.ok()) << c.file << ": " << r.error().to_string();
    ASSERT_TRUE(r->has_value()) << c.file;
    const auto& m = **r;
    EXPECT_EQ(m.usage, c.usage) << c.file;
    EXPECT_EQ(m.inactive_file, c.inactive) << c.file;
    EXPECT_EQ(m.anon, c.anon) << c.file;
    EXPECT_EQ(m.limit, c.limit) << c.file;
    EXPECT_EQ(m.max_usage, c.max_usage) << c.file;
    EXPECT_EQ(m.key_set, c.key_set) << c.file;
  }
}

TEST(DockerStats, ExitedContainerZeroObjectIsNotRunning) {
  auto r = parse_docker_stats(
      read_file(kFixtures / "docker/live-cgroupv1-grow-256m/stats-07-after-oom-exit.json"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(parse_docker_stats("null")->has_value());
  EXPECT_FALSE(parse_docker_stats("{}")->has_value());
}

TEST(DockerStats, DocsTaskStatsUnlimitedSentinelsAndHierarchicalLimit) {
  auto ec2 = parse_ecs_task_stats(read_file(kFixtures / "ecs/aws-docs-ec2/task-stats.json"));
  ASSERT_TRUE(ec2.ok());
  ASSERT_EQ(ec2->size(), 2u);
  for (const auto& e : *ec2) {
    ASSERT_TRUE(e.stats.has_value());
    if (e.docker_id.rfind("01999f2e", 0) == 0) {
      EXPECT_EQ(e.stats->usage, 532480u);
      EXPECT_EQ(e.stats->limit, 4073377792u);  // the instance's memory: no container limit
      EXPECT_EQ(e.stats->name, "ecs-curltest-26-internalecspause-a6bcc3dbadfacfe85300");
    } else {
      EXPECT_EQ(e.stats->usage, 1814528u);
      EXPECT_EQ(e.stats->limit, 134217728u);
    }
  }
  // Fargate docs: limit 9223372036854772000 (float-rounded), hierarchical_memory_limit 512 MiB.
  auto fg = parse_ecs_task_stats(read_file(kFixtures / "ecs/aws-docs-fargate/task-stats.json"));
  ASSERT_TRUE(fg.ok());
  ASSERT_EQ(fg->size(), 1u);
  EXPECT_EQ((*fg)[0].stats->usage, 6504448u);
  EXPECT_EQ((*fg)[0].stats->limit, 536870912u);
  EXPECT_EQ((*fg)[0].stats->inactive_file, 3088384u);
  EXPECT_EQ((*fg)[0].stats->max_usage, 8458240u);
  EXPECT_EQ((*fg)[0].stats->name, "curltest");
  // Exporter Fargate: `main` has the exact 9223372036854771712 and the task's 512 MiB as
  // hierarchical_memory_limit; the stopped container is null.
  auto fg2 = parse_ecs_task_stats(
      read_file(kFixtures / "ecs/ecs-exporter-2025-04-fargate/task-stats.json"));
  ASSERT_TRUE(fg2.ok());
  int null_entries = 0;
  for (const auto& e : *fg2) {
    if (!e.stats) {
      ++null_entries;
      continue;
    }
    EXPECT_EQ(e.stats->limit, e.stats->name == "main" ? 536870912u : 134217728u) << e.stats->name;
  }
  EXPECT_EQ(null_entries, 1);
  // Without a hierarchical limit, the sentinel alone means no limit.
  auto bare = parse_docker_stats(
      R"({"memory_stats":{"usage":5,"limit":9223372036854771712,"stats":{"rss":5}}})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE((*bare)->limit.has_value());
}

TEST(DockerStats, V2KeySetOnEc2AndManagedInstances) {
  auto mi = parse_ecs_task_stats(
      read_file(kFixtures / "ecs/ecs-exporter-2026-09-managed-instances/task-stats.json"));
  ASSERT_TRUE(mi.ok());
  int v2 = 0;
  for (const auto& e : *mi)
    if (e.stats) {
      EXPECT_EQ(e.stats->key_set, 2);
      EXPECT_FALSE(e.stats->max_usage.has_value());
      ++v2;
    }
  EXPECT_EQ(v2, 2);
}

TEST(DockerStats, MalformedInputIsAClearParseError) {
  const char* bad[] = {"",
                       "{",
                       "not json",
                       "[1,2]",
                       "42",
                       "{\"memory_stats\": 5}",
                       "{\"memory_stats\": {\"usage\": \"lots\"}}",
                       "{\"memory_stats\": {\"usage\": -5}}"};
  for (const char* b : bad) {
    auto r = parse_docker_stats(b);
    ASSERT_FALSE(r.ok()) << b;
    EXPECT_EQ(r.error().code, core::Errc::parse) << b;
  }
  EXPECT_FALSE(parse_ecs_task_stats("[]").ok());
  EXPECT_FALSE(parse_ecs_task_stats("{\"a\": 5}").ok());
  EXPECT_FALSE(parse_ecs_task("{\"Containers\": 3}").ok());
  EXPECT_FALSE(parse_ecs_task("{\"Containers\": [1]}").ok());
  auto msg = parse_ecs_task("<html>502 Bad Gateway</html>");
  ASSERT_FALSE(msg.ok());
  EXPECT_NE(msg.error().message.find("not valid JSON"), std::string::npos);
}
