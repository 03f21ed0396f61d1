// The leakwatch executable as users run it: exit codes and messages of check-config, capture
// (against the real Node heap-dump app) and snapshots, and that the key never shows.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "leakwatch/archive/capture_lock.h"
#include "peers/heapdump-app/heapdump_app.h"
#include "peers/zero-code/node_process.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Run run(const std::string& args, const std::string& env = "") {
  std::string cmd = env + " " + LEAKWATCH_BIN + " " + args + " 2>&1";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A private directory per test process (ctest runs them in parallel).
struct TempDir : leakwatch::testing::UniqueTempDir {
  TempDir() : UniqueTempDir("lw-cli") {}
};

}  // namespace

TEST(Cli, CheckConfigPrintsEveryProblemAndExits78) {
  TempDir d;
  std::ofstream(d.path() / "bad.yaml")
      << "poll_interval: soon\ncapture:\n  cooldwon: 5m\ntarget:\n  source: docker\n";
  auto r = run("check-config " + (d.path() / "bad.yaml").string());
  EXPECT_EQ(r.code, 78) << r.out;
  EXPECT_NE(r.out.find("bad.yaml:1:16: poll_interval"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad.yaml:3:3: capture.cooldwon: unknown key (did you mean 'cooldown'?)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("target.source"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 problems found"), std::string::npos) << r.out;

  std::ofstream(d.path() / "good.yaml") << "target:\n  name: web\npoll_interval: 5s\n";
  auto ok = run("check-config " + (d.path() / "good.yaml").string());
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("configuration is valid"), std::string::npos) << ok.out;
}

// Every command that reads a configuration names its problems the same way (file:line:column,
// the key, a count) and exits 78: they share one loader.
TEST(Cli, EveryCommandReportsConfigProblemsTheSameWay) {
  TempDir d;
  const auto bad = (d.path() / "bad.yaml").string();
  std::ofstream(bad) << "target:\n  name: web\npoll_interval: soon\n";
  for (const std::string& args :
       {"run --config " + bad, "sample --config " + bad, "replay trace.csv --config " + bad,
        "alert test --config " + bad, "capture --config " + bad, "snapshots list --config " + bad,
        "summary web/20260101T000000Z-1 --config " + bad}) {
    auto r = run(args);
    EXPECT_EQ(r.code, 78) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("bad.yaml:3:16: poll_interval"), std::string::npos) << args << "\n"
                                                                             << r.out;
    EXPECT_NE(r.out.find("1 problem found; configuration not valid"), std::string::npos)
        << args << "\n"
        << r.out;
  }
}

TEST(Cli, UsageErrorsExit2) {
  EXPECT_EQ(run("check-config a.yaml b.yaml").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
}

// The version comes from project(VERSION) in CMakeLists.txt, with the configured git revision.
TEST(Cli, VersionIsTheProjectVersion) {
  auto r = run("--version");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind(std::string("leakwatch ") + LEAKWATCH_PROJECT_VERSION + " (", 0), 0u)
      << r.out;
}

// Containers (the ECS example) pass the configuration in $LEAKWATCH_CONFIG_YAML.
TEST(Cli, CheckConfigReadsTheEnvironmentWhenGivenNoFile) {
  auto none = run("check-config", "env -u LEAKWATCH_CONFIG_YAML");
  EXPECT_EQ(none.code, 78) << none.out;
  EXPECT_NE(none.out.find("LEAKWATCH_CONFIG_YAML"), std::string::npos) << none.out;
  auto ok = run("check-config", "LEAKWATCH_CONFIG_YAML='target: {name: web}'");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("configuration is valid"), std::string::npos) << ok.out;
  auto bad = run("check-config", "LEAKWATCH_CONFIG_YAML='poll_interval: soon'");
  EXPECT_EQ(bad.code, 78) << bad.out;
  EXPECT_NE(bad.out.find("$LEAKWATCH_CONFIG_YAML:1:16: poll_interval"), std::string::npos)
      << bad.out;
}

