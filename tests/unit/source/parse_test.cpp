// Pure parsers on literals and on every real capture in the shared fixtures.
#include "leakwatch/source/parse.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include "support/read_file.h"

namespace fs = std::filesystem;
using leakwatch::testing::read_file;
using namespace leakwatch::source;

namespace {
const fs::path kFixtures = LEAKWATCH_FIXTURES_DIR;
}  // namespace

TEST(ParseU64, AcceptsKernelFormattingAndRejectsGarbage) {
  EXPECT_EQ(*parse_u64("134217728\n"), 134217728u);
  EXPECT_EQ(*parse_u64("  0 "), 0u);
  for (const char* bad : {"", "\n", "-5", "12ab", "1.5", "max", "99999999999999999999999"}) {
    auto r = parse_u64(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, leakwatch::core::Errc::parse);
  }
}

TEST(ParseLimit, EverySpellingOfUnlimitedIsNone) {
  EXPECT_FALSE(parse_limit("max\n")->has_value());
  EXPECT_FALSE(parse_limit("9223372036854771712\n")->has_value());  // v1 page-aligned LONG_MAX
  EXPECT_FALSE(parse_limit("9223372036854772000")->has_value());    // float-rounded JSON form
  EXPECT_FALSE(parse_limit("9223372036854775807")->has_value());    // LONG_MAX
  EXPECT_FALSE(parse_limit("4611686018427387904")->has_value());    // 2^62
  EXPECT_EQ(parse_limit("4611686018427387903")->value(), 4611686018427387903u);
  EXPECT_EQ(parse_limit("8589934592\n")->value(), 8589934592u);
  EXPECT_FALSE(parse_limit("lots").ok());
}

TEST(ParseKeyValues, KeysByNameNotPosition) {
  // Ubuntu 22.04 (5.15) has five memory.events lines, kernel 6.x six; order must not matter.
  auto five = parse_key_values("low 0\nhigh 3\nmax 7\noom 2\noom_kill 1\n");
  auto six = parse_key_values("oom_group_kill 0\noom_kill 4\nlow 0\nhigh 0\nmax 0\noom 5\n");
  ASSERT_TRUE(five.ok() && six.ok());
  EXPECT_EQ(five->at("oom_kill"), 1u);
  EXPECT_EQ(six->at("oom_kill"), 4u);
  EXPECT_EQ(six->size(), 6u);
  auto bad = parse_key_values("cache 1\nrss lots\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos);
  EXPECT_NE(bad.error().message.find("rss"), std::string::npos);
  EXPECT_FALSE(parse_key_values("some avg10=0.00 avg60=0.00\n").ok());
  EXPECT_FALSE(parse_key_values(std::string("a 1\0b 2", 7)).ok());
}

TEST(ParseKeyValues, EveryKeyValueFileInTheFixturesParses) {
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(kFixtures / "cgroup")) {
    auto name = e.path().filename().string();
    if (name != "memory.stat" && name != "memory.events" && name != "memory.events.local" &&
        name != "memory.oom_control" && name != "memory.swap.events")
      continue;
    auto r = parse_key_values(read_file(e.path()));
    EXPECT_TRUE(r.ok()) << e.path() << ": " << (r.ok() ? "" : r.error().message);
    if (r.ok()) {
      EXPECT_FALSE(r->empty()) << e.path();
    }
    ++files;
  }
  EXPECT_GE(files, 80);
}

TEST(SampleFromV1, LiteralWithPageCache) {
  CgroupV1Texts t;
  t.usage_in_bytes = "1000\n";
  t.limit_in_bytes = "9223372036854771712\n";
  t.stat = "cache 600\nrss 300\ntotal_rss 350\ntotal_inactive_file 450\ninactive_file 1\n";
  t.max_usage_in_bytes = "2000\n";
  t.oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
  auto s = sample_from_v1(t);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->usage_bytes, 1000u);
  EXPECT_EQ(s->working_set_bytes, 550u);  // total_ key wins over the local one
  EXPECT_EQ(s->anon_bytes, 350u);
  EXPECT_FALSE(s->limit_bytes.has_value());
  EXPECT_EQ(s->peak_bytes, 2000u);
  EXPECT_EQ(s->oom_kill_count, 3u);
  EXPECT_FALSE(s->limit_hit_count.has_value());  // no memory.failcnt read
  t.failcnt = "17053\n";
  EXPECT_EQ(sample_from_v1(t)->limit_hit_count, 17053u);
  t.failcnt = "many";
  auto bad = sample_from_v1(t);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("memory.failcnt"), std::string::npos);
}

