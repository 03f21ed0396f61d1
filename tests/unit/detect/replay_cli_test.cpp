// `leakwatch replay` run as a subprocess: stdout JSON Lines, exit codes, errors on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "support/read_file.h"
#include "support/temp_dir.h"

namespace {

// One private directory per test process: ctest runs these tests concurrently.
const leakwatch::testing::UniqueTempDir& tmp() {
  static const leakwatch::testing::UniqueTempDir dir("lw-replay-cli");
  return dir;
}

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

Ran run(const std::string& args) {
  const std::string err_file = tmp().file("stderr.txt");
  const std::string cmd = std::string(LEAKWATCH_BIN) + " " + args + " 2>" + err_file;
  Ran r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

const std::string kTraces = LEAKWATCH_TRACES_DIR;

TEST(ReplayCli, NodeLeakWithConfigAlertsAtExactTime) {
  auto r = run("replay " + kTraces + "/node_leak.csv --config " + kTraces + "/fast_detection.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::optional<double> first;
  int n = 0;
  for (std::string l; std::getline(lines, l); ++n) {
    auto j = nlohmann::json::parse(l);
    ASSERT_TRUE(j.contains("t") && j.contains("state"));
    if (!first && j["state"] == "leak_suspected") first = j["t"].get<double>();
  }
  EXPECT_GE(n, 3);
  ASSERT_TRUE(first);
  EXPECT_DOUBLE_EQ(*first, 1795508991.218);
}

TEST(ReplayCli, DefaultsOnSyntheticLeak) {
  auto r = run("replay " + kTraces + "/synth_leak_limit.csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"state\":\"leak_suspected\",\"t\":1767247260.0"), std::string::npos)
      << r.out;
}

TEST(ReplayCli, MalformedTraceFailsWithLineNumber) {
  const std::string path = tmp().file("unsorted_trace.csv");
  std::ofstream(path) << "timestamp,usage_bytes\n10,100\n5,100\n";
  auto r = run("replay " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 3: timestamp 5 is earlier"), std::string::npos) << r.err;
}

TEST(ReplayCli, MissingFileAndBadConfig) {
  auto r = run("replay /nonexistent/trace.csv");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot open trace file"), std::string::npos) << r.err;
  const std::string cfg = tmp().file("bad_detection.yaml");
  std::ofstream(cfg) << "detection:\n  min_window: 1m\n  max_window: 30s\n";
  r = run("replay " + kTraces + "/synth_leak_limit.csv --config " + cfg);
  EXPECT_EQ(r.code, 78) << r.err;
  EXPECT_FALSE(r.err.empty());
  r = run("replay");
  EXPECT_EQ(r.code, 2);
}

// A deployment's config replays on a laptop: its secrets (here an unset variable) are not read.
TEST(ReplayCli, ADeploymentConfigReplaysWithoutItsSecrets) {
  const std::string cfg = tmp().file("deployed.yaml");
  std::ofstream(cfg) << leakwatch::testing::read_file(kTraces + "/fast_detection.yaml")
                     << "alerts:\n  slack:\n    - name: ops\n"
                        "      webhook_url: { env: LEAKWATCH_TEST_UNSET_WEBHOOK_URL }\n";
  ::unsetenv("LEAKWATCH_TEST_UNSET_WEBHOOK_URL");
  auto r = run("replay " + kTraces + "/node_leak.csv --config " + cfg);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("leak_suspected"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("LEAKWATCH_TEST_UNSET_WEBHOOK_URL"), std::string::npos) << r.err;
}

}  // namespace
