// The diff child: limits, cancellation, the budget decision and the parsing of its report; and
// start_diff, through which the engine and the API run it.
#include "leakwatch/engine/diff_child.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <fstream>
#include <optional>

#include "leakwatch/archive/archive.h"
#include "leakwatch/core/clock.h"
#include "support/io_wait.h"
#include "support/temp_dir.h"

namespace leakwatch::engine {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using leakwatch::testing::process_gone;
using leakwatch::testing::run_until;

struct Outcome {
  std::optional<core::Result<std::string>> r;
};

std::shared_ptr<ChildProcess> spawn(asio::io_context& io, std::vector<std::string> argv,
                                    ChildLimits limits, Outcome& out) {
  auto c = ChildProcess::start(io, argv, limits,
                               [&out](core::Result<std::string> r) { out.r = std::move(r); });
  EXPECT_TRUE(c.ok());
  return c.ok() ? *c : nullptr;
}

TEST(ChildProcess, CollectsStdoutOfASuccessfulChild) {
  asio::io_context io;
  Outcome out;
  auto c = spawn(io, {"/bin/sh", "-c", "printf '%s' \"$MALLOC_ARENA_MAX-ok\""}, {}, out);
  ASSERT_TRUE(run_until(io, [&] { return out.r.has_value(); }));
  ASSERT_TRUE(out.r->ok()) << out.r->error().message;
  EXPECT_EQ(**out.r, "1-ok");  // one malloc arena, so that RLIMIT_AS tracks real use
}

TEST(ChildProcess, NonZeroExitIsAnErrorWithThePrintableEndOfStderr) {
  asio::io_context io;
  Outcome out;
  auto c = spawn(io, {"/bin/sh", "-c", "printf 'bad \\377 input' >&2; exit 3"}, {}, out);
  ASSERT_TRUE(run_until(io, [&] { return out.r.has_value(); }));
  ASSERT_FALSE(out.r->ok());
  EXPECT_EQ(out.r->error().code, core::Errc::failed);
  EXPECT_NE(out.r->error().message.find("exited with 3: bad   input"), std::string::npos)
      << out.r->error().message;
}

TEST(ChildProcess, AChildOverItsMemoryLimitFailsAndTheParentCarriesOn) {
  asio::io_context io;
  Outcome out;
  ChildLimits limits;
  limits.address_space = 64ull << 20;
  // The shell holds a 200 MB string: far over 64 MiB of address space.
  auto c = spawn(io, {"/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}"},
                 limits, out);
  ASSERT_TRUE(run_until(
      io, [&] { return out.r.has_value(); }, 60s));
  EXPECT_FALSE(out.r->ok()) << "a 200 MB string fit in 64 MiB?";
  EXPECT_TRUE(process_gone(c->pid()));
}

TEST(ChildProcess, TimeLimitKillsTheChild) {
  asio::io_context io;
  Outcome out;
  ChildLimits limits;
  limits.time = 200ms;
  auto c = spawn(io, {"/bin/sleep", "30"}, limits, out);
  ASSERT_TRUE(run_until(io, [&] { return out.r.has_value(); }));
  ASSERT_FALSE(out.r->ok());
  EXPECT_EQ(out.r->error().code, core::Errc::timeout);
  EXPECT_TRUE(process_gone(c->pid()));
}

TEST(ChildProcess, OutputBeyondTheCapKillsTheChild) {
  asio::io_context io;
  Outcome out;
  ChildLimits limits;
  limits.max_output = 1 << 16;
  auto c = spawn(io, {"/bin/sh", "-c", "exec cat /dev/zero"}, limits, out);
  ASSERT_TRUE(run_until(io, [&] { return out.r.has_value(); }));
  ASSERT_FALSE(out.r->ok());
  EXPECT_EQ(out.r->error().code, core::Errc::too_large);
}

TEST(ChildProcess, CancelAnswersAtOnceAndTheChildIsKilledAndReaped) {
  asio::io_context io;
  Outcome out;
  auto c = spawn(io, {"/bin/sleep", "30"}, {}, out);
  ASSERT_TRUE(c);
  io.run_for(50ms);
  ASSERT_FALSE(out.r.has_value());
  const pid_t pid = c->pid();
  c->cancel();
  ASSERT_TRUE(out.r.has_value());  // synchronously: nobody waits for the child
  EXPECT_EQ(out.r->error().code, core::Errc::cancelled);
  c.reset();
  EXPECT_TRUE(run_until(io, [&] { return process_gone(pid); }));
}

TEST(ChildProcess, AMissingProgramFails) {
  asio::io_context io;
  Outcome out;
  auto c = spawn(io, {"/nonexistent/leakwatch"}, {}, out);
  ASSERT_TRUE(run_until(io, [&] { return out.r.has_value(); }));
  ASSERT_FALSE(out.r->ok());
  EXPECT_NE(out.r->error().message.find("exited with 127"), std::string::npos);
}

TEST(DiffModel, CountsComeFromTheHeaderAndThePredictionGrowsWithThem) {
  auto c = counts_from_header(
      R"({"snapshot":{"meta":{"node_fields":["type","name","edge_count"]},"node_count": 1200,)"
      R"("edge_count":5400,"trace_function_count":0},"nodes":[)");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes, 1200u);
  EXPECT_EQ(c->edges, 5400u);
  EXPECT_FALSE(counts_from_header(R"({"snapshot":{"meta":{}},"nodes":[1,2)").ok());
  EXPECT_FALSE(counts_from_header("\xff\xfe garbage").ok());
  SnapshotCounts small{1000, 4000}, big{5'000'000, 20'000'000};
  EXPECT_LT(predict_diff_peak(small, small), predict_diff_peak(big, big));
  EXPECT_GT(predict_diff_peak(big, big), 512ull << 20);
}

