// `leakwatch summary|diff|retainers` on archive ids: a temporary archive is filled through the
// archive API with two real Node.js snapshots (one zstd-compressed, one plain), then the real
// command handlers (daemon/cmd_heapsnap.cpp, registered on a CLI11 app as main.cpp does) are run
// with ids, --archive and --config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/utf8.h"
#include "support/temp_dir.h"
#include "unit/heapsnap/hostile_snapshots.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace leakwatch::cli {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `leakwatch <args>` through the heap snapshot command handlers.
CliRun leakwatch(const std::string& args) {
  CLI::App app{"leakwatch"};
  app.require_subcommand(1);
  CliRun r;
  r.exit_code = 0;
  register_heapsnap_commands(app, r.exit_code);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    app.parse(args, false);
  } catch (const CLI::ParseError& e) {
    r.exit_code = kExitUsage;
    std::cerr << e.what() << "\n";
  }
  std::fflush(stdout);
  std::cout.flush();
  std::cerr.flush();
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ArchiveIds : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("leakwatch-heapsnap-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // Two real snapshots of one process: B holds 3000 more LeakyRecord objects than A.
    const std::string script =
        "const v8=require('v8');class LeakyRecord{constructor(i){this.i=i;this.s='r'+i;}}"
        "globalThis.__keep=[];for(let i=0;i<1000;i++)__keep.push(new LeakyRecord(i));"
        "v8.writeHeapSnapshot(process.argv[2]+'/a.heapsnapshot');"
        "for(let i=0;i<3000;i++)__keep.push(new LeakyRecord(i));"
        "v8.writeHeapSnapshot(process.argv[2]+'/b.heapsnapshot');";
    fs::path js = dir_ / "make.js";
    std::ofstream(js) << script;
    std::string cmd = "node " + js.string() + " " + dir_.string() + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

    archive::ArchiveSettings settings;
    settings.dir = (dir_ / "archive").string();
    archive::Archive arch(settings);
    ASSERT_TRUE(arch.open().ok());
    const auto t0 = core::TimePoint(std::chrono::seconds(1795939200));  // 2026-11-24T08:00:00Z
    auto store = [&](const char* file, int k, archive::Compression c, std::string& id) {
      archive::Reason reason{"leak_series", k, 2, "s1"};
      auto pending = arch.begin("web", t0 + std::chrono::minutes(k), reason, c);
      ASSERT_TRUE(pending.ok()) << pending.error().message;
      std::string bytes = read_all(dir_ / file);
      ASSERT_GT(bytes.size(), 1000u);
      for (std::size_t i = 0; i < bytes.size(); i += 65536)
        ASSERT_TRUE((*pending)->write(std::string_view(bytes).substr(i, 65536)).ok());
      archive::Metadata meta;
      meta.reason = reason;
      auto m = (*pending)->commit(meta);
      ASSERT_TRUE(m.ok()) << m.error().message;
      id = m->id;
    };
    store("a.heapsnapshot", 1, archive::Compression::zstd, id_a_);
    store("b.heapsnapshot", 2, archive::Compression::none, id_b_);
    config_ = dir_ / "leakwatch.yaml";
    std::ofstream(config_) << "archive:\n  dir: " << settings.dir << "\n";
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static std::string archive_dir() { return (dir_ / "archive").string(); }

  static inline fs::path dir_;
  static inline fs::path config_;
  static inline std::string id_a_, id_b_;
};