TEST(SampleFromV1, OldKernelWithoutOomKillAndInactiveAboveUsage) {
  CgroupV1Texts t;
  t.usage_in_bytes = "100";
  t.stat = "total_inactive_file 500\n";
  t.oom_control = "oom_kill_disable 0\nunder_oom 0\n";
  auto s = sample_from_v1(t);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->working_set_bytes, 0u);
  EXPECT_FALSE(s->oom_kill_count.has_value());
  EXPECT_FALSE(s->limit_bytes.has_value());
  EXPECT_FALSE(s->anon_bytes.has_value());
}

TEST(SampleFromV1, ParentLimitTighterThanOwnIsTheLimit) {
  CgroupV1Texts t;
  t.usage_in_bytes = "100";
  t.limit_in_bytes = "9223372036854771712";
  t.stat = "hierarchical_memory_limit 536870912\n";
  EXPECT_EQ(sample_from_v1(t)->limit_bytes, 536870912u);
}

TEST(SampleFromV1, GarbageNamesTheFile) {
  CgroupV1Texts t;
  t.usage_in_bytes = "a lot";
  auto s = sample_from_v1(t);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, leakwatch::core::Errc::parse);
  EXPECT_NE(s.error().message.find("memory.usage_in_bytes"), std::string::npos);
  t.usage_in_bytes = "5";
  t.stat = "total_inactive_file -1\n";
  s = sample_from_v1(t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("memory.stat"), std::string::npos);
}

TEST(SampleFromV2, LiteralMaxAndEvents) {
  CgroupV2Texts t;
  t.current = "5000\n";
  t.max = "max\n";
  t.stat = "anon 3000\nfile 2000\ninactive_file 1500\n";
  t.peak = "7000\n";
  t.events = "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n";
  auto s = sample_from_v2(t);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->working_set_bytes, 3500u);
  EXPECT_EQ(s->anon_bytes, 3000u);
  EXPECT_FALSE(s->limit_bytes.has_value());
  EXPECT_EQ(s->peak_bytes, 7000u);
  EXPECT_EQ(s->oom_kill_count, 2u);
  EXPECT_EQ(s->limit_hit_count, 9u);  // memory.events "max"
  t.max = "1073741824\n";
  EXPECT_EQ(sample_from_v2(t)->limit_bytes, 1073741824u);
  t.max = "unlimited";
  EXPECT_FALSE(sample_from_v2(t).ok());
}

TEST(ProcCgroup, HybridAndRelativeForms) {
  auto hybrid = parse_proc_cgroup(
      read_file(kFixtures / "cgroup/v1/live-docker/inside-container-view-128m/proc/self/cgroup"));
  ASSERT_TRUE(hybrid.ok());
  ASSERT_EQ(hybrid->size(), 10u);
  EXPECT_EQ((*hybrid)[5].controllers, std::vector<std::string>{"memory"});
  EXPECT_EQ((*hybrid)[5].path,
            "/docker/30ab794731dca96d029b541928c4f02365118c87bc57d7c07c76551c2ecd8170");
  EXPECT_EQ((*hybrid)[0].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_TRUE((*hybrid)[9].controllers.empty());
  // No trailing newline, "/.."-relative (cgroup namespace).
  auto rel = parse_proc_cgroup(
      read_file(kFixtures / "cgroup/v2/elastic-docker2-session-scope/proc/2233801/cgroup"));
  ASSERT_TRUE(rel.ok());
  ASSERT_EQ(rel->size(), 1u);
  EXPECT_EQ((*rel)[0].path, "/../../user-1000.slice/session-520.scope");
  EXPECT_FALSE(parse_proc_cgroup("garbage\n").ok());
  EXPECT_FALSE(parse_proc_cgroup("").ok());
}

TEST(Mountinfo, CgroupMountsOnly) {
  auto m = parse_mountinfo_cgroups(read_file(
      kFixtures / "cgroup/v1/live-docker/inside-container-view-128m/proc/self/mountinfo"));
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 9u);
  auto mem = std::find_if(m->begin(), m->end(), [](const CgroupMount& x) {
    return std::find(x.super_options.begin(), x.super_options.end(), "memory") !=
           x.super_options.end();
  });
  ASSERT_NE(mem, m->end());
  EXPECT_EQ(mem->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mem->root, "/docker/30ab794731dca96d029b541928c4f02365118c87bc57d7c07c76551c2ecd8170");
  EXPECT_EQ(mem->fs_type, "cgroup");
  auto esc = parse_mountinfo_cgroups(
      "30 23 0:27 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  ASSERT_EQ(esc->size(), 1u);
  EXPECT_EQ((*esc)[0].mount_point, "/sys/fs/my cgroup");
}

TEST(LocateMemoryCgroup, ContainerBindMountOfItsOwnCgroup) {
  auto base = kFixtures / "cgroup/v1/live-docker/inside-container-view-128m/proc/self";
  auto loc = locate_memory_cgroup(*parse_proc_cgroup(read_file(base / "cgroup")),
                                  *parse_mountinfo_cgroups(read_file(base / "mountinfo")));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 1);
  EXPECT_EQ(loc->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(loc->relative, "");  // the mount root is the container's cgroup itself
}

TEST(LocateMemoryCgroup, KubepodsPathOnAmazonLinux2) {
  auto base = kFixtures / "cgroup/v1/elastic-amzn2-eks-kubepods/amzn2/proc";
  auto mounts = *parse_mountinfo_cgroups(read_file(base / "self/mountinfo"));
  auto loc = locate_memory_cgroup(*parse_proc_cgroup(read_file(base / "493239/cgroup")), mounts);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->version, 1);
  EXPECT_EQ(loc->mount_point, "testdata/amzn2/sys/fs/cgroup/memory");
  EXPECT_EQ(
      loc->relative,
      "kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice/"
      "cri-containerd-1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496.scope");
  auto init = locate_memory_cgroup(*parse_proc_cgroup(read_file(base / "1/cgroup")), mounts);
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->relative, "");
}

