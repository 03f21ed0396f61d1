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
#include <optional>
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
  // A cgroup at `dir` (under another test cgroup, destroyed before it) with `limit` or none.
  TestCgroup(fs::path dir, std::optional<std::uint64_t> limit)
      : dir_(std::move(dir)), limit_(limit) {}
  ~TestCgroup() { destroy(); }
  bool create() {
    std::error_code ec;
    fs::create_directory(dir_, ec);
    return !ec && (!limit_ || put(dir_ / "memory.limit_in_bytes", std::to_string(*limit_)));
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
  std::optional<std::uint64_t> limit_ = kLimit;
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

// A task cgroup with a 128 MiB limit over two children without limits of their own, the watched
// app and a sidecar holding 40 MiB: the task's limit leaves the app 128 MiB less the sidecar's
// working set, and the source reports that, checked against the kernel's own files.
TEST(CgroupLive, AParentsLimitLeavesTheAppWhatTheSidecarDoesNotUse) {
  if (!memcg_writable()) GTEST_SKIP() << kMemcg << " is not writable (needs root and cgroup v1)";
  const std::uint64_t task_limit = 128 * kMiB;
  TestCgroup task(kMemcg / ("leakwatch-task-" + std::to_string(::getpid())), task_limit);
  ASSERT_TRUE(task.create()) << "cannot create " << task.dir();
  TestCgroup app_cg(task.dir() / "app", std::nullopt);
  TestCgroup side_cg(task.dir() / "sidecar", std::nullopt);
  ASSERT_TRUE(app_cg.create() && side_cg.create());
  const std::string app_procs = (app_cg.dir() / "cgroup.procs").string();
  const std::string side_procs = (side_cg.dir() / "cgroup.procs").string();

  boost::asio::io_context io;
  core::SystemClock clock;
  TargetSettings t;
  t.cgroup_path = app_cg.dir().string();
  auto src = make_source(io, t, clock);
  ASSERT_TRUE(src.ok()) << src.error().to_string();

  test_peer::ChildProcess side({"python3", "-c", kAllocator}, join_cgroup, side_procs.c_str());
  test_peer::ChildProcess app({"python3", "-c", kAllocator}, join_cgroup, app_procs.c_str());
  ASSERT_EQ(side.read_line(10s), "ready");
  ASSERT_EQ(app.read_line(10s), "ready");
  ASSERT_TRUE(side.write_line("alloc 40"));
  ASSERT_EQ(side.read_line(10s), "ok");
  ASSERT_TRUE(app.write_line("alloc 24"));
  ASSERT_EQ(app.read_line(10s), "ok");

  // The sidecar's working set from the kernel's files, before and after the read.
  auto sidecar_ws = [&] {
    auto stat = *parse_key_values(read_file(side_cg.dir() / "memory.stat"));
    return kernel_u64(side_cg.dir() / "memory.usage_in_bytes") - stat.at("total_inactive_file");
  };
  const std::uint64_t before = sidecar_ws();
  auto s = read_sync(io, **src);
  const std::uint64_t after = sidecar_ws();
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_TRUE(s->limit_bytes.has_value());
  EXPECT_GE(std::min(before, after), 40 * kMiB);
  // The app's own limit is none; the task's leaves it what the sidecar does not use (the task's
  // charge beyond its two children is at most a few pages).
  EXPECT_EQ(kernel_u64(app_cg.dir() / "memory.limit_in_bytes") >= (1ull << 62), true);
  EXPECT_LE(*s->limit_bytes, task_limit - std::min(before, after) + kMiB);
  EXPECT_GE(*s->limit_bytes + 2 * kMiB, task_limit - std::max(before, after));
  EXPECT_GE(*s->limit_bytes, s->working_set_bytes);
}
