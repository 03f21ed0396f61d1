// The cgroup source on a real cgroup v1 memory controller: a child cgroup with a 64 MiB limit, a
// Python process that allocates on command, the source checked against the kernel's own files, an
// OOM kill driven on purpose, the restart detected. The cgroup is removed even when a check fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "child_process.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/source/parse.h"
#include "leakwatch/source/source.h"
#include "support/read_file.h"

namespace fs = std::filesystem;
using leakwatch::testing::read_file;
using namespace leakwatch;
using namespace leakwatch::source;
using namespace std::chrono_literals;

namespace {

const fs::path kMemcg = "/sys/fs/cgroup/memory";
constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kLimit = 64 * kMiB;

bool put(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v;
  out.flush();
  return static_cast<bool>(out);
}
std::uint64_t kernel_u64(const fs::path& p) {
  return *parse_u64(read_file(p));
}
std::uint64_t kernel_oom_kills(const fs::path& dir) {
  return parse_key_values(read_file(dir / "memory.oom_control"))->at("oom_kill");
}

// RAII: the test cgroup. Destruction kills every process in it, waits for them and removes it.
class TestCgroup {
 public:
  TestCgroup() : dir_(kMemcg / ("leakwatch-test-" + std::to_string(::getpid()))) {}
  ~TestCgroup() { destroy(); }
  bool create() {
    std::error_code ec;
    fs::create_directory(dir_, ec);
    return !ec && put(dir_ / "memory.limit_in_bytes", std::to_string(kLimit));
  }
  void destroy() {
    std::error_code ec;
    for (int attempt = 0; attempt < 100 && fs::exists(dir_, ec); ++attempt) {
      std::istringstream procs(read_file(dir_ / "cgroup.procs"));
      for (pid_t pid; procs >> pid;)
        ::kill(pid, SIGKILL);
      if (::rmdir(dir_.c_str()) == 0) return;
      std::this_thread::sleep_for(20ms);
    }
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

// Runs in the forked child before exec: joins the cgroup.
void join_cgroup(const void* arg) {
  const char* procs = static_cast<const char*>(arg);
  int fd = ::open(procs, O_WRONLY);
  if (fd < 0) ::_exit(126);
  char buf[32];
  int n = 0;
  for (pid_t p = ::getpid(); p > 0; p /= 10)
    buf[n++] = static_cast<char>('0' + p % 10);
  char out[32];
  for (int i = 0; i < n; ++i)
    out[i] = buf[n - 1 - i];
  if (::write(fd, out, static_cast<std::size_t>(n)) != n) ::_exit(126);
  ::close(fd);
}

// Allocates (and touches) N MiB per "alloc N" line; "grow" allocates until the OOM killer strikes.
const char* kAllocator = R"PY(
import sys
chunks = []
def say(s):
    sys.stdout.write(s + "\n"); sys.stdout.flush()
say("ready")
for line in sys.stdin:
    cmd = line.split()
    if cmd and cmd[0] == "alloc":
        chunks.append(b"\x01" * (int(cmd[1]) << 20)); say("ok")
    elif cmd and cmd[0] == "grow":
        while True:
            chunks.append(b"\x01" * (2 << 20))
)PY";

bool memcg_writable() {
  return ::access(kMemcg.c_str(), W_OK) == 0 && fs::exists(kMemcg / "memory.usage_in_bytes");
}

}  // namespace

TEST(CgroupLive, MatchesTheKernelThenSeesTheOomKillAndTheRestart) {
  if (!memcg_writable()) GTEST_SKIP() << kMemcg << " is not writable (needs root and cgroup v1)";
  TestCgroup cg;
  ASSERT_TRUE(cg.create()) << "cannot create " << cg.dir();
  const std::string procs = (cg.dir() / "cgroup.procs").string();

  boost::asio::io_context io;
  core::SystemClock clock;
  TargetSettings t;
  t.cgroup_path = cg.dir().string();
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok()) << src.error().to_string();

  // An empty cgroup already reads fine.
  auto empty = read_sync(io, **src);
  ASSERT_TRUE(empty.ok()) << empty.error().to_string();
  EXPECT_EQ(empty->limit_bytes, kLimit);
  EXPECT_NE((*src)->describe().find("cgroup v1"), std::string::npos);