TEST(DiffModel, BudgetIsTheConfiguredOneOrThreeQuartersOfTheCgroupLimitOr256MiB) {
  EXPECT_EQ(resolve_memory_budget(std::uint64_t{100} << 20), 100ull << 20);
  // A fake root: /proc/self/cgroup names a v2 group whose memory.max is 128 MiB.
  leakwatch::testing::UniqueTempDir root;
  auto put = [&](const std::string& rel, const std::string& text) {
    auto p = std::filesystem::path(root.path()) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  };
  put("proc/self/cgroup", "0::/sidecar\n");
  put("proc/self/mountinfo",
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw\n");
  put("sys/fs/cgroup/sidecar/memory.current", "1000\n");
  put("sys/fs/cgroup/sidecar/memory.max", "134217728\n");
  put("sys/fs/cgroup/sidecar/memory.stat", "anon 1000\nfile 0\ninactive_file 0\n");
  EXPECT_EQ(resolve_memory_budget(std::nullopt, root.path()), 96ull << 20);
  put("sys/fs/cgroup/sidecar/memory.max", "max\n");
  EXPECT_EQ(resolve_memory_budget(std::nullopt, root.path()), 256ull << 20);
  // A limit above the sidecar's group (an ECS task's) is shared with the app: not the budget's.
  put("proc/self/cgroup", "0::/task/sidecar\n");
  put("sys/fs/cgroup/task/memory.current", "1000\n");
  put("sys/fs/cgroup/task/memory.max", "2147483648\n");
  put("sys/fs/cgroup/task/sidecar/memory.current", "1000\n");
  put("sys/fs/cgroup/task/sidecar/memory.max", "max\n");
  EXPECT_EQ(resolve_memory_budget(std::nullopt, root.path()), 256ull << 20);
  put("sys/fs/cgroup/task/sidecar/memory.max", "134217728\n");
  EXPECT_EQ(resolve_memory_budget(std::nullopt, root.path()), 96ull << 20);
  leakwatch::testing::UniqueTempDir empty;
  EXPECT_EQ(resolve_memory_budget(std::nullopt, empty.path()), 256ull << 20);
}

TEST(DiffOutput, GrowersAreTypedWithTheRootFirstAndClassesAreCappedWhileParsing) {
  nlohmann::json classes = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i)
    classes.push_back({{"name", "C" + std::to_string(i)}, {"size_delta", 1000 - i}});
  nlohmann::json report = {
      {"classes", classes},
      {"top_growers",
       {{{"name", "RequestStore"},
         {"size_delta", 4096},
         {"delta_count", 128},
         {"retainer_path",
          {{"steps",
            {{{"holder", "Array"}, {"edge", "[3]"}},
             {{"holder", "EventEmitter"}, {"edge", "._events"}},
             {{"holder", "(GC roots)"}, {"edge", ""}}}}}}},
        {{"name", "Weird"}, {"size_delta", "not a number"}, {"retainer_path", 7}}}},
      {"base_nodes", 10}};
  auto r = parse_diff_output(report.dump(), 25, 5);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->report["classes"].size(), 25u);
  EXPECT_EQ(r->report["classes"][24]["name"], "C24");
  EXPECT_EQ(r->report["base_nodes"], 10);
  ASSERT_EQ(r->growers.size(), 2u);
  const auto& g = r->growers[0];
  EXPECT_EQ(g.name, "RequestStore");
  EXPECT_EQ(g.size_delta, 4096);
  EXPECT_EQ(g.count_delta, 128);
  std::vector<std::string> want{"(GC roots)", "EventEmitter._events", "Array[3]", "RequestStore"};
  EXPECT_EQ(g.retainer_path, want);
  EXPECT_EQ(r->growers[1].name, "Weird");
  EXPECT_EQ(r->growers[1].size_delta, 0);
  EXPECT_TRUE(r->growers[1].retainer_path.empty());

  for (std::string bad : {"", "{", "[1,2]", "{\"top_growers\": \"\xff\"}", "null"})
    EXPECT_FALSE(parse_diff_output(bad).ok()) << bad;
}

