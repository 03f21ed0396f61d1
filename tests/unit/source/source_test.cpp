// The cgroup and procfs sources on fixture trees (root injection), restart detection, bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "leakwatch/core/clock.h"
#include "leakwatch/source/readers.h"
#include "leakwatch/source/sample_json.h"
#include "leakwatch/source/source.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using namespace leakwatch;
using namespace leakwatch::source;

namespace {

const fs::path kFixtures = LEAKWATCH_FIXTURES_DIR;
constexpr std::optional<std::uint64_t> kNone = std::nullopt;

struct Expected {
  const char* dir;
  std::uint64_t usage, working_set;
  std::optional<std::uint64_t> anon, limit, peak, oom_kills;
};

// Numbers read off the captured kernel files by hand/script (see fixtures/README.md).
const Expected kV1[] = {
    {"live-host/01-idle-python", 7286784, 7286784, 7073792, 134217728, 7290880, 0},
    {"live-host/02-anon-48m", 57880576, 57880576, 57409536, 134217728, 57880576, 0},
    {"live-host/03-anon-48m-plus-file-cache-40m", 101916672, 59973632, 58449920, 134217728,
     101916672, 0},
    {"live-host/04-near-limit-cache-reclaimed", 133951488, 109830144, 108785664, 134217728,
     134217728, 0},
    {"live-host/05-under-oom-killer-disabled", 134217728, 134217728, 133849088, 134217728,
     134217728, 0},
    {"live-host/06-after-oom-kill", 102400, 102400, 0, 134217728, 134217728, 1},
    {"live-host/07-no-limit-idle-node", 8372224, 8359936, 6488064, kNone, 8372224, 0},
    {"live-host/08-node-leaking-256m", 93528064, 93528064, 90648576, 268435456, 93528064, 0},
    {"live-host/09-node-after-oom-kill-256m", 397312, 397312, 0, 268435456, 268435456, 1},
    {"live-host/10-node-slow-leak-t020s-approx", 56057856, 56057856, 54972416, 268435456, 56057856,
     0},
    {"live-host/11-node-slow-leak-t060s", 139984896, 139984896, 138899456, 268435456, 139984896, 0},
    {"live-host/12-page-cache-thrash-72m", 75493376, 58875904, 58437632, 75497472, 75497472, 0},
    {"live-host/13-memsw-limit-equal-after-oom", 258048, 253952, 0, 67108864, 67108864, 1},
    {"live-docker/grow-256m/t01", 13299712, 13299712, 12771328, 268435456, 25661440, 0},
    {"live-docker/grow-256m/t02", 38510592, 38510592, 37937152, 268435456, 76304384, 0},
    {"live-docker/grow-256m/t03", 118861824, 118861824, 117669888, 268435456, 119386112, 0},
    {"live-docker/grow-256m/t04", 85016576, 85016576, 84074496, 268435456, 168947712, 0},
    {"live-docker/grow-256m/t05", 105750528, 105750528, 105050112, 268435456, 210657280, 0},
    {"live-docker/grow-256m/t06", 131129344, 131129344, 130207744, 268435456, 261201920, 0},
    {"live-docker/child-oom-96m/t01", 52658176, 2301952, 122880, 100663296, 53796864, 0},
    {"live-docker/child-oom-96m/t02", 52658176, 2306048, 122880, 100663296, 53796864, 0},
    {"live-docker/child-oom-96m/t03", 52658176, 2306048, 122880, 100663296, 53796864, 0},
    {"live-docker/child-oom-96m/t04", 56987648, 6647808, 4472832, 100663296, 61227008, 0},
    {"live-docker/child-oom-96m/t05", 61386752, 11051008, 8667136, 100663296, 69554176, 0},
    {"live-docker/child-oom-96m/t06", 66777088, 16441344, 23228416, 100663296, 77877248, 0},
    {"live-docker/child-oom-96m/t07", 84426752, 34091008, 19152896, 100663296, 90456064, 0},
    {"live-docker/child-oom-96m/t08", 97239040, 46903296, 30765056, 100663296, 97579008, 0},
    {"live-docker/child-oom-96m/t09", 99852288, 54751232, 52281344, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t10", 99807232, 63098880, 61018112, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t11", 89026560, 57561088, 63430656, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t12", 62607360, 39530496, 43311104, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t13", 58150912, 43462656, 42221568, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t14", 53927936, 47628288, 46419968, 100663296, 100663296, 0},
    {"live-docker/child-oom-96m/t15", 561152, 417792, 49152, 100663296, 100663296, 1},
    {"live-docker/child-oom-96m/t16-steady-after-oom", 466944, 323584, 49152, 100663296, 100663296,
     1},
    {"live-docker/inside-container-view-128m/sys/fs/cgroup/memory", 2080768, 1818624, 126976,
     134217728, 4026368, 0},
    {"couchbase-ubuntu2004/sys/fs/cgroup/memory", 6852075520, 2659569664, 863055872, 17179869184,
     12191121408, 0},
    {"elastic-amzn2-eks-kubepods/amzn2/sys/fs/cgroup/memory/kubepods.slice/"
     "kubepods-burstable.slice/kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice/"
     "cri-containerd-1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496.scope",
     1215860736, 1137303552, 1119465472, 2147483648, 1532657664, 0},
};

const Expected kV2[] = {
    {"couchbase-docker-ubuntu2204/sys/fs/cgroup", 2766684160, 2724577280, 2147508224, 8589934592,
     kNone, 0},
    {"elastic-docker2-session-scope/sys/fs/cgroup/user.slice/user-1000.slice/session-520.scope",
     10498404352, 3812655104, 1411100672, kNone, 18772946944, 0},
    {"oomd-fixtures/cgroup/protection_overage.fakeroot/A", 4294967296, 4294967296, kNone, kNone,
     kNone, kNone},
    {"oomd-fixtures/cgroup/protection_overage.fakeroot/A/A1", 2147483648, 2147483648, kNone, kNone,
     kNone, kNone},
    {"oomd-fixtures/cgroup/protection_overage.fakeroot/B/B2", 2147483648, 2147483648, kNone, kNone,
     kNone, kNone},
    {"oomd-fixtures/cgroup/protection_overage.fakeroot/C/C1", 6442450944, 6442450944, kNone, kNone,
     kNone, kNone},
    {"oomd-fixtures/cgroup/system.slice", 987654321, 0, 1294168064, kNone, kNone, kNone},
    {"oomd-fixtures/cgroup/system.slice/service1.service", 111111, 111111, kNone, kNone, kNone,
     kNone},
    {"oomd-fixtures/cgroup/system.slice/slice1.slice/service2.service", 111111, 111111, kNone,
     kNone, kNone, kNone},
    {"oomd-fixtures/cgroup/workload.slice", 987654321, 987654321, kNone, kNone, kNone, kNone},
    {"oomd-fixtures/cgroup/workload.slice/service1.service", 111111, 111111, kNone, kNone, kNone,
     kNone},
};

core::Result<core::Sample> read_once(const TargetSettings& t, const core::Clock& clock) {
  boost::asio::io_context io;
  auto src = make_source(io, t, clock);
  if (!src) return src.error();
  return read_sync(io, **src);
}

void expect_sample(const core::Sample& s, const Expected& e) {
  EXPECT_EQ(s.usage_bytes, e.usage) << e.dir;
  EXPECT_EQ(s.working_set_bytes, e.working_set) << e.dir;
  EXPECT_EQ(s.anon_bytes, e.anon) << e.dir;
  EXPECT_EQ(s.limit_bytes, e.limit) << e.dir;
  EXPECT_EQ(s.peak_bytes, e.peak) << e.dir;
  EXPECT_EQ(s.oom_kill_count, e.oom_kills) << e.dir;
}

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// A private directory per test process (ctest runs them in parallel).
struct TempDir : leakwatch::testing::UniqueTempDir {
  TempDir() : UniqueTempDir("lw-source") {}
};

void write_v1(const fs::path& dir, std::uint64_t usage, std::uint64_t inactive, int oom_kills) {
  put(dir / "memory.usage_in_bytes", std::to_string(usage) + "\n");
  put(dir / "memory.limit_in_bytes", "67108864\n");
  put(dir / "memory.stat",
      "rss 10\ntotal_rss 10\ntotal_inactive_file " + std::to_string(inactive) + "\n");
  put(dir / "memory.max_usage_in_bytes", "67108864\n");
  put(dir / "memory.oom_control",
      "oom_kill_disable 0\nunder_oom 0\noom_kill " + std::to_string(oom_kills) + "\n");
}

}  // namespace

TEST(CgroupSource, EveryV1FixtureTree) {
  core::ManualClock clock;
  for (const auto& e : kV1) {
    TargetSettings t;
    t.root = kFixtures / "cgroup/v1";
    t.cgroup_path = e.dir;
    auto s = read_once(t, clock);
    ASSERT_TRUE(s.ok()) << e.dir << ": " << s.error().to_string();
    expect_sample(*s, e);
    EXPECT_EQ(s->time, clock.now());
    EXPECT_FALSE(s->restarted);
    EXPECT_EQ(s->instance.rfind("cgroup-ino:", 0), 0u) << s->instance;
  }
}

TEST(CgroupSource, EveryV2FixtureTree) {
  core::ManualClock clock;
  for (const auto& e : kV2) {
    TargetSettings t;
    t.root = kFixtures / "cgroup/v2";
    t.cgroup_path = e.dir;
    auto s = read_once(t, clock);
    ASSERT_TRUE(s.ok()) << e.dir << ": " << s.error().to_string();
    expect_sample(*s, e);
  }
}

TEST(CgroupSource, DescribeNamesVersionAndPath) {
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = kFixtures / "cgroup/v2";
  t.cgroup_path = "couchbase-docker-ubuntu2204/sys/fs/cgroup";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(read_sync(io, **src).ok());
  EXPECT_NE((*src)->describe().find("cgroup v2"), std::string::npos);
  EXPECT_NE((*src)->describe().find("couchbase-docker-ubuntu2204/sys/fs/cgroup"),
            std::string::npos);
}

TEST(CgroupSource, HybridUnifiedMountWithoutMemoryControllerIsNoMemcg) {
  core::ManualClock clock;
  TargetSettings t;
  t.root = kFixtures / "cgroup/v2/live-hybrid-unified-no-memcg";
  t.cgroup_path = "leakwatch-psi-thrashing";
  auto s = read_once(t, clock);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, core::Errc::no_memcg);
  t.cgroup_path = "/";
  t.root = kFixtures / "cgroup/v2/oomd-fixtures/cgroup/missing_control_files.slice";
  EXPECT_EQ(read_once(t, clock).error().code, core::Errc::no_memcg);
}