  {
    test_peer::ChildProcess app({"python3", "-c", kAllocator}, join_cgroup, procs.c_str());
    ASSERT_TRUE(app.started());
    ASSERT_EQ(app.read_line(10s), "ready");
    ASSERT_TRUE(app.write_line("alloc 24"));
    ASSERT_EQ(app.read_line(10s), "ok");

    // The source against the kernel's files, read just before and just after.
    auto usage_before = kernel_u64(cg.dir() / "memory.usage_in_bytes");
    auto s = read_sync(io, **src);
    auto usage_after = kernel_u64(cg.dir() / "memory.usage_in_bytes");
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_GE(s->usage_bytes + kMiB, std::min(usage_before, usage_after));
    EXPECT_LE(s->usage_bytes, std::max(usage_before, usage_after) + kMiB);
    EXPECT_GE(s->usage_bytes, 24 * kMiB);
    EXPECT_EQ(s->limit_bytes, kLimit);
    EXPECT_EQ(s->limit_bytes, kernel_u64(cg.dir() / "memory.limit_in_bytes"));
    ASSERT_TRUE(s->anon_bytes.has_value());
    EXPECT_GE(*s->anon_bytes, 24 * kMiB);
    EXPECT_LE(s->working_set_bytes, s->usage_bytes);
    auto stat = *parse_key_values(read_file(cg.dir() / "memory.stat"));
    EXPECT_EQ(*s->anon_bytes / kMiB, stat.at("total_rss") / kMiB);
    ASSERT_TRUE(s->peak_bytes.has_value());
    EXPECT_GE(*s->peak_bytes, s->usage_bytes);
    EXPECT_EQ(s->oom_kill_count, kernel_oom_kills(cg.dir()));
    EXPECT_EQ(s->oom_kill_count, 0u);
    EXPECT_FALSE(s->restarted);

    ASSERT_TRUE(app.write_line("alloc 16"));
    ASSERT_EQ(app.read_line(10s), "ok");
    auto grown = read_sync(io, **src);
    ASSERT_TRUE(grown.ok());
    EXPECT_GE(grown->usage_bytes, s->usage_bytes + 15 * kMiB);
    EXPECT_FALSE(grown->restarted);

    // Over the limit: the kernel's OOM killer ends the process.
    ASSERT_TRUE(app.write_line("grow"));
    auto status = app.wait(20s);
    ASSERT_TRUE(status.has_value()) << "the allocator was not OOM-killed within 20 s";
    ASSERT_TRUE(WIFSIGNALED(*status));
    EXPECT_EQ(WTERMSIG(*status), SIGKILL);

    auto killed = read_sync(io, **src);
    ASSERT_TRUE(killed.ok()) << killed.error().to_string();
    EXPECT_EQ(killed->oom_kill_count, 1u);
    EXPECT_EQ(killed->oom_kill_count, kernel_oom_kills(cg.dir()));
    EXPECT_TRUE(killed->restarted);
    EXPECT_LT(killed->usage_bytes, 8 * kMiB);
    EXPECT_EQ(killed->peak_bytes, kLimit);  // max_usage_in_bytes reached the limit
    EXPECT_NE(killed->instance, s->instance);
  }

  // The app comes back in the same cgroup: climbing again is not another restart.
  {
    test_peer::ChildProcess app({"python3", "-c", kAllocator}, join_cgroup, procs.c_str());
    ASSERT_EQ(app.read_line(10s), "ready");
    ASSERT_TRUE(app.write_line("alloc 8"));
    ASSERT_EQ(app.read_line(10s), "ok");
    auto again = read_sync(io, **src);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->restarted);
    EXPECT_EQ(again->oom_kill_count, 1u);
  }

  // The cgroup vanishes: a clear error; it is recreated: the next poll works and is a restart.
  cg.destroy();
  auto gone = read_sync(io, **src);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, core::Errc::not_found);
  EXPECT_NE(gone.error().message.find(cg.dir().string()), std::string::npos);
  ASSERT_TRUE(cg.create());
  auto back = read_sync(io, **src);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->oom_kill_count, 0u);
  EXPECT_TRUE(back->restarted);
}
