// replay() on the checked-in traces (tests/data/traces): exact first-alert times, restart and OOM
// reporting, and malformed CSV errors with line numbers.
#include "leakwatch/detect/replay.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace leakwatch::detect {
namespace {

using namespace std::chrono_literals;

// Same as tests/data/traces/fast_detection.yaml (settings for 7-minute recordings).
DetectorSettings fast_settings() {
  DetectorSettings s;
  s.bucket = 10s;
  s.min_window = 1min;
  s.max_window = 1h;
  s.confirm_window = 1h;
  s.min_rise_bytes = 4ull << 20;
  s.forecast_factor = 4;
  return s;
}

struct Replayed {
  ReplaySummary summary;
  std::vector<nlohmann::json> lines;
};

Replayed replay_file(const std::string& name, const DetectorSettings& s = {}) {
  std::ifstream in(std::string(LEAKWATCH_TRACES_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  auto r = replay(in, s, out);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  Replayed rep;
  if (r) rep.summary = *r;
  std::istringstream lines(out.str());
  for (std::string l; std::getline(lines, l);)
    rep.lines.push_back(nlohmann::json::parse(l));
  return rep;
}

std::optional<double> first_leak(const Replayed& r) {
  for (const auto& j : r.lines)
    if (j.at("state") == "leak_suspected") return j.at("t").get<double>();
  return std::nullopt;
}

TEST(Replay, RealNodeLeakAlertsAtExactTime) {
  auto r = replay_file("node_leak.csv", fast_settings());
  EXPECT_EQ(r.summary.samples, 420u);
  ASSERT_TRUE(first_leak(r));
  EXPECT_DOUBLE_EQ(*first_leak(r), 1795508991.218);  // 280 s after the app started
  EXPECT_EQ(r.summary.first_leak_t, first_leak(r));
  const auto& alert = *std::find_if(r.lines.begin(), r.lines.end(),
                                    [](const auto& j) { return j["state"] == "leak_suspected"; });
  EXPECT_GT(alert["slope_bytes_per_hour"].get<double>(), 100.0 * (1 << 20));
  EXPECT_EQ(alert["limit_bytes"].get<std::uint64_t>(), 201326592u);
  EXPECT_NEAR(alert["forecast_seconds"].get<double>(), 823, 1);
  EXPECT_FALSE(alert["explanation"].get<std::string>().empty());
}

TEST(Replay, RealNodeHealthyNeverAlerts) {
  auto r = replay_file("node_healthy.csv", fast_settings());
  EXPECT_EQ(r.summary.samples, 420u);
  EXPECT_FALSE(first_leak(r));
  ASSERT_FALSE(r.lines.empty());
  EXPECT_EQ(r.lines.back()["state"], "ok");
}

TEST(Replay, SyntheticLinearLeakAlertsAnHourBeforeTheLimit) {
  auto r = replay_file("synth_leak_limit.csv");
  ASSERT_TRUE(first_leak(r));
  EXPECT_DOUBLE_EQ(*first_leak(r), 1767247260.0);  // 6h 01m in; the peaks hit 512 MiB at 7h 02m
  EXPECT_EQ(r.lines.back()["state"], "oom_imminent");
}

TEST(Replay, SyntheticOomCyclesReportKillsAndRestarts) {
  auto r = replay_file("synth_oom_cycles.csv");
  ASSERT_TRUE(first_leak(r));
  EXPECT_DOUBLE_EQ(*first_leak(r), 1767227460.0);  // before the first kill at 1767227900
  std::vector<double> kills;
  for (const auto& j : r.lines) {
    if (j.value("oom_kill", false)) {
      EXPECT_TRUE(j.value("restarted", false));
      kills.push_back(j["t"].get<double>());
      EXPECT_EQ(j["oom_kills"].get<int>(), static_cast<int>(kills.size()));
      EXPECT_EQ(j["restarts"].get<int>(), static_cast<int>(kills.size()));
    }
  }
  EXPECT_EQ(kills, (std::vector<double>{1767227900, 1767230200, 1767232500, 1767234800}));
  // After the restarts the suspicion is kept (the climb-kill-restart cycle is the evidence).
  for (const auto& j : r.lines) {
    if (j["t"].get<double>() > *first_leak(r)) {
      EXPECT_NE(j["state"], "ok");
    }
  }
}

TEST(Replay, SyntheticHealthyWithoutLimitNeverAlerts) {
  auto r = replay_file("synth_healthy_nolimit.csv");
  EXPECT_EQ(r.summary.samples, 721u);
  EXPECT_FALSE(first_leak(r));
  EXPECT_TRUE(r.lines.back()["limit_bytes"].is_null());
}

std::string replay_error(const std::string& csv) {
  std::istringstream in(csv);
  std::ostringstream out;
  auto r = replay(in, {}, out);
  return r ? std::string("no error") : r.error().message;
}

TEST(Replay, MalformedCsvNamesTheLine) {
  EXPECT_EQ(replay_error(""), "line 1: empty file (no header)");
  EXPECT_NE(replay_error("time,usage_bytes\n1,2\n")
                .find("line 1: missing required column(s) "
                      "timestamp"),
            std::string::npos);
  EXPECT_NE(replay_error("timestamp,limit_bytes\n1,2\n").find("usage_bytes"), std::string::npos);
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n1,100\n2,abc\n"), "line 3: bad usage_bytes 'abc'");
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n1,100\n2x,100\n"), "line 3: bad timestamp '2x'");
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n1,-5\n"), "line 2: bad usage_bytes '-5'");
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n1,100\n2\n"),
            "line 3: expected 2 columns, found 1");
  EXPECT_EQ(replay_error("timestamp,usage_bytes,limit_bytes\n1,100,x\n"),
            "line 2: bad limit_bytes 'x'");
  EXPECT_EQ(replay_error("timestamp,usage_bytes,oom_kill\n1,100,1.5\n"),
            "line 2: bad oom_kill count '1.5'");
  EXPECT_EQ(replay_error("timestamp,usage_bytes,restarted\n1,100,yes\n"),
            "line 2: bad restarted flag 'yes' (expected 0, 1, true or false)");
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n10,100\n\n20,100\n15,100\n"),
            "line 5: timestamp 15 is earlier than the previous one (rows must be sorted by time)");
  EXPECT_EQ(replay_error("timestamp,usage_bytes\n1,nan\n"), "line 2: bad usage_bytes 'nan'");
}

}  // namespace
}  // namespace leakwatch::detect