TEST(CgroupDiscovery, SidecarInsideADockerContainer) {
  auto root = kFixtures / "cgroup/v1/live-docker/inside-container-view-128m";
  auto dir = discover_cgroup(root);
  ASSERT_TRUE(dir.ok()) << dir.error().to_string();
  EXPECT_EQ(*dir, (root / "sys/fs/cgroup/memory").lexically_normal());
  core::ManualClock clock;
  TargetSettings t;
  t.root = root;  // cgroup_path empty: own cgroup
  auto s = read_once(t, clock);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->limit_bytes, 134217728u);
  EXPECT_EQ(s->usage_bytes, 2080768u);
}

TEST(CgroupDiscovery, KubepodsAndNamespaceRelativePaths) {
  // The upstream mountinfo files name relative mount points ("testdata/<zip>/sys/..."): lay the
  // fixture out under such a name, with proc/self/cgroup taken from the process of interest.
  TempDir tmp;
  auto amzn = tmp.path() / "amzn";
  fs::create_directories(amzn / "testdata");
  fs::create_symlink(kFixtures / "cgroup/v1/elastic-amzn2-eks-kubepods/amzn2",
                     amzn / "testdata/amzn2");
  fs::create_directories(amzn / "proc/self");
  fs::copy_file(kFixtures / "cgroup/v1/elastic-amzn2-eks-kubepods/amzn2/proc/self/mountinfo",
                amzn / "proc/self/mountinfo");
  fs::copy_file(kFixtures / "cgroup/v1/elastic-amzn2-eks-kubepods/amzn2/proc/493239/cgroup",
                amzn / "proc/self/cgroup");
  core::ManualClock clock;
  TargetSettings t;
  t.root = amzn;
  auto s = read_once(t, clock);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->usage_bytes, 1215860736u);
  EXPECT_EQ(s->limit_bytes, 2147483648u);

  auto d2 = tmp.path() / "docker2";
  fs::create_directories(d2 / "testdata");
  fs::create_symlink(kFixtures / "cgroup/v2/elastic-docker2-session-scope",
                     d2 / "testdata/docker2");
  fs::create_directories(d2 / "proc/self");
  fs::copy_file(kFixtures / "cgroup/v2/elastic-docker2-session-scope/proc/self/mountinfo",
                d2 / "proc/self/mountinfo");
  fs::copy_file(kFixtures / "cgroup/v2/elastic-docker2-session-scope/proc/2233801/cgroup",
                d2 / "proc/self/cgroup");
  auto dir = discover_cgroup(d2);
  ASSERT_TRUE(dir.ok()) << dir.error().to_string();
  EXPECT_EQ(dir->filename(), "session-520.scope");
  EXPECT_EQ(dir->parent_path().filename(), "user-1000.slice");
  t.root = d2;
  s = read_once(t, clock);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->usage_bytes, 10498404352u);
  EXPECT_EQ(s->peak_bytes, 18772946944u);
}

