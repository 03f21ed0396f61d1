#include "leakwatch/api/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <regex>
#include <set>
#include <sstream>

#include "leakwatch/core/utf8.h"
#include "test_state.h"

namespace leakwatch::api {
namespace {

using testing::sample_state;

bool contains_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST(Metrics, RendersTheLatestSampleAndDetectorFigures) {
  auto text = render_metrics(sample_state());
  const double mib = 1 << 20;
  auto last = sample_state().samples.back();
  EXPECT_TRUE(
      contains_line(text, "leakwatch_memory_usage_bytes " + format_value(last.usage_bytes)));
  EXPECT_TRUE(contains_line(
      text, "leakwatch_memory_working_set_bytes " + format_value(last.working_set_bytes)));
  EXPECT_TRUE(contains_line(text, "leakwatch_memory_limit_bytes 536870912"));
  EXPECT_TRUE(contains_line(
      text, "leakwatch_floor_slope_bytes_per_second " + format_value(90 * mib / 3600)));
  EXPECT_TRUE(contains_line(text, "leakwatch_forecast_time_to_oom_seconds 6400"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"leak_suspected\"} 1"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"ok\"} 0"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"learning\"} 0"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"oom_imminent\"} 0"));
  EXPECT_TRUE(contains_line(text, "leakwatch_captures_total{result=\"ok\"} 2"));
  EXPECT_TRUE(contains_line(text, "leakwatch_captures_total{result=\"failed\"} 1"));
  EXPECT_TRUE(contains_line(text, "leakwatch_captures_total{result=\"skipped\"} 0"));
  EXPECT_TRUE(contains_line(text, "leakwatch_alerts_total{sink=\"slack\",result=\"ok\"} 1"));
  EXPECT_TRUE(contains_line(text, "leakwatch_alerts_total{sink=\"webhook\",result=\"failed\"} 2"));
  EXPECT_TRUE(contains_line(text, "leakwatch_source_errors_total 3"));
  EXPECT_TRUE(contains_line(
      text, "leakwatch_build_info{version=\"0.1.0\",revision=\"abc123\",compiler=\"gcc 12\"} 1"));
  EXPECT_TRUE(contains_line(text, "# TYPE leakwatch_captures_total counter"));
  EXPECT_TRUE(contains_line(text, "# TYPE leakwatch_memory_usage_bytes gauge"));
}

TEST(Metrics, EveryFamilyHasHelpAndTypeBeforeItsSamplesAndLinesAreWellFormed) {
  auto text = render_metrics(sample_state());
  std::istringstream in(text);
  std::set<std::string> typed;
  std::string current;
  const std::regex sample_re(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.e+-]+)$)");
  int samples = 0;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# HELP ", 0) == 0) {
      current = l.substr(7, l.find(' ', 7) - 7);
      continue;
    }
    if (l.rfind("# TYPE ", 0) == 0) {
      auto name = l.substr(7, l.find(' ', 7) - 7);
      EXPECT_EQ(name, current) << "TYPE must follow its HELP";
      EXPECT_TRUE(typed.insert(name).second) << "family declared twice: " << name;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, sample_re)) << l;
    auto name = m[1].str();
    EXPECT_TRUE(name == current || name == current + "_sum" || name == current + "_count") << l;
    ++samples;
  }
  EXPECT_GT(samples, 15);
  EXPECT_EQ(text.back(), '\n');
}