TEST(LocateMemoryCgroup, NamespaceRelativeV2PathNeedsASuffixSearch) {
  auto base = kFixtures / "cgroup/v2/elastic-docker2-session-scope/proc";
  auto loc = locate_memory_cgroup(*parse_proc_cgroup(read_file(base / "2233801/cgroup")),
                                  *parse_mountinfo_cgroups(read_file(base / "self/mountinfo")));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 2);
  EXPECT_EQ(loc->mount_point, "testdata/docker2/sys/fs/cgroup");  // root "/../..": longest match
  EXPECT_EQ(loc->unresolved_suffix, "user-1000.slice/session-520.scope");
}

TEST(LocateMemoryCgroup, HybridHostWithoutMemoryMountIsAClearError) {
  auto entries = *parse_proc_cgroup("4:memory:/x\n0::/x\n");
  auto mounts =
      *parse_mountinfo_cgroups("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  // v1 memory hierarchy not mounted, but a v2 one is: falls back to v2.
  auto loc = locate_memory_cgroup(entries, mounts);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->version, 2);
  auto none = locate_memory_cgroup(*parse_proc_cgroup("4:memory:/x\n"), {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, leakwatch::core::Errc::no_memcg);
}

TEST(ProcStatus, NodeCapturesInBytes) {
  struct Case {
    const char* dir;
    std::uint64_t rss_kb, anon_kb, hwm_kb;
  } cases[] = {{"idle", 40336, 6336, 40336},
               {"fast-leak-t04s", 126080, 88524, 126080},
               {"slow-leak-t020s", 79256, 45476, 79256},
               {"slow-leak-t060s", 169488, 135644, 169488}};
  for (const auto& c : cases) {
    auto st = parse_proc_status(read_file(kFixtures / "procfs/node-v20" / c.dir / "status"));
    ASSERT_TRUE(st.ok()) << c.dir;
    EXPECT_EQ(st->name, "node");
    EXPECT_EQ(st->vm_rss, c.rss_kb * 1024) << c.dir;
    EXPECT_EQ(st->rss_anon, c.anon_kb * 1024) << c.dir;
    EXPECT_EQ(st->vm_hwm, c.hwm_kb * 1024) << c.dir;
  }
  auto idle = parse_proc_status(read_file(kFixtures / "procfs/node-v20/idle/status"));
  EXPECT_EQ(idle->rss_file, 34000u * 1024);
  EXPECT_EQ(idle->rss_shmem, 0u);
  auto pid1 = parse_proc_status(
      read_file(kFixtures / "cgroup/v1/live-docker/inside-container-view-128m/proc/1/status"));
  EXPECT_TRUE(pid1.ok());
}

TEST(ProcStatus, ZombieAndGarbage) {
  auto zombie = parse_proc_status("Name:\tnode\nState:\tZ (zombie)\n");
  ASSERT_FALSE(zombie.ok());
  EXPECT_EQ(zombie.error().code, leakwatch::core::Errc::not_running);
  auto bad = parse_proc_status("VmRSS:\t  12x kB\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, leakwatch::core::Errc::parse);
  EXPECT_FALSE(parse_proc_status("VmRSS:\t 12 MB\n").ok());
}

TEST(ProcStat, StartTimeAfterAwkwardComm) {
  std::string stat =
      "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 7 0 987654 "
      "728236032 10084 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
  EXPECT_EQ(*parse_proc_stat_start_time(stat), 987654u);
  EXPECT_FALSE(parse_proc_stat_start_time("1234 (x) S 1 2").ok());
  EXPECT_FALSE(parse_proc_stat_start_time("no parens").ok());
}
