// Real snapshots (Node.js, make_snapshots.js) analysed by leakwatch and by DevTools' own heap
// snapshot worker (devtools_reference.mjs): every class's count, self size and retained size, and
// every Comparison figure, must be equal. Also: the incident in miniature (Socket leads by Size
// Delta).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "leakwatch/heapsnap/report.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace leakwatch::heapsnap {
namespace {

const fs::path kHere = fs::path(LEAKWATCH_TESTS_DIR) / "integration" / "heapsnap";

std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 65536> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (status) *status = rc;
  return out;
}

class Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // scripts/setup installs the reference; without it the comparison did not happen, which is a
    // failure, not a skip.
    if (!fs::exists(kHere / "node_modules" / "chrome-devtools-frontend")) {
      missing_ =
          "npm packages missing: run `npm install` in tests/integration/heapsnap (scripts/setup)";
      return;
    }
    dir_ = fs::temp_directory_path() / ("leakwatch-heapsnap-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    int rc = 0;
    std::string out =
        run("node " + (kHere / "make_snapshots.js").string() + " " + dir_.string() + " 2>&1", &rc);
    ASSERT_EQ(rc, 0) << out;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!missing_.empty()) FAIL() << missing_;
  }
  static json reference(const std::string& args) {
    int rc = 0;
    std::string out = run("node " + (kHere / "devtools_reference.mjs").string() + " " + args, &rc);
    EXPECT_EQ(rc, 0) << out;
    return json::parse(out);
  }
  static fs::path file(const std::string& name) { return dir_ / (name + ".heapsnapshot"); }

  static void compare_summary(const std::string& name) { compare_summary_of(file(name), name); }
  static void compare_summary_of(const fs::path& path, const std::string& name) {
    auto ours = summarize_file(path);
    ASSERT_TRUE(ours.ok()) << ours.error().to_string();
    json ref = reference("summary " + path.string());
    std::map<std::string, const ClassSummary*> by_key;
    for (const auto& c : ours->classes)
      by_key[c.key] = &c;
    ASSERT_EQ(ref["classes"].size(), ours->classes.size()) << name;
    for (const auto& r : ref["classes"]) {
      std::string key = r["key"];
      auto it = by_key.find(key);
      ASSERT_NE(it, by_key.end()) << name << ": class missing: " << key;
      EXPECT_EQ(it->second->name, r["name"].get<std::string>()) << key;
      EXPECT_EQ(it->second->count, r["count"].get<std::uint64_t>()) << name << " " << key;
      EXPECT_EQ(it->second->self_size, r["self_size"].get<std::uint64_t>()) << name << " " << key;
      EXPECT_EQ(it->second->retained_size, r["retained_size"].get<std::uint64_t>())
          << name << " " << key;
    }
    EXPECT_EQ(ours->total_size, ref["total_size"].get<std::uint64_t>());
  }

  // Every node's immediate dominator and retained size, against DevTools' own tree (a Summary can
  // agree while single objects' retained sizes differ).
  static void compare_dominators(const fs::path& path) {
    auto snap = load_file(path);
    ASSERT_TRUE(snap.ok()) << snap.error().to_string();
    auto self = shallow_sizes(*snap);
    Dominators dom = compute_dominators(*snap, self);
    int rc = 0;
    std::istringstream ref(
        run("node " + (kHere / "devtools_reference.mjs").string() + " dominators " + path.string(),
            &rc));
    ASSERT_EQ(rc, 0);
    std::size_t lines = 0, mismatches = 0;
    std::uint64_t id = 0, idom = 0, size = 0, retained = 0;
    while (ref >> id >> idom >> size >> retained) {
      const std::size_t v = lines++;
      ASSERT_LT(v, snap->node_count()) << path;
      ASSERT_EQ(snap->node_id[v], id) << path;
      EXPECT_EQ(self[v], size) << path << " @" << id;
      if (snap->node_id[dom.idom[v]] == idom && dom.retained[v] == retained) continue;
      if (++mismatches <= 10)
        ADD_FAILURE() << path << " @" << id << ": dominator @" << snap->node_id[dom.idom[v]]
                      << " retained " << dom.retained[v] << ", DevTools: dominator @" << idom
                      << " retained " << retained;
    }
    EXPECT_EQ(lines, snap->node_count()) << path;
    EXPECT_EQ(mismatches, 0u) << path;
  }

  static DiffReport compare_diff(const std::string& a, const std::string& b) {
    auto ours = diff_files(file(a), file(b));
    EXPECT_TRUE(ours.ok()) << ours.error().to_string();
    if (!ours.ok()) return {};
    json ref = reference("diff " + file(a).string() + " " + file(b).string());
    std::map<std::string, const ClassDiff*> by_key;
    for (const auto& c : ours->classes)
      by_key[c.key] = &c;
    EXPECT_EQ(ref["classes"].size(), ours->classes.size());
    for (const auto& r : ref["classes"]) {
      std::string key = r["key"];
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        ADD_FAILURE() << "class missing from diff: " << key;
        continue;
      }
      const ClassDiff& d = *it->second;
      EXPECT_EQ(d.name, r["name"].get<std::string>());
      EXPECT_EQ(d.new_count, r["new_count"].get<std::uint64_t>()) << key;
      EXPECT_EQ(d.deleted_count, r["deleted_count"].get<std::uint64_t>()) << key;
      EXPECT_EQ(d.delta_count, r["delta_count"].get<std::int64_t>()) << key;
      EXPECT_EQ(d.alloc_size, r["alloc_size"].get<std::uint64_t>()) << key;
      EXPECT_EQ(d.freed_size, r["freed_size"].get<std::uint64_t>()) << key;
      EXPECT_EQ(d.size_delta, r["size_delta"].get<std::int64_t>()) << key;
    }
    return std::move(*ours);
  }

  static inline fs::path dir_;
  static inline std::string missing_;
};