// A sum over `result` must count alerts, so retries (attempts) are not among the outcomes.
TEST(Metrics, RetriesAreCountedApartFromFinalOutcomes) {
  engine::Status s;
  s.counters.alerts = {{{"slack", "delivered"}, 3}, {{"slack", "retried"}, 5}};
  s.counters.oom_kills = 2;
  s.counters.capture_seconds_sum = 12.5;
  s.counters.capture_seconds_count = 2;
  s.counters.archive_written_bytes = 4096;
  s.archive_bytes = 8192;
  auto text = render_metrics(s);
  EXPECT_TRUE(contains_line(text, "leakwatch_alerts_total{sink=\"slack\",result=\"delivered\"} 3"));
  EXPECT_EQ(text.find("result=\"retried\""), std::string::npos) << text;
  EXPECT_TRUE(contains_line(text, "leakwatch_alert_retries_total{sink=\"slack\"} 5"));
  EXPECT_TRUE(contains_line(text, "leakwatch_oom_kills_total 2"));
  EXPECT_TRUE(contains_line(text, "# TYPE leakwatch_capture_duration_seconds summary"));
  EXPECT_TRUE(contains_line(text, "leakwatch_capture_duration_seconds_sum 12.5"));
  EXPECT_TRUE(contains_line(text, "leakwatch_capture_duration_seconds_count 2"));
  EXPECT_TRUE(contains_line(text, "leakwatch_archive_written_bytes_total 4096"));
  EXPECT_TRUE(contains_line(text, "leakwatch_archive_bytes 8192"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_confidence_ratio 0"));
}

// Prometheus's own linter (Debian's prometheus package) on what /metrics serves: names end in
// their unit, counters in _total, help on every family.
TEST(Metrics, PromtoolFindsNothingToLint) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not installed (scripts/setup installs the prometheus package)";
  auto s = sample_state();
  s.counters.alerts[{"slack", "retried"}] = 4;
  s.archive_bytes = 1;
  auto path = std::filesystem::temp_directory_path() /
              ("lw-metrics-" + std::to_string(::getpid()) + ".prom");
  std::ofstream(path) << render_metrics(s);
  std::string cmd = "promtool check metrics < " + path.string() + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  int rc = ::pclose(p);
  std::filesystem::remove(path);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool lint problems:\n" << out;
}

TEST(Metrics, NoLimitNoForecastAndNoSamples) {
  engine::Status s;
  s.detector.state = "learning";
  auto text = render_metrics(s);
  EXPECT_EQ(text.find("leakwatch_memory_usage_bytes"), std::string::npos)
      << "no sample yet: no usage series";
  EXPECT_EQ(text.find("leakwatch_memory_limit_bytes"), std::string::npos);
  EXPECT_TRUE(contains_line(text, "leakwatch_forecast_time_to_oom_seconds +Inf"));
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"learning\"} 1"));
  EXPECT_TRUE(contains_line(text, "leakwatch_captures_total{result=\"ok\"} 0"))
      << "counters start at zero so rate() works from the first scrape";
}

TEST(Metrics, LabelValuesAreEscaped) {
  engine::Status s;
  s.target = "we\"b\\x\ny";
  s.source = "cgroup";
  auto text = render_metrics(s);
  EXPECT_TRUE(
      contains_line(text, R"(leakwatch_target_info{target="we\"b\\x\ny",source="cgroup"} 1)"))
      << text;
  EXPECT_EQ(escape_help("a\\b\nc"), "a\\\\b\\nc");
}

TEST(Metrics, TargetInfoCarriesTheIdentity) {
  auto text = render_metrics(sample_state());
  EXPECT_TRUE(contains_line(
      text,
      R"(leakwatch_target_info{target="web",source="cgroup v2 /sys/fs/cgroup/web",platform="ecs",)"
      R"(cluster="prod",task_family="web-api",task_revision="42",)"
      R"(task_arn="arn:aws:ecs:eu-west-1:111122223333:task/prod/5f2c9d0e",task_id="5f2c9d0e",)"
      R"(container="app",availability_zone="eu-west-1b"} 1)"))
      << text;
}

TEST(Metrics, HostileIdentityValuesStayInsideTheirLabel) {
  engine::Status s;
  s.target = "web";
  s.source = "ecs";
  // What a hostile metadata endpoint could send, after core::identity_value (as every identity is
  // stored): quotes, backslashes, a closing brace, a forged sample, bytes that are not UTF-8.
  ASSERT_TRUE(s.identity.set("cluster", "a\"} 1\nleakwatch_evil 1\\"));
  ASSERT_TRUE(s.identity.set("task_id", std::string("t\xff\xfe\n", 4)));
  auto text = render_metrics(s);
  std::string line;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    EXPECT_NE(l.rfind("leakwatch_evil", 0), 0u) << "a forged sample line: " << l;
    if (l.rfind("leakwatch_target_info{", 0) == 0) line = l;
  }
  // One line, every label value a well-formed quoted string, the value 1 at the end.
  std::regex well_formed(R"re(leakwatch_target_info\{([a-z_]+="([^"\\]|\\["\\n])*",?)+\} 1)re");
  EXPECT_TRUE(std::regex_match(line, well_formed)) << line;
  EXPECT_NE(line.find(R"(cluster="a\"} 1?leakwatch_evil 1\\")"), std::string::npos) << line;
  EXPECT_TRUE(core::is_valid_utf8(text));
}

TEST(Metrics, ValueFormatting) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(536870912), "536870912");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Metrics, UnknownDetectorStateStillExported) {
  engine::Status s;
  s.detector.state = "restarting";
  auto text = render_metrics(s);
  EXPECT_TRUE(contains_line(text, "leakwatch_detector_state{state=\"restarting\"} 1"));
}

}  // namespace
}  // namespace leakwatch::api