TEST(CgroupDiscovery, ThisProcess) {
  // The live host: whatever it is, discovery must land on a directory with memory files.
  auto dir = discover_cgroup("/");
  ASSERT_TRUE(dir.ok()) << dir.error().to_string();
  EXPECT_TRUE(detect_cgroup_version(*dir).ok()) << *dir;
}

TEST(CgroupDiscovery, MissingProcFilesAreAConfigTimeError) {
  TempDir tmp;
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = tmp.path();
  auto src = make_source(io, t, clock);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.error().code, core::Errc::not_found);
  EXPECT_NE(src.error().message.find("cgroup_path"), std::string::npos);
}

TEST(CgroupSource, OomKillWithUsageDropIsARestart) {
  TempDir tmp;
  auto dir = tmp.path() / "cg";
  write_v1(dir, 50 << 20, 0, 0);
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = tmp.path();
  t.cgroup_path = "cg";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  auto s1 = read_sync(io, **src);
  ASSERT_TRUE(s1.ok());
  EXPECT_FALSE(s1->restarted);
  write_v1(dir, 60 << 20, 0, 0);  // growth, no kill
  EXPECT_FALSE(read_sync(io, **src)->restarted);
  write_v1(dir, 2 << 20, 0, 1);  // killed, usage dropped
  auto s3 = read_sync(io, **src);
  ASSERT_TRUE(s3.ok());
  EXPECT_TRUE(s3->restarted);
  EXPECT_EQ(s3->oom_kill_count, 1u);
  EXPECT_NE(s3->instance, s1->instance);
  write_v1(dir, 3 << 20, 0, 1);
  EXPECT_FALSE(read_sync(io, **src)->restarted);
  // A kill of a child process with no drop is not a restart of the target...
  write_v1(dir, 40 << 20, 0, 2);
  EXPECT_FALSE(read_sync(io, **src)->restarted);
  // ...unless the drop shows up on the next sample.
  write_v1(dir, 5 << 20, 0, 2);
  EXPECT_TRUE(read_sync(io, **src)->restarted);
  // Page cache leaving is not a kill: no counter change, no restart.
  write_v1(dir, 50 << 20, 45 << 20, 2);
  EXPECT_FALSE(read_sync(io, **src)->restarted);
}

