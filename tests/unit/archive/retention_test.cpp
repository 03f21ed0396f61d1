#include "leakwatch/archive/retention.h"

#include <gtest/gtest.h>

using namespace leakwatch;
using archive::Metadata;
using std::chrono::hours;

namespace {
core::TimePoint now() {
  return core::from_unix_seconds(1'790'000'000);
}
Metadata entry(const std::string& target, int hours_ago, std::uint64_t bytes) {
  Metadata m;
  m.target = target;
  m.started_at = now() - hours(hours_ago);
  m.id = target + "/" + core::format_utc_compact(m.started_at) + "-manual";
  m.stored_bytes = bytes;
  return m;
}
archive::ArchiveSettings unlimited() {
  archive::ArchiveSettings s;
  s.max_per_target = 0;
  s.max_total_bytes = 0;
  s.max_age = std::chrono::seconds(0);
  return s;
}
}  // namespace

TEST(Retention, NothingToDoUnderTheLimits) {
  std::vector<Metadata> e = {entry("web", 1, 10), entry("web", 2, 10)};
  EXPECT_TRUE(archive::plan_retention(e, archive::ArchiveSettings{}, now()).empty());
  EXPECT_TRUE(archive::plan_retention(e, unlimited(), now()).empty());
}

TEST(Retention, CountIsPerTargetAndKeepsTheNewest) {
  auto s = unlimited();
  s.max_per_target = 2;
  std::vector<Metadata> e = {entry("web", 5, 1), entry("web", 1, 1), entry("api", 9, 1),
                             entry("web", 3, 1), entry("web", 4, 1)};
  auto r = archive::plan_retention(e, s, now());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, e[4].id);  // 4h ago
  EXPECT_EQ(r[1].id, e[0].id);  // 5h ago
  for (const auto& x : r)
    EXPECT_EQ(x.rule, "count");
}

TEST(Retention, AgeRemovesOldCaptures) {
  auto s = unlimited();
  s.max_age = hours(24);
  std::vector<Metadata> e = {entry("web", 30, 1), entry("web", 23, 1), entry("api", 48, 1)};
  auto r = archive::plan_retention(e, s, now());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, e[0].id);
  EXPECT_EQ(r[1].id, e[2].id);
  EXPECT_EQ(r[0].rule, "age");
}

TEST(Retention, TotalBytesRemovesOldestButNeverTheNewestOfATarget) {
  auto s = unlimited();
  s.max_total_bytes = 250;
  std::vector<Metadata> e = {entry("web", 1, 100), entry("web", 2, 100), entry("web", 3, 100),
                             entry("api", 10, 100)};
  auto r = archive::plan_retention(e, s, now());
  // Total 400 > 250: "api" (10h) is the oldest but the newest of its target; web 3h then web 2h go.
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, e[2].id);
  EXPECT_EQ(r[1].id, e[1].id);
  EXPECT_EQ(r[0].rule, "bytes");
  // Even a single huge capture is kept: it is the latest evidence.
  std::vector<Metadata> one = {entry("web", 1, 1000)};
  EXPECT_TRUE(archive::plan_retention(one, s, now()).empty());
}
