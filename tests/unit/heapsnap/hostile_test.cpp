// Hostile snapshots (hostile_snapshots.h) at a few sizes: each view runs in a child process, and
// its CPU time and peak RSS must stay within budgets proportional to the file size. The budgets are
// generous (about ten times what the views need), so they do not flake on a busy machine, yet the
// quadratic behaviours they guard against exceed them many times over at these sizes.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "hostile_snapshots.h"
#include "leakwatch/core/utf8.h"
#include "leakwatch/heapsnap/report.h"
#include "support/temp_dir.h"

namespace leakwatch::heapsnap {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

struct Usage {
  double cpu_seconds = 0;
  double rss_growth_bytes = 0;  // child's peak RSS above the parent's RSS at the fork
  int exit_code = -1;
};

double current_rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Runs `work` in a child process; its exit code is 0 when `work` returns true.
Usage in_child(const std::function<bool()>& work) {
  std::fflush(nullptr);
  const double before = current_rss_bytes();
  const pid_t pid = fork();
  if (pid == 0) {
    bool ok = false;
    try {
      ok = work();
    } catch (...) {
      ok = false;
    }
    _exit(ok ? 0 : 3);
  }
  Usage u;
  if (pid < 0) return u;
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) != pid) return u;
  u.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  u.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  u.rss_growth_bytes = static_cast<double>(ru.ru_maxrss) * 1024.0 - before;
  return u;
}

// Summary, Comparison (with retainer paths) and retainers of the largest class, as the CLI runs
// them; every JSON form must dump strictly (valid UTF-8 throughout).
bool all_views(const std::filesystem::path& base, const std::filesystem::path& target) {
  auto summary = summarize_file(target);
  if (!summary.ok() || summary->classes.empty()) return false;
  (void)to_json(*summary).dump();
  DiffOptions d;
  d.retainer_paths_for = 3;
  auto diff = diff_files(base, target, d);
  if (!diff.ok()) return false;
  (void)to_json(*diff).dump();
  auto ret = retainers_file(target, summary->classes.front().name);
  if (!ret.ok()) return false;
  (void)to_json(*ret).dump();
  return true;
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// CPU: 1 s plus 1 s per MB; memory: 48 MiB plus 64 times the file. Sanitized builds are slower
// and hold freed memory in quarantine: the time budget grows and the memory budget is not checked.
void expect_within_budget(const std::string& name,
                          const std::function<std::string(std::size_t)>& gen,
                          std::initializer_list<std::size_t> sizes) {
  leakwatch::testing::UniqueTempDir dir("leakwatch-hostile");
  const auto base = dir.path() / (name + "-base.heapsnapshot");
  write(base, gen(*sizes.begin() / 2));
  for (std::size_t n : sizes) {
    const std::string text = gen(n);
    const auto target = dir.path() / (name + "-" + std::to_string(n) + ".heapsnapshot");
    write(target, text);
    const double mb = static_cast<double>(text.size()) / 1e6;
    Usage u = in_child([&] { return all_views(base, target); });
    ASSERT_EQ(u.exit_code, 0) << name << " n=" << n;
    const double cpu_budget = (1.0 + 1.0 * mb) * (kSanitized ? 8.0 : 1.0);
    const double rss_budget = 48.0 * (1 << 20) + 64.0 * static_cast<double>(text.size());
    EXPECT_LT(u.cpu_seconds, cpu_budget) << name << " n=" << n << " file " << text.size() << " B";
    if (!kSanitized) {
      EXPECT_LT(u.rss_growth_bytes, rss_budget)
          << name << " n=" << n << " file " << text.size() << " B";
    }
    std::printf("%s n=%zu: %zu B, %.2f s CPU, peak RSS +%.1f MiB\n", name.c_str(), n, text.size(),
                u.cpu_seconds, u.rss_growth_bytes / (1 << 20));
  }
}

TEST(HeapSnapHostile, SharedLongClassNameWithManyLocationsStaysLinear) {
  expect_within_budget("shared-name",
                       [](std::size_t n) { return hostile::shared_long_class_name(n, 128 << 10); },
                       {1000, 2000, 4000});
}

TEST(HeapSnapHostile, ManyShapesWithLongPropertyNamesStayLinear) {
  // The case goes through shape naming and interface matching: the common shape is an interface
  // and the others are named by their (cut) first property.
  auto small = parse_snapshot(hostile::many_shapes_long_names(200, 3000));
  ASSERT_TRUE(small.ok());
  const auto interfaces = infer_interfaces(*small);
  bool common = false;
  for (const auto& d : interfaces)
    common |= d.name == "{a, b}";
  EXPECT_TRUE(common);
  Summary s = summarize(*small);
  bool long_named = false;
  for (const auto& c : s.classes)
    long_named |= c.name.starts_with("{ppp") && c.count >= 200;
  EXPECT_TRUE(long_named);
  // The long names grow with the count, as in a file twice as big of the same kind.
  expect_within_budget("shapes",
                       [](std::size_t n) { return hostile::many_shapes_long_names(n, n * 26); },
                       {5000, 10000, 20000});
}

TEST(HeapSnapHostile, LongWeakMapEdgeNamesStayLinear) {
  expect_within_budget("weakmap-names",
                       [](std::size_t n) { return hostile::long_weakmap_names(8, n); },
                       {100000, 200000, 400000});
}

TEST(HeapSnapHostile, InvalidTextGivesValidJsonEverywhere) {
  expect_within_budget("text", [](std::size_t n) { return hostile::hostile_text(n); }, {64, 2000});
}

}  // namespace
}  // namespace leakwatch::heapsnap