TEST(CgroupSource, VanishedCgroupIsAnErrorAndRecreationARestart) {
  TempDir tmp;
  auto dir = tmp.path() / "cg";
  write_v1(dir, 10 << 20, 0, 0);
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = tmp.path();
  t.cgroup_path = "/cg";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(read_sync(io, **src).ok());
  // Moved away (the old inode stays alive, so the new directory cannot reuse its number).
  fs::rename(dir, tmp.path() / "old-cg");
  auto gone = read_sync(io, **src);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, core::Errc::not_found);
  EXPECT_NE(gone.error().message.find(dir.string()), std::string::npos);
  write_v1(dir, 1 << 20, 0, 0);
  auto back = read_sync(io, **src);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(back->restarted);
}

TEST(CgroupSource, GarbageAndUnreadableFilesNeverCrashAndTheNextPollWorks) {
  TempDir tmp;
  auto dir = tmp.path() / "cg";
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = tmp.path();
  t.cgroup_path = "cg";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());  // the cgroup may be created later
  EXPECT_EQ(read_sync(io, **src).error().code, core::Errc::not_found);

  const std::pair<const char*, std::string> garbage[] = {
      {"memory.usage_in_bytes", "\xff\xfe garbage"},
      {"memory.usage_in_bytes", ""},
      {"memory.usage_in_bytes", "-1\n"},
      {"memory.limit_in_bytes", "unlimited\n"},
      {"memory.stat", "total_inactive_file\n"},
      {"memory.stat", std::string(3000, 'x')},
      {"memory.oom_control", "oom_kill many\n"},
      {"memory.max_usage_in_bytes", "1e9\n"},
  };
  for (const auto& [file, text] : garbage) {
    write_v1(dir, 10 << 20, 0, 0);
    put(dir / file, text);
    auto r = read_sync(io, **src);
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_EQ(r.error().code, core::Errc::parse) << file;
    EXPECT_NE(r.error().message.find(file), std::string::npos) << r.error().message;
    write_v1(dir, 10 << 20, 0, 0);
    EXPECT_TRUE(read_sync(io, **src).ok()) << "after " << file;
  }
  // Unreadable even for root: a directory where a file should be.
  fs::remove(dir / "memory.stat");
  fs::create_directory(dir / "memory.stat");
  auto r = read_sync(io, **src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::io);
  EXPECT_NE(r.error().message.find("memory.stat"), std::string::npos);
}