TEST_F(ArchiveIds, DiffByArchiveIdsFindsTheLeak) {
  ASSERT_EQ(id_a_.rfind("web/", 0), 0u) << id_a_;
  EXPECT_NE(id_a_.find("leak-series-1of2"), std::string::npos) << id_a_;
  CliRun r = leakwatch("diff " + id_a_ + " " + id_b_ + " --archive " + archive_dir() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_FALSE(j["top_growers"].empty());
  bool found = false;
  for (const auto& c : j["classes"]) {
    if (c["name"] != "LeakyRecord") continue;
    found = true;
    EXPECT_EQ(c["new_count"], 3000);
    EXPECT_EQ(c["deleted_count"], 0);
    EXPECT_GT(c["size_delta"].get<std::int64_t>(), 0);
  }
  EXPECT_TRUE(found) << r.out.substr(0, 2000);
}

TEST_F(ArchiveIds, ConfigFileGivesTheArchive) {
  // The compressed one (A) through the configuration's archive.dir.
  CliRun r = leakwatch("summary " + id_a_ + " --config " + config_.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  bool found = false;
  for (const auto& c : j["classes"])
    if (c["name"] == "LeakyRecord") found = c["count"] == 1000;
  EXPECT_TRUE(found);
  // The same snapshot as a plain file gives the same summary.
  CliRun plain = leakwatch("summary " + (dir_ / "a.heapsnapshot").string() + " --json");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(json::parse(plain.out), j);
}

TEST_F(ArchiveIds, RetainersByArchiveId) {
  CliRun r = leakwatch("retainers " + id_b_ + " --class LeakyRecord --archive " + archive_dir() +
                       " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["instances"], 4000);
  ASSERT_FALSE(j["paths"].empty());
  EXPECT_NE(j["paths"][0]["text"].get<std::string>().find("__keep"), std::string::npos)
      << j["paths"][0]["text"];
}

TEST_F(ArchiveIds, UnknownIdListsTheNearestIds) {
  std::string wrong = id_a_;
  wrong.back() = wrong.back() == '1' ? '7' : '1';  // a typo in the last character
  CliRun r = leakwatch("diff " + wrong + " " + id_b_ + " --archive " + archive_dir());
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("no snapshot with id " + wrong), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(id_a_), std::string::npos) << r.err;  // suggested
  EXPECT_TRUE(r.out.empty());
}

TEST_F(ArchiveIds, BrokenConfigIsAConfigError) {
  fs::path bad = dir_ / "bad.yaml";
  std::ofstream(bad) << "archive:\n  dirr: /nowhere\n";
  CliRun r = leakwatch("summary " + id_a_ + " --config " + bad.string());
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_NE(r.err.find("bad.yaml"), std::string::npos) << r.err;
}

TEST_F(ArchiveIds, MissingPlainFileIsAClearError) {
  CliRun r = leakwatch("summary " + (dir_ / "nope.heapsnapshot").string());
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("nope.heapsnapshot"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace leakwatch::cli

namespace leakwatch::cli {
namespace {

// Class and property names holding a lone \uD800 surrogate (three bytes in WTF-8,
// so three U+FFFD), raw 0xFF bytes and a 42-character Japanese key: summary, diff and retainers
// (JSON and tables) exit 0 and print valid UTF-8 with U+FFFD in place of the invalid sequences.
TEST(InvalidText, EveryOutputIsValidUtf8) {
  leakwatch::testing::UniqueTempDir dir("leakwatch-cli-text");
  const std::string base = dir.file("base.heapsnapshot"), target = dir.file("target.heapsnapshot");
  std::ofstream(base, std::ios::binary) << heapsnap::hostile::hostile_text(6);
  std::ofstream(target, std::ios::binary) << heapsnap::hostile::hostile_text(60);
  for (const std::string& args :
       {"summary " + target + " --json", "summary " + target, "diff " + base + " " + target,
        "diff " + base + " " + target + " --json",
        "retainers " + target + " --json --class Bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdName",
        "retainers " + target + " --class Raw\xef\xbf\xbd\xef\xbf\xbdName"}) {
    CliRun r = leakwatch(args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    EXPECT_TRUE(core::is_valid_utf8(r.out)) << args;
    EXPECT_NE(r.out.find("\xef\xbf\xbd"), std::string::npos) << args << "\n" << r.out;
    if (args.find("--json") == std::string::npos) continue;
    json j = json::parse(r.out);
    if (j.contains("paths")) {
      ASSERT_FALSE(j["paths"].empty()) << r.out;
      EXPECT_GT(j["instances"].get<int>(), 0) << r.out;
    }
  }
}

}  // namespace
}  // namespace leakwatch::cli