// The embedded default watches leakwatch's own cgroup: in a container that is never what was meant.
TEST(Cli, RunWithoutConfigurationInAContainerIsAnError) {
  auto r = run("run", "env -u LEAKWATCH_CONFIG_YAML container=docker");
  EXPECT_EQ(r.code, 78) << r.out;
  EXPECT_NE(r.out.find("LEAKWATCH_CONFIG_YAML"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("$container is set"), std::string::npos) << r.out;
}

// A zero-code method needs neither capture.url nor a key: the guard rails must let it through.
TEST(Cli, CaptureBySignalNeedsNoUrlAndNoKey) {
  TempDir d;
  auto app_dir = d.path() / "app";
  fs::create_directories(app_dir);
  leakwatch::testing::NodeProcess app({"--heapsnapshot-signal=SIGUSR2"}, "app.js",
                                      {"--objects", "300"}, app_dir.string());
  auto pid = app.wait_stdout(R"(READY (\d+))");
  ASSERT_FALSE(pid.empty());
  std::ofstream(d.path() / "lw.yaml")
      << "target:\n  name: web\n  source: procfs\n  pid: " << ::getpid()
      << "\ncapture:\n  method: signal\n  pid: " << pid
      << "\n  signal: {settle: 200ms}\n  cooldown: 0s\narchive:\n  dir: "
      << (d.path() / "archive").string() << "\n";
  auto r = run("capture --config " + (d.path() / "lw.yaml").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("captured web/"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_empty(app_dir)) << "the app's original snapshot must be removed";
}

TEST(Cli, CaptureArchivesASnapshotAndAWrongKeyFailsClearly) {
  const std::string key = "cli-test-key-5f3a9c";
  leakwatch::testing::HeapdumpApp app({"--key", key, "--mode", "synthetic", "--bytes", "200000"});
  ASSERT_TRUE(app.ok()) << app.error();
  TempDir d;
  auto archive = (d.path() / "archive").string();
  std::ofstream(d.path() / "lw.yaml")
      << "target:\n  name: web\n  source: procfs\n  pid: " << ::getpid()
      << "\ncapture:\n  url: " << app.url()
      << "\n  key: {env: LW_CLI_KEY}\n  cooldown: 0s\narchive:\n  dir: " << archive << "\n";
  auto cfg = (d.path() / "lw.yaml").string();

  auto ok = run("capture --config " + cfg, "LW_CLI_KEY=" + key);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out.find(key), std::string::npos) << "the key leaked: " << ok.out;

  // Browsing needs no key in the environment.
  auto list = run("snapshots list --config " + cfg);
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_NE(list.out.find("web/"), std::string::npos) << list.out;

  auto bad = run("capture --config " + cfg, "LW_CLI_KEY=wrong-key-value");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("403"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("key"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find("wrong-key-value"), std::string::npos) << bad.out;

  // Still exactly one snapshot (plus its metadata) in the archive: the failure left nothing.
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(archive))
    if (e.is_regular_file() && e.path().filename() != ".capture.lock") ++files;
  EXPECT_EQ(files, 2);

  // A capture in flight elsewhere (the daemon) holds the archive's capture lock: no second dump.
  {
    auto held = leakwatch::archive::CaptureLock::try_acquire(archive);
    ASSERT_TRUE(held.ok()) << held.error().to_string();
    auto busy = run("capture --config " + cfg, "LW_CLI_KEY=" + key);
    EXPECT_EQ(busy.code, 1) << busy.out;
    EXPECT_NE(busy.out.find("another capture is in flight"), std::string::npos) << busy.out;
  }

  auto missing = run("capture --config " + cfg);  // key variable unset: configuration error
  EXPECT_EQ(missing.code, 78) << missing.out;
  EXPECT_NE(missing.out.find("LW_CLI_KEY"), std::string::npos) << missing.out;

  // --key-file reads the key as the configuration's { file: } does: its line end is not part of
  // it (else the app answers 403), and an empty file is a configuration error.
  const auto key_file = (d.path() / "key").string();
  std::ofstream(key_file) << key << "\n";
  auto by_file =
      run("capture --config " + cfg + " --key-file " + key_file, "LW_CLI_KEY=wrong-key-value");
  EXPECT_EQ(by_file.code, 0) << by_file.out;
  EXPECT_EQ(by_file.out.find(key), std::string::npos) << "the key leaked: " << by_file.out;
  std::ofstream(key_file, std::ios::trunc) << "\n";
  auto empty =
      run("capture --config " + cfg + " --key-file " + key_file, "LW_CLI_KEY=wrong-key-value");
  EXPECT_EQ(empty.code, 78) << empty.out;
  EXPECT_NE(empty.out.find("is empty"), std::string::npos) << empty.out;
}