// cgroup v2 has no hierarchical_memory_limit: an ECS task's limit sits on the task's cgroup, above
// containers that have none of their own ("max"), and a systemd slice's MemoryMax likewise. What
// such a limit leaves for the group is the limit less the working sets beside it (here a sidecar
// of 20 MiB: the task's working set, 69 MiB, less the app's, 49 MiB).
TEST(CgroupSource, V2LimitOfAParentCgroupIsTheLimit) {
  TempDir tmp;
  const auto task = tmp.path() / "ecs" / "task";
  const auto app = task / "app";
  auto write_v2 = [](const fs::path& dir, const std::string& max, int mib) {
    put(dir / "memory.current", std::to_string(mib << 20) + "\n");
    put(dir / "memory.max", max + "\n");
    put(dir / "memory.stat", "anon 41943040\ninactive_file 1048576\n");
  };
  write_v2(tmp.path() / "ecs", "1073741824", 70);
  write_v2(task, "268435456", 70);
  write_v2(app, "max", 50);
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = tmp.path();
  t.cgroup_path = "ecs/task/app";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  auto s = read_sync(io, **src);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->limit_bytes, std::optional<std::uint64_t>((256u - 20) << 20));
  // Its own limit, when lower, is the one.
  put(app / "memory.max", "134217728\n");
  EXPECT_EQ(read_sync(io, **src)->limit_bytes, std::optional<std::uint64_t>(128u << 20));
  // No limit anywhere: none.
  for (const auto& dir : {tmp.path() / "ecs", task, app})
    put(dir / "memory.max", "max\n");
  EXPECT_EQ(read_sync(io, **src)->limit_bytes, std::nullopt);
  // A parent's memory.max that does not parse is an error naming that file; the next poll works.
  put(task / "memory.max", "lots\n");
  auto bad = read_sync(io, **src);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find((task / "memory.max").string()), std::string::npos)
      << bad.error().message;
  put(task / "memory.max", "268435456\n");
  EXPECT_EQ(read_sync(io, **src)->limit_bytes, std::optional<std::uint64_t>((256u - 20) << 20));
  // Without the parent's memory.current, the parent's limit as it is.
  fs::remove(task / "memory.current");
  EXPECT_EQ(read_sync(io, **src)->limit_bytes, std::optional<std::uint64_t>(256u << 20));
  // A parent that cannot be read (here a directory where memory.max should be) ends the search:
  // the group's own reading stands.
  put(app / "memory.max", "134217728\n");
  fs::remove(task / "memory.max");
  fs::create_directory(task / "memory.max");
  auto unreadable = read_sync(io, **src);
  ASSERT_TRUE(unreadable.ok()) << unreadable.error().to_string();
  EXPECT_EQ(unreadable->limit_bytes, std::optional<std::uint64_t>(128u << 20));
}

TEST(CgroupSource, CompletesOnTheIoContextNeverInline) {
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.root = kFixtures / "cgroup/v1";
  t.cgroup_path = "live-host/01-idle-python";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  bool called = false;
  (*src)->read([&](core::Result<core::Sample> r) {
    called = true;
    EXPECT_TRUE(r.ok());
  });
  EXPECT_FALSE(called);
  io.run();
  EXPECT_TRUE(called);
}

