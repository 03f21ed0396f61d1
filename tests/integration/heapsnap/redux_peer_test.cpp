// The Next.js + redux-state-sync incident, reproduced for real: tests/peers/redux-app serves
// requests that each create a Redux store with redux-state-sync (npm), whose broadcast-channel
// keeps every socket open. Two snapshots of that Node process are diffed as the daemon does after a
// capture series; the alert's headline must be `Socket` (not V8's `(synthetic)`, which grows more),
// and its retainer path must go through the library's own objects, with the native handles given as
// context.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "leakwatch/heapsnap/report.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace leakwatch::heapsnap {
namespace {

const fs::path kPeer = fs::path(LEAKWATCH_TESTS_DIR) / "peers" / "redux-app";

TEST(ReduxPeer, AlertHeadlineIsSocketHeldByTheLibrary) {
  // Without the peer's packages the check did not happen: a failure, not a skip.
  ASSERT_TRUE(fs::exists(kPeer / "node_modules" / "redux-state-sync"))
      << "npm packages missing: run scripts/setup (npm install in " << kPeer.string() << ")";
  leakwatch::testing::UniqueTempDir dir("leakwatch-redux-peer");
  const std::string cmd = "timeout 120 node --expose-gc " + (kPeer / "app.js").string() +
                          " --out " + dir.path().string() + " --requests 24 > " +
                          dir.file("app.log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  DiffOptions o;
  o.retainer_paths_for = 3;
  auto r = diff_files(dir.path() / "phase1.heapsnapshot", dir.path() / "phase2.heapsnapshot", o);
  ASSERT_TRUE(r.ok()) << r.error().message;

  // The Comparison keeps DevTools' order: an internal category leads it here.
  ASSERT_FALSE(r->classes.empty());
  EXPECT_TRUE(is_engine_internal(r->classes.front().name)) << r->classes.front().name;

  ASSERT_FALSE(r->top_growers.empty());
  const Grower& g = r->top_growers.front();
  EXPECT_EQ(g.diff.name, "Socket");
  EXPECT_FALSE(g.internal);
  ASSERT_TRUE(g.top_path.has_value());
  const std::string& text = g.top_path->text;
  EXPECT_FALSE(g.top_path->through_native) << text;
  EXPECT_EQ(text.find("Node / "), std::string::npos) << text;
  // broadcast-channel's node method keeps its reader clients by random token.
  EXPECT_NE(text.find("otherReaderClients"), std::string::npos) << text;
  EXPECT_NE(text.find("Object.<id>"), std::string::npos) << text;
  // One group for one cause: most Sockets whose shortest path runs through JavaScript objects
  // (the rest are reached first through their open native handles) are in it.
  ASSERT_LT(g.native_instances, g.count);
  EXPECT_GE(g.top_path->instances * 2, g.count - g.native_instances)
      << text << " (" << g.native_instances << " through native handles)";
  ASSERT_TRUE(g.native_path.has_value());
  EXPECT_NE(g.native_path->text.find("Node / PipeWrap"), std::string::npos);
  EXPECT_GT(g.native_instances, 0u);

  const auto j = to_json(*r);
  EXPECT_EQ(j["headline"], "Socket");
  std::size_t with_paths = 0;
  for (const auto& grower : j["top_growers"])
    with_paths += grower.contains("retainer_path");
  EXPECT_EQ(with_paths, 3u);
}

}  // namespace
}  // namespace leakwatch::heapsnap