// --- start_diff: the one way the engine and the API diff two archived snapshots ----------------

class StartDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(tmp_.path());
    archive::ArchiveSettings settings;
    settings.dir = (dir_ / "archive").string();
    archive_ = std::make_unique<archive::Archive>(settings);
    ASSERT_TRUE(archive_->open().ok());
    for (int i = 0; i < 2; ++i) {
      archive::Reason reason;
      reason.kind = "manual";
      auto p = archive_->begin("t", core::from_unix_seconds(1.8e9 + i * 60), reason,
                               archive::Compression::none);
      ASSERT_TRUE(p.ok()) << p.error().message;
      ASSERT_TRUE((*p)->write(R"({"snapshot":{"meta":{},"node_count":)" + nodes_ +
                              R"(,"edge_count":40},"nodes":[],"edges":[],"strings":[]})")
                      .ok());
      archive::Metadata m;
      m.reason = reason;
      auto c = (*p)->commit(m);
      ASSERT_TRUE(c.ok()) << c.error().message;
      ids_.push_back(c->id);
    }
  }

  core::Result<std::shared_ptr<ChildProcess>> start(std::vector<std::string> command,
                                                    std::uint64_t budget = 1ull << 30) {
    DiffCommand how;
    how.command = std::move(command);
    return start_diff(io_, *archive_, ids_[0], ids_[1], budget, how,
                      [this](core::Result<DiffOutcome> r) { got_ = std::move(r); });
  }

  leakwatch::testing::UniqueTempDir tmp_;
  std::filesystem::path dir_;
  std::string nodes_ = "10";
  std::unique_ptr<archive::Archive> archive_;
  std::vector<std::string> ids_;
  asio::io_context io_;
  std::optional<core::Result<DiffOutcome>> got_;
};

TEST_F(StartDiff, TheChildsReportBecomesTypedGrowers) {
  auto report = dir_ / "report.json";
  std::ofstream(report) << R"({"classes":[],"top_growers":[{"name":"Leak","size_delta":9,)"
                        << R"("delta_count":3}]})";
  // The command ignores the appended "diff --json ... BASE TARGET" and prints the report.
  auto child = start({"/bin/sh", "-c", "cat " + report.string(), "sh"});
  ASSERT_TRUE(child.ok()) << child.error().message;
  ASSERT_TRUE(run_until(io_, [&] { return got_.has_value(); }));
  ASSERT_TRUE(got_->ok()) << got_->error().message;
  ASSERT_EQ((*got_)->growers.size(), 1u);
  EXPECT_EQ((*got_)->growers[0].name, "Leak");
  EXPECT_EQ((*got_)->growers[0].count_delta, 3);
}

TEST_F(StartDiff, AnAbandonedChildIsKilledWithoutAnAnswer) {
  auto child = start({"/bin/sh", "-c", "sleep 60", "sh"});
  ASSERT_TRUE(child.ok()) << child.error().message;
  const pid_t pid = (*child)->pid();
  (*child)->abandon();
  EXPECT_TRUE(run_until(io_, [&] { return process_gone(pid); }));
  EXPECT_FALSE(got_.has_value());
}

TEST_F(StartDiff, AnUnknownSnapshotIsNotFound) {
  DiffCommand how;
  auto child = start_diff(io_, *archive_, ids_[0], "t/nope", 1ull << 30, how,
                          [](core::Result<DiffOutcome>) { ADD_FAILURE() << "no answer expected"; });
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, core::Errc::not_found);
}

class StartDiffOverBudget : public StartDiff {
 protected:
  void SetUp() override {
    nodes_ = "50000000";
    StartDiff::SetUp();
  }
};

TEST_F(StartDiffOverBudget, ADiffPredictedOverTheBudgetIsNotRunAndSaysWhatItNeeds) {
  auto child = start({"/bin/false"}, 64ull << 20);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, core::Errc::over_budget);
  EXPECT_NE(child.error().message.find("100000000 nodes"), std::string::npos)
      << child.error().message;
  EXPECT_NE(child.error().message.find("memory_budget"), std::string::npos);
  EXPECT_FALSE(got_.has_value());
}

TEST(DiffCommandLine, QuotesWhatTheShellWouldSplit) {
  EXPECT_EQ(diff_command_line("/var/lib/lw", "web/a", "web/b"),
            "leakwatch diff --archive /var/lib/lw web/a web/b");
  EXPECT_EQ(diff_command_line("/tmp/my archive", "web/it's", "web/b"),
            "leakwatch diff --archive '/tmp/my archive' 'web/it'\\''s' web/b");
}

}  // namespace
}  // namespace leakwatch::engine