TEST(ProcfsSource, PidFileFollowsARestartedProcess) {
  TempDir tmp;
  auto node = kFixtures / "procfs/node-v20";
  fs::create_directories(tmp.path() / "proc/100");
  fs::create_directories(tmp.path() / "proc/200");
  fs::copy_file(node / "slow-leak-t020s/status", tmp.path() / "proc/100/status");
  fs::copy_file(node / "idle/status", tmp.path() / "proc/200/status");
  put(tmp.path() / "proc/100/stat",
      "100 (node) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 7 0 5555 0 0");
  put(tmp.path() / "run/app.pid", "100\n");
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.source = SourceKind::procfs;
  t.root = tmp.path();
  t.pid_file = "/run/app.pid";
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  auto s1 = read_sync(io, **src);
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  EXPECT_EQ(s1->usage_bytes, 79256u * 1024);
  EXPECT_EQ(s1->working_set_bytes, 79256u * 1024);
  EXPECT_EQ(s1->anon_bytes, 45476u * 1024);
  EXPECT_EQ(s1->peak_bytes, 79256u * 1024);
  EXPECT_FALSE(s1->limit_bytes.has_value());
  EXPECT_EQ(s1->instance, "pid:100@5555");
  EXPECT_FALSE(s1->restarted);

  put(tmp.path() / "run/app.pid", "200\n");
  auto s2 = read_sync(io, **src);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->usage_bytes, 40336u * 1024);
  EXPECT_TRUE(s2->restarted);
  EXPECT_EQ(s2->instance, "pid:200");

  put(tmp.path() / "run/app.pid", "300\n");
  auto gone = read_sync(io, **src);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, core::Errc::not_running);
  EXPECT_NE(gone.error().message.find("300"), std::string::npos);

  put(tmp.path() / "run/app.pid", "not a pid\n");
  EXPECT_EQ(read_sync(io, **src).error().code, core::Errc::parse);
  fs::remove(tmp.path() / "run/app.pid");
  EXPECT_EQ(read_sync(io, **src).error().code, core::Errc::not_found);
  put(tmp.path() / "run/app.pid", "200");
  EXPECT_TRUE(read_sync(io, **src).ok());
}

TEST(ProcfsSource, ThisProcessLive) {
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.source = SourceKind::procfs;
  t.pid = static_cast<int>(::getpid());
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok());
  auto s = read_sync(io, **src);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_GT(s->usage_bytes, 1u << 20);
  EXPECT_LE(*s->anon_bytes, s->usage_bytes);
  EXPECT_GE(*s->peak_bytes, s->usage_bytes);
  EXPECT_EQ(s->instance.rfind("pid:" + std::to_string(::getpid()) + "@", 0), 0u);
}

TEST(MakeSource, ConfigErrors) {
  boost::asio::io_context io;
  core::ManualClock clock;
  TargetSettings t;
  t.source = SourceKind::procfs;
  EXPECT_EQ(make_source(io, t, clock).error().code, core::Errc::config);
  t.source = SourceKind::ecs;
  auto no_name = make_source(io, t, clock);
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.error().message.find("ecs_container"), std::string::npos);
  t.ecs_container = "web";
  ::unsetenv("ECS_CONTAINER_METADATA_URI_V4");
  auto no_uri = make_source(io, t, clock);
  ASSERT_FALSE(no_uri.ok());
  EXPECT_NE(no_uri.error().message.find("ECS_CONTAINER_METADATA_URI_V4"), std::string::npos);
  t.ecs_metadata_uri = "ftp://x";
  EXPECT_EQ(make_source(io, t, clock).error().code, core::Errc::config);
  ::setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/abc", 1);
  t.ecs_metadata_uri.clear();
  auto from_env = make_source(io, t, clock);
  ASSERT_TRUE(from_env.ok());
  EXPECT_NE((*from_env)->describe().find("169.254.170.2"), std::string::npos);
  ::unsetenv("ECS_CONTAINER_METADATA_URI_V4");
}

TEST(SampleJson, NullsForUnknownAndNoLimit) {
  core::Sample s;
  s.time = core::from_unix_seconds(1'700'000'000);
  s.usage_bytes = 100;
  s.working_set_bytes = 50;
  s.instance = "pid:1";
  auto j = sample_to_json(s);
  EXPECT_TRUE(j["limit_bytes"].is_null());
  EXPECT_TRUE(j["anon_bytes"].is_null());
  EXPECT_TRUE(j["oom_kill_count"].is_null());
  EXPECT_TRUE(j["working_set_percent_of_limit"].is_null());
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["usage_bytes"], 100);
  s.limit_bytes = 200;
  s.oom_kill_count = 0;
  j = sample_to_json(s);
  EXPECT_EQ(j["limit_bytes"], 200);
  EXPECT_EQ(j["oom_kill_count"], 0);
  EXPECT_DOUBLE_EQ(j["working_set_percent_of_limit"].get<double>(), 25.0);
}