TEST_F(Reference, SummaryOfManyShapesMatchesDevTools) {
  compare_summary("shapes");
}
TEST_F(Reference, SummaryOfLeakSnapshotsMatchesDevTools) {
  compare_summary("leak-a");
  compare_summary("leak-b");
}
TEST_F(Reference, SummaryOfServerSnapshotMatchesDevTools) {
  compare_summary("sockets-b");
}

// Node 18's snapshots hold a node with only weak retainers (the hole Oddball, a key and value of a
// WeakMap table); both snapshots hold WeakMap values whose table edge DevTools ignores.
TEST_F(Reference, DominatorTreeOfServerSnapshotMatchesDevToolsNodeForNode) {
  compare_dominators(file("sockets-b"));
}

// The hand-written snapshot of tests/data/heapsnap (see the unit test
// HeapSnapDominators.WeakOnlyOrphanCliqueAndWeakMapValueAsDevTools): a weak-only orphan with a
// subgraph, an unreachable clique and a WeakMap value.
TEST_F(Reference, WeakOrphanSnapshotMatchesDevTools) {
  const fs::path path =
      fs::path(LEAKWATCH_TESTS_DIR) / "data" / "heapsnap" / "weak-orphan.heapsnapshot";
  compare_summary_of(path, "weak-orphan");
  compare_dominators(path);
}

TEST_F(Reference, ComparisonOfGrowingLeakMatchesDevTools) {
  DiffReport r = compare_diff("leak-a", "leak-b");
  ASSERT_FALSE(r.classes.empty());
  bool found = false;
  for (const auto& c : r.classes) {
    if (c.name != "LeakyRecord") continue;
    found = true;
    EXPECT_EQ(c.new_count, 5000u);
    EXPECT_EQ(c.deleted_count, 100u);
  }
  EXPECT_TRUE(found);
}

TEST_F(Reference, SocketLeakLeadsTheComparisonWithItsRetainerPath) {
  DiffReport r = compare_diff("sockets-a", "sockets-b");
  ASSERT_FALSE(r.classes.empty());
  EXPECT_EQ(r.classes[0].name, "Socket");
  EXPECT_GE(r.classes[0].delta_count, 200);
  ASSERT_FALSE(r.top_growers.empty());
  ASSERT_TRUE(r.top_growers[0].top_path.has_value());
  const std::string& text = r.top_growers[0].top_path->text;
  EXPECT_EQ(text.find("Socket ← Array[] ← "), 0u) << text;
  EXPECT_NE(text.find("connections"), std::string::npos) << text;
  EXPECT_NE(text.find("__backendClient"), std::string::npos) << text;
}

TEST_F(Reference, CompressedSnapshotGivesTheSameSummary) {
  std::ifstream in(file("shapes"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string plain = ss.str();
  std::string z(ZSTD_compressBound(plain.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), plain.data(), plain.size(), 3));
  fs::path zpath = dir_ / "shapes.heapsnapshot.zst";
  std::ofstream(zpath, std::ios::binary) << z;
  auto a = summarize_file(file("shapes"));
  auto b = summarize_file(zpath);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(to_json(*a), to_json(*b));
}

}  // namespace
}  // namespace leakwatch::heapsnap
