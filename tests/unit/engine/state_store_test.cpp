#include "leakwatch/engine/state_store.h"
#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using leakwatch::engine::StateStore;

namespace {
// A private directory per test process (ctest runs them in parallel).
struct TempDir : leakwatch::testing::UniqueTempDir {
  TempDir() : UniqueTempDir("lw-state") {}
};
}  // namespace

TEST(StateStore, RoundTripsAndReportsAFirstStart) {
  TempDir d;
  StateStore store(d.path() / "state", "web");
  auto first = store.load();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, leakwatch::core::Errc::not_found);
  nlohmann::json state = {{"detector", {{"x", 1}}}, {"series_ids", {"web/a"}}};
  ASSERT_TRUE(store.save(state, leakwatch::core::from_unix_seconds(1'800'000'000)).ok());
  auto back = store.load();
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ((*back)["detector"]["x"], 1);
  EXPECT_EQ((*back)["series_ids"][0], "web/a");
  EXPECT_EQ((*back)["target"], "web");
  EXPECT_EQ(fs::status(store.path()).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST(StateStore, CorruptFileIsKeptAsideAndAnotherTargetsFileIsRefused) {
  TempDir d;
  StateStore store(d.path(), "web");
  std::ofstream(store.path()) << "{not json";
  auto r = store.load();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, leakwatch::core::Errc::parse);
  EXPECT_TRUE(fs::exists(store.path().string() + ".corrupt"));
  EXPECT_FALSE(fs::exists(store.path()));

  std::ofstream(store.path()) << R"({"version":1,"target":"api"})";
  auto other = store.load();
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, leakwatch::core::Errc::version);
}
