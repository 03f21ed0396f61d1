// The detector on hand-built series: each test is one trap from docs/detection.md. Time comes from
// the samples (a manual clock), nothing sleeps.
#include "leakwatch/detect/detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <sstream>

#include "leakwatch/detect/trace_csv.h"

namespace leakwatch::detect {
namespace {

constexpr double kMi = 1024.0 * 1024.0;

struct Run {
  std::optional<double> first_leak;  // seconds from start
  Decision at_alert;
  std::optional<double> last_alerting;  // last sample in leak_suspected or oom_imminent
  Decision last;                        // the decision after the last sample
};

// Feeds value(t) every `step` seconds for `duration` seconds; `hook` may alter the sample.
Run feed(Detector& d, double duration, double step, const std::function<double(double)>& value,
         std::optional<double> limit = 1024 * kMi,
         const std::function<void(double, core::Sample&)>& hook = {},
         const std::function<bool(double)>& outage = {}) {
  core::ManualClock clock;
  const double t0 = core::to_unix_seconds(clock.now());
  Run r;
  for (double x = 0; x <= duration; x += step) {
    if (outage && outage(x)) continue;  // no sample: the source was unreachable
    clock.set(core::from_unix_seconds(t0 + x));
    core::Sample s;
    s.time = clock.now();
    s.usage_bytes = static_cast<std::uint64_t>(value(x));
    s.working_set_bytes = s.usage_bytes;
    if (limit) s.limit_bytes = static_cast<std::uint64_t>(*limit);
    if (hook) hook(x, s);
    Decision dec = d.observe(s);
    if (dec.changed && dec.state == State::leak_suspected && !r.first_leak) {
      r.first_leak = x;
      r.at_alert = dec;
    }
    if (dec.state == State::leak_suspected || dec.state == State::oom_imminent) r.last_alerting = x;
    r.last = std::move(dec);
  }
  return r;
}

// A GC sawtooth: climbs `amp` over `period` seconds, then drops back.
double saw(double x, double amp = 40 * kMi, double period = 120) {
  return amp * (x / period - std::floor(x / period));
}

TEST(Detector, FlatSawtoothIsOk) {
  Detector d;
  auto r = feed(d, 12 * 3600, 10, [](double x) { return 300 * kMi + saw(x); });
  EXPECT_FALSE(r.first_leak);
  EXPECT_EQ(r.last.state, State::ok);
}

TEST(Detector, LearningFirst) {
  Detector d;
  auto r = feed(d, 600, 10, [](double x) { return 300 * kMi + saw(x); });
  EXPECT_EQ(r.last.state, State::learning);
}

TEST(Detector, LinearLeakWithLimitAlertsBeforeOomAndForecastsPeaks) {
  Detector d;
  // Floor 300 MiB rising 100 MiB/h under a 40 MiB sawtooth; peaks reach 1 GiB after ~6.8h.
  const double rate = 100 * kMi / 3600;
  auto r = feed(d, 6.5 * 3600, 10, [&](double x) { return 300 * kMi + rate * x + saw(x); });
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, 6 * 3600);
  EXPECT_NEAR(r.at_alert.slope_bytes_per_hour, 100 * kMi, 25 * kMi);
  ASSERT_TRUE(r.at_alert.forecast_seconds);
  // Forecast from the peaks: (limit - peak) / slope, within 30 minutes of the truth.
  const double truth = (1024 * kMi - (300 * kMi + rate * *r.first_leak + 40 * kMi)) / rate;
  EXPECT_NEAR(*r.at_alert.forecast_seconds, truth, 1800);
  EXPECT_NE(r.at_alert.explanation.find("floor rising"), std::string::npos);
  EXPECT_NE(r.at_alert.explanation.find("limit in ~"), std::string::npos);
  EXPECT_GT(r.at_alert.confidence, 0.5);
}

TEST(Detector, FastLeakCaughtWithinMinutes) {
  Detector d;
  // 250 MiB -> 1 GiB in 40 minutes at 1 s sampling: the forecast gate (forecast_factor x window)
  // alerts minutes before the limit (docs/detection.md has the trade-off against false alarms).
  const double rate = 750 * kMi / 2400;
  auto r = feed(d, 2400, 1, [&](double x) { return 250 * kMi + rate * x + saw(x, 20 * kMi, 30); });
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, 35 * 60);
}

TEST(Detector, WarmupThatLevelsOffIsNotALeak) {
  Detector d;
  auto r = feed(d, 10 * 3600, 10, [](double x) {
    return 200 * kMi + 300 * kMi * (1 - std::exp(-x / 1200)) + saw(x);
  });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, StepAfterDeployIsNotALeak) {
  Detector d;
  auto r = feed(d, 12 * 3600, 10,
                [](double x) { return 300 * kMi + (x > 4 * 3600 ? 250 * kMi : 0) + saw(x); });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, BoundedCacheFillingFarFromLimitIsNotALeak) {
  Detector d;
  auto r = feed(d, 12 * 3600, 60, [](double x) {
    return 250 * kMi + 150 * kMi * std::min(1.0, x / (2 * 3600)) + saw(x);
  });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, SteadyNearTheLimitIsNotALeak) {
  Detector d;
  auto r = feed(d, 12 * 3600, 10, [](double x) {
    return 850 * kMi + saw(x, 60 * kMi) + 5 * kMi * std::sin(x / 977.0);
  });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, PageCacheGrowthExcludedByWorkingSet) {
  Detector d;
  auto r = feed(
      d, 12 * 3600, 10, [](double x) { return 300 * kMi + saw(x); }, 1024 * kMi,
      [](double x, core::Sample& s) { s.usage_bytes += static_cast<std::uint64_t>(x * 15000); });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, LeakWithoutLimitIsDetectedWithoutForecast) {
  Detector d;
  const double rate = 200 * kMi / 3600;
  auto r = feed(
      d, 8 * 3600, 10, [&](double x) { return 200 * kMi + rate * x + saw(x); }, std::nullopt);
  ASSERT_TRUE(r.first_leak);
  EXPECT_FALSE(r.at_alert.forecast_seconds);
  EXPECT_NE(r.at_alert.explanation.find("no limit"), std::string::npos);
}

TEST(Detector, RepeatedOomKillCyclesAreALeak) {
  // Climb to the limit in 20 minutes, get killed, restart: too fast for the trend windows alone.
  DetectorSettings s;
  Detector d(s);
  const double cycle = 1200;
  auto r = feed(d, 3 * cycle, 10, [&](double x) {
    const double age = std::fmod(x, cycle);
    return 200 * kMi + (1000 * kMi - 200 * kMi) * age / cycle;
  });
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, 2 * cycle + 60);
  EXPECT_GE(d.last().oom_kills, 2);  // the crash heuristic counted the kills (no counter here)
  EXPECT_NE(d.last().explanation.find("OOM kills"), std::string::npos);
  EXPECT_TRUE(d.last().state == State::leak_suspected || d.last().state == State::oom_imminent);
}

TEST(Detector, OomKillCounterAndCounterReset) {
  Detector d;
  int kills = 0;
  auto r = feed(
      d, 3600, 10, [](double x) { return 300 * kMi + saw(x); }, 1024 * kMi,
      [&](double x, core::Sample& s) {
        if (x == 1000 || x == 2000) ++kills;
        s.oom_kill_count = x < 3000 ? kills : 0;  // the counter resets (source restarted)
        s.restarted = (x == 1000 || x == 2000);
      });
  // Two kills within the cycle window: suspected even though the floor is flat.
  ASSERT_TRUE(r.first_leak);
  EXPECT_NEAR(*r.first_leak, 2000, 70);
}

// Incarnations of `cycle` seconds: each starts at 200 MiB and climbs `climb(n)` (n = incarnation)
// at a steady rate with a sawtooth on top; the source flags each restart (no OOM kill: the
// runtime's own heap limit, far below the 4 GiB container limit, ends the process).
std::function<double(double)> incarnations(double cycle, std::function<double(int)> climb) {
  return [cycle, climb](double x) {
    const int n = static_cast<int>(x / cycle);
    const double age = x - n * cycle;
    return 200 * kMi + climb(n) * age / cycle + saw(x, 16 * kMi, 30);
  };
}

void flag_restarts(double cycle, core::Sample& s, double x) {
  s.restarted = x > 0 && std::fmod(x, cycle) < 10;
}

// A restored detector continues the series `feed` began (feed starts at t0 again, so x goes on
// from where it stopped): value(x) every 10 s from `from` to `to` under a 4 GiB limit, the
// restarts of `cycle` flagged. The first x in leak_suspected.
std::optional<double> continue_restarts(Detector& d, double from, double to,
                                        const std::function<double(double)>& value, double cycle) {
  core::ManualClock clock;
  const double t0 = core::to_unix_seconds(clock.now());
  for (double x = from; x <= to; x += 10) {
    core::Sample s;
    s.time = core::from_unix_seconds(t0 + x);
    s.usage_bytes = s.working_set_bytes = static_cast<std::uint64_t>(value(x));
    s.limit_bytes = static_cast<std::uint64_t>(4096 * kMi);
    flag_restarts(cycle, s, x);
    if (d.observe(s).state == State::leak_suspected) return x;
  }
  return std::nullopt;
}

// Node with --max-old-space-size far below the container's limit: every 40 minutes V8 ends the
// process at the same height, no kill is counted, and no window of an incarnation alerts (the
// limit is far away, 40 minutes is short). Two such restarts in a row are a leak.
TEST(Detector, RestartsAfterTheSameClimbToTheSameHeightAreALeak) {
  const double cycle = 2400;
  Detector d;
  auto r = feed(d, 5 * cycle, 10, incarnations(cycle, [](int) { return 400 * kMi; }), 4096 * kMi,
                [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  ASSERT_TRUE(r.first_leak);
  EXPECT_GE(*r.first_leak, 2 * cycle);       // not before the second restart...
  EXPECT_LT(*r.first_leak, 2 * cycle + 60);  // ...and at it
  EXPECT_NE(r.at_alert.explanation.find("2 restarts"), std::string::npos) << r.at_alert.explanation;
  EXPECT_NE(r.at_alert.explanation.find("runtime heap limit"), std::string::npos);
  EXPECT_EQ(d.last().oom_kills, 0);
}

// The same restarts with the climbs ending at different heights (a deploy lands anywhere on a
// climb), or after no held rise at all (a steady service restarted on a schedule): not a cycle.
TEST(Detector, RestartsAtDifferentHeightsOrAfterAPlateauAreNoCycle) {
  const double cycle = 2400;
  Detector varied;
  auto r = feed(varied, 6 * cycle, 10,
                incarnations(cycle, [](int n) { return (250.0 + 150.0 * (n % 3)) * kMi; }),
                4096 * kMi, [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
  Detector steady;
  r = feed(
      steady, 6 * cycle, 10, [](double x) { return 500 * kMi + saw(x); }, 4096 * kMi,
      [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
  EXPECT_EQ(steady.last().restarts, 6);
  // A slow sawtooth (7-minute teeth, too small a fall to be a full collection) restarted at the
  // top of a tooth: the 6-minute window sees each tooth's climb as a rise, but the incarnation's
  // floor did not climb.
  Detector teeth;
  const double every = 6 * 420;
  r = feed(
      teeth, 6 * every, 10, [](double x) { return 2000 * kMi + saw(x - 1, 200 * kMi, 420); },
      std::nullopt, [&](double x, core::Sample& s) { flag_restarts(every, s, x); });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
  EXPECT_EQ(teeth.last().restarts, 6);
}

// A cycle is incarnations in a row: a restart after a plateau (a deploy of a steady service)
// between two deaths at the same height breaks it, and the next death starts it again.
TEST(Detector, ARestartAfterAPlateauBreaksTheCycle) {
  const double cycle = 2400;
  Detector d;
  auto r = feed(d, 4 * cycle + 120, 10,
                incarnations(cycle, [](int n) { return (n == 1 ? 0.0 : 400.0) * kMi; }), 4096 * kMi,
                [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  ASSERT_TRUE(r.first_leak);  // deaths ending incarnations 0, 2 and 3: the last two are a cycle
  EXPECT_GE(*r.first_leak, 4 * cycle);
  EXPECT_LT(*r.first_leak, 4 * cycle + 60);
  EXPECT_EQ(d.last().restarts, 4);
}

// Restarts every 2.5 hours into a warm-up of time constant 50 minutes (caches filling): each one
// ends a rise that still held over the last hour, at the same height after the same climb, but the
// floor climbed in the last quarter of each incarnation less than half as much as in the third. A
// heap limit ends a steady climb; this one was levelling off. The trend gates are off, so that
// only the restart rule could alert (the warm-up's own growth would).
TEST(Detector, WarmUpsCutShortAtTheSameAgeAreNoCycle) {
  const double cycle = 9000;
  DetectorSettings settings;
  settings.growth_fraction = 100;
  settings.forecast_factor = 0;
  settings.fast_forecast_factor = 0;
  auto warm_up = [&](double x) {
    return 200 * kMi + 600 * kMi * (1 - std::exp(-std::fmod(x, cycle) / 3000)) +
           saw(x, 16 * kMi, 30);
  };
  Detector d(settings);
  auto r = feed(d, 4 * cycle + 120, 10, warm_up, 1024 * kMi,
                [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
  EXPECT_EQ(d.last().restarts, 4);
  // The same restarts after a steady climb to the same height are a cycle (the rule can fire here).
  Detector linear(settings);
  r = feed(linear, 4 * cycle + 120, 10, incarnations(cycle, [](int) { return 600 * kMi; }),
           1024 * kMi, [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, 2 * cycle + 60);
}

// Between a death and the restart the source samples the emptied group (a few MiB for 90 s of
// restart back-off, still the old incarnation: the restart flag comes with the new process). The
// climb is judged up to the last sample before that fall, so those samples do not read as the floor
// falling in the last quarter, nor as the rise ending. Also across a save and restore while the
// group is empty after the second death (the time of the last sample before the fall is saved).
TEST(Detector, HeapLimitDeathsFollowedByAnEmptyGroupAreACycle) {
  const double cycle = 2400;
  const auto climb = incarnations(cycle, [](int) { return 400 * kMi; });
  auto value = [&](double x) { return std::fmod(x, cycle) >= cycle - 90 ? 2 * kMi : climb(x); };
  Detector d;
  auto r = feed(d, 3 * cycle, 10, value, 4096 * kMi,
                [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, 2 * cycle + 60);
  EXPECT_NE(r.at_alert.explanation.find("2 restarts"), std::string::npos) << r.at_alert.explanation;

  Detector first;
  r = feed(first, 2 * cycle - 40, 10, value, 4096 * kMi,
           [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  EXPECT_FALSE(r.first_leak);
  auto restored = Detector::restore(first.save(), {});
  ASSERT_TRUE(restored) << restored.error().message;
  const auto alert = continue_restarts(*restored, 2 * cycle - 30, 3 * cycle, value, cycle);
  ASSERT_TRUE(alert);
  EXPECT_LT(*alert, 2 * cycle + 60);
}

// The restarts seen before the daemon restarted still count after it.
TEST(Detector, RestartCycleSurvivesSaveAndRestore) {
  const double cycle = 2400;
  const auto value = incarnations(cycle, [](int) { return 400 * kMi; });
  Detector first;
  auto r = feed(first, 1.5 * cycle, 10, value, 4096 * kMi,
                [&](double x, core::Sample& s) { flag_restarts(cycle, s, x); });
  EXPECT_FALSE(r.first_leak);
  EXPECT_EQ(first.last().restarts, 1);
  auto restored = Detector::restore(first.save(), {});
  ASSERT_TRUE(restored) << restored.error().message;
  const auto alert = continue_restarts(*restored, 1.5 * cycle + 10, 3 * cycle, value, cycle);
  ASSERT_TRUE(alert);
  EXPECT_LT(*alert, 2 * cycle + 60);
}

TEST(Detector, CaptureJumpIsNotALeak) {
  Detector d;
  const double cap_at = 3 * 3600;
  bool noted = false;
  auto r = feed(
      d, 10 * 3600, 10,
      [&](double x) { return 300 * kMi + saw(x) + (x >= cap_at ? 100 * kMi : 0); }, 1024 * kMi,
      [&](double x, core::Sample& s) {
        if (x >= cap_at && !noted) {
          d.note_capture(s.time);
          noted = true;
        }
      });
  EXPECT_FALSE(r.first_leak);
}

TEST(Detector, GapsAndIrregularTimestamps) {
  Detector d;
  const double rate = 100 * kMi / 3600;
  std::uint64_t k = 0;
  core::TimePoint prev{};
  auto r = feed(
      d, 7 * 3600, 10, [&](double x) { return 300 * kMi + rate * x + saw(x); }, 1024 * kMi,
      [&](double x, core::Sample& s) {
        // Jitter of up to +-4 s and a 1 h outage (samples arrive with the clock far ahead).
        s.time += std::chrono::seconds(static_cast<int>((k++ * 7919) % 9) - 4);
        if (x > 2 * 3600 && x < 3 * 3600) s.time = prev;  // repeated timestamps during the outage
        prev = s.time;
      });
  ASSERT_TRUE(r.first_leak);
}

TEST(Detector, OutOfOrderSampleIgnored) {
  Detector d;
  core::Sample a;
  a.time = core::from_unix_seconds(1000);
  a.usage_bytes = 100;
  d.observe(a);
  core::Sample b = a;
  b.time = core::from_unix_seconds(900);
  auto dec = d.observe(b);
  EXPECT_FALSE(dec.changed);
}

TEST(Detector, SaveRestoreContinuesWithoutRelearning) {
  const double rate = 100 * kMi / 3600;
  auto value = [&](double x) { return 300 * kMi + rate * x + saw(x); };
  Detector whole;
  auto r1 = feed(whole, 6.5 * 3600, 10, value);
  ASSERT_TRUE(r1.first_leak);

  Detector first;
  core::Sample s;
  const double t0 = 1'700'000'000;
  double x = 0;
  for (; x <= 3 * 3600; x += 10) {
    s.time = core::from_unix_seconds(t0 + x);
    s.usage_bytes = s.working_set_bytes = static_cast<std::uint64_t>(value(x));
    s.limit_bytes = static_cast<std::uint64_t>(1024 * kMi);
    first.observe(s);
  }
  const auto saved = first.save();
  EXPECT_LT(saved.dump().size(), 200'000u);  // bounded
  auto restored = Detector::restore(nlohmann::json::parse(saved.dump()), DetectorSettings{});
  ASSERT_TRUE(restored.ok()) << restored.error().to_string();
  std::optional<double> alert;
  for (; x <= 6.5 * 3600; x += 10) {
    s.time = core::from_unix_seconds(t0 + x);
    s.usage_bytes = s.working_set_bytes = static_cast<std::uint64_t>(value(x));
    auto dec = restored->observe(s);
    if (dec.changed && dec.state == State::leak_suspected && !alert) alert = x;
  }
  ASSERT_TRUE(alert);
  EXPECT_EQ(*alert, *r1.first_leak);
}

TEST(Detector, RestoreRejectsGarbage) {
  EXPECT_FALSE(Detector::restore(nlohmann::json::parse("[1,2]"), {}).ok());
  EXPECT_FALSE(Detector::restore(nlohmann::json::parse(R"({"version":1})"), {}).ok());
}

// A damaged state file is refused with the field it names, never read into a value out of range
// (a float cast to an integer that cannot hold it is undefined behaviour; a time near the int64
// limits would overflow later arithmetic).
TEST(Detector, RestoreRefusesNumbersOutOfRangeAndNamesTheField) {
  Detector d;
  feed(d, 2 * 3600, 10, [](double x) { return 300 * kMi + saw(x); });
  const nlohmann::json saved = d.save();
  ASSERT_TRUE(Detector::restore(saved, {}).ok());
  ASSERT_FALSE(saved.at("fine").empty());
  struct Case {
    std::string pointer;
    nlohmann::json value;
    std::string named;
  };
  const std::vector<Case> cases = {
      {"/recent_peak_t", 1e300, "recent_peak_t"},
      {"/recent_peak_t", -9.3e18, "recent_peak_t"},
      {"/restarts", 1e30, "restarts"},
      {"/restarts", -1, "restarts"},
      {"/limit", -5, "limit"},
      {"/limit", 1e20, "limit"},
      {"/last_oom_count", "many", "last_oom_count"},
      {"/epoch_start", 9223372036854775807LL, "epoch_start"},
      {"/last_t", -1e15, "last_t"},
      {"/last_value", 1e200, "last_value"},
      {"/tooth", 1e19, "tooth"},
      {"/collection_peak", -1e30, "collection_peak"},
      {"/pinned_since", 1e13, "pinned_since"},
      {"/oom_times", nlohmann::json::array({1e300}), "oom_times"},
      {"/fine/0/0", 1e100, "bucket start"},
      {"/fine/0/3", 5e9, "bucket count"},
      {"/fine/0/1", -1e300, "bucket min"},
      {"/climb_deaths", nlohmann::json::array({{1, 2, 3, -1}}), "climb_deaths"},
      {"/bucket_seconds", 1e300, "bucket_seconds"},
      {"/version", 1.5, "version"},
  };
  for (const auto& c : cases) {
    nlohmann::json bad = saved;
    bad[nlohmann::json::json_pointer(c.pointer)] = c.value;
    const auto r = Detector::restore(bad, {});
    ASSERT_FALSE(r.ok()) << c.pointer << " = " << c.value.dump();
    EXPECT_NE(r.error().message.find(c.named), std::string::npos)
        << c.pointer << ": " << r.error().message;
  }
  nlohmann::json many = saved;
  many["oom_times"] = nlohmann::json::array();
  for (int i = 0; i < 100001; ++i)
    many["oom_times"].push_back(i);
  EXPECT_FALSE(Detector::restore(many, {}).ok());
}

TEST(Detector, StateBoundedOverDays) {
  Detector d;
  feed(d, 10 * 86400, 60, [](double x) { return 300 * kMi + saw(x, 40 * kMi, 600); });
  EXPECT_LT(d.save().dump().size(), 150'000u);
}

TEST(Settings, DefaultsValidAndProblemsReported) {
  EXPECT_TRUE(validate(DetectorSettings{}).empty());
  DetectorSettings s;
  s.min_window = std::chrono::seconds(60);
  s.segments = 2;
  const auto p = validate(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NE(p[0].find("min_window"), std::string::npos);
}

TEST(TraceCsv, ParsesOptionalColumnsAndIgnoresOthers) {
  std::istringstream in(
      "host,timestamp,usage_bytes,limit_bytes,working_set_bytes\n"
      "a,100.5,2000,0,1500\n"
      "a,101,2100,4096,\n");
  auto r = TraceReader::open(in);
  ASSERT_TRUE(r.ok());
  core::Sample s;
  ASSERT_TRUE(*r->next(s));
  EXPECT_DOUBLE_EQ(core::to_unix_seconds(s.time), 100.5);
  EXPECT_EQ(s.usage_bytes, 2000u);
  EXPECT_FALSE(s.limit_bytes);
  EXPECT_EQ(s.working_set_bytes, 1500u);
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(*s.limit_bytes, 4096u);
  EXPECT_FALSE(*r->next(s));
}

// Reads every row of `csv`; the first error's message, if any.
std::optional<std::string> reading_error(const std::string& csv) {
  std::istringstream in(csv);
  auto r = TraceReader::open(in);
  if (!r.ok()) return r.error().message;
  core::Sample s;
  while (true) {
    auto more = r->next(s);
    if (!more.ok()) return more.error().message;
    if (!*more) return std::nullopt;
  }
}

TEST(TraceCsv, InstanceNamesTheProcessAndIsBounded) {
  std::istringstream in("timestamp,usage_bytes,instance\n1,2,pid-41\n2,2,\n3,2," +
                        std::string(129, 'x') + "\n");
  auto r = TraceReader::open(in);
  ASSERT_TRUE(r.ok());
  core::Sample s;
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(s.instance, "pid-41");
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(s.instance, "");
  auto e = r->next(s);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("line 4"), std::string::npos);
  EXPECT_NE(e.error().message.find("instance"), std::string::npos);

  const auto bad = reading_error("timestamp,usage_bytes,instance\n1,2,pid-\xf2\n");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("line 2"), std::string::npos);
  EXPECT_NE(bad->find("UTF-8"), std::string::npos);

  // A source's name is saved as valid UTF-8 whatever it held: the state file must always dump.
  Detector d;
  core::Sample odd;
  odd.time = core::from_unix_seconds(1'700'000'000);
  odd.usage_bytes = 100;
  odd.instance = "pid-\xf2\xff";
  d.observe(odd);
  EXPECT_NO_THROW((void)d.save().dump());
}

// A value the sample cannot hold is an error, not a cast out of range (undefined behaviour).
TEST(TraceCsv, NumbersThatDoNotFitAreErrorsNamingTheLine) {
  for (const std::string row : {"1e300,2", "-1e11,2", "1,1e300", "1,2e19"}) {
    const auto e = reading_error("timestamp,usage_bytes\n1,2\n" + row + "\n");
    ASSERT_TRUE(e) << row;
    EXPECT_NE(e->find("line 3"), std::string::npos) << row << ": " << *e;
  }
  for (const std::string col :
       {"working_set_bytes", "oom_kill", "failcnt", "inactive_file_bytes"}) {
    const auto e = reading_error("timestamp,usage_bytes," + col + "\n1,2,1e300\n");
    ASSERT_TRUE(e) << col;
    EXPECT_NE(e->find("line 2"), std::string::npos) << col << ": " << *e;
  }
  EXPECT_DOUBLE_EQ(core::to_unix_seconds(core::from_unix_seconds(1e300)), 9.2e9);
  EXPECT_DOUBLE_EQ(core::to_unix_seconds(core::from_unix_seconds(std::nan(""))), 0.0);
}

TEST(TraceCsv, ErrorsNameTheLine) {
  {
    std::istringstream in("timestamp,limit_bytes\n1,2\n");
    auto r = TraceReader::open(in);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("line 1"), std::string::npos);
    EXPECT_NE(r.error().message.find("usage_bytes"), std::string::npos);
  }
  {
    std::istringstream in("timestamp,usage_bytes\n1,2\n2,abc\n");
    auto r = TraceReader::open(in);
    ASSERT_TRUE(r.ok());
    core::Sample s;
    ASSERT_TRUE(r->next(s).ok());
    auto e = r->next(s);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("line 3"), std::string::npos);
  }
  {
    std::istringstream in("timestamp,usage_bytes\n5,2\n4,2\n");
    auto r = TraceReader::open(in);
    core::Sample s;
    ASSERT_TRUE(r->next(s).ok());
    auto e = r->next(s);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("line 3"), std::string::npos);
    EXPECT_NE(e.error().message.find("earlier"), std::string::npos);
  }
  {
    std::istringstream in("timestamp,usage_bytes\n5,2,7\n");
    auto r = TraceReader::open(in);
    core::Sample s;
    auto e = r->next(s);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("line 2"), std::string::npos);
  }
}

// ---- Fast leaks: the seed incident (128 MiB, ~2 min warm-up, OOM at ~10 min, 1 s samples) ----

// Node-like service: a 2-minute warm-up to ~45 MiB under a young-generation sawtooth.
double warm_node(double x) {
  return 14 * kMi + 31 * kMi * std::min(1.0, x / 120.0) + saw(x, 6 * kMi, 8);
}

// The seed case: after warm_node's 2-minute warm-up the floor climbs `mib_per_min`; the peaks
// reach the 128 MiB limit at oom().
struct SeedLeak {
  double rate;
  explicit SeedLeak(double mib_per_min) : rate(mib_per_min * kMi / 60) {}
  double oom() const { return 120 + (128 * kMi - 51 * kMi) / rate; }
  double operator()(double x) const { return warm_node(x) + rate * std::max(0.0, x - 120); }
};

TEST(Detector, SeedLikeFastLeakAlertsBeforeTheOomWhileLearning) {
  Detector d;
  // After the warm-up the floor climbs 10 MiB/min: the peaks touch 128 MiB at ~10 min.
  const SeedLeak leak(10);
  const double oom = leak.oom();
  auto r = feed(d, oom - 1, 1, leak, 128 * kMi);
  ASSERT_TRUE(r.first_leak) << "no alert before the OOM at " << oom << " s";
  EXPECT_LT(*r.first_leak, oom - 30);  // a useful lead, not a last-second alarm
  EXPECT_LT(*r.first_leak, 15 * 60);   // within what used to be the learning time
  EXPECT_NE(r.at_alert.explanation.find("floor rising"), std::string::npos);
  EXPECT_NE(r.at_alert.explanation.find("limit in ~"), std::string::npos);
}

TEST(Detector, SeedLikeFastLeakWaitsOutLearningWithoutFastWindows) {
  DetectorSettings s;
  s.fast_window = std::chrono::seconds(0);
  Detector d(s);
  const SeedLeak leak(10);
  auto r = feed(d, leak.oom() - 1, 1, leak, 128 * kMi);
  EXPECT_FALSE(r.first_leak);  // what the fast windows change
}

// A leak that kills a 64 MiB container 4.5 minutes after start (the tune recording
// leak-node-oomcycles-64m): no 6-minute window exists before the kill. fast_window: 3m judges a
// 3-minute window on 30 s buckets of its own and reports it first, between two 60 s buckets.
TEST(Detector, ThreeMinuteFastWindowCatchesALeakThatKillsWithinFiveMinutes) {
  const double rate = 12 * kMi / 60;
  const auto value = [&](double x) {
    return 10 * kMi + 3 * kMi * std::min(1.0, x / 20) + saw(x, 2 * kMi, 8) +
           rate * std::max(0.0, x - 20);
  };
  const double oom = 20 + (64 * kMi - 15 * kMi) / rate;  // the peaks reach the limit (~265 s)
  Detector defaults;
  EXPECT_FALSE(feed(defaults, oom - 1, 1, value, 64 * kMi).first_leak);
  DetectorSettings s;
  s.fast_window = std::chrono::minutes(3);
  Detector fast(s);
  const auto r = feed(fast, oom - 1, 1, value, 64 * kMi);
  ASSERT_TRUE(r.first_leak) << "no alert before the kill at " << oom << " s";
  EXPECT_LT(*r.first_leak, oom - 20);
  EXPECT_EQ(r.at_alert.window, std::chrono::seconds(180));
}

// Usage (page cache included) held at the limit for 200 s at a time, between dips of 200 s: no
// run of pinned buckets lasts five minutes, but the kernel keeps reclaiming. The first two dips
// are too shallow to be a rise; then each dip climbs back to the limit within four minutes. By
// then the limit has been pinned for more than pinned_after in all, so the forecast no longer
// counts and the 3-minute windows that see the climbs back do not alert. Counted by runs only,
// the first deep climb alerts.
TEST(Detector, PinnedTimeCountsInAllAcrossDips) {
  const double limit = 512 * kMi;
  const auto value = [&](double x) {
    if (x < 800) return (std::fmod(x, 400.0) < 200 ? 0.999 : 0.96) * limit;  // shallow dips
    const double into = std::fmod(x - 800, 440.0);
    if (into < 200) return 0.999 * limit;                      // at the limit, reclaimed
    return 0.93 * limit + 0.069 * limit * (into - 200) / 240;  // a dip, then back up
  };
  DetectorSettings s;
  s.fast_window = std::chrono::minutes(3);
  Detector d(s);
  const auto r = feed(d, 2 * 3600, 10, value, limit, [](double, core::Sample& smp) {
    smp.working_set_bytes = 0;  // usage only
  });
  EXPECT_FALSE(r.first_leak) << "at " << r.first_leak.value_or(-1)
                             << " s: " << r.at_alert.explanation;
}

TEST(Settings, FastForecastFactorIsValidatedAndUsedByTheFastWindowsOnly) {
  DetectorSettings s;
  s.fast_forecast_factor = -1;
  const auto p = validate(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("fast_forecast_factor"), std::string::npos);
  // The seed-like fast leak is caught by a 6- or 12-minute window. With a factor of 0 they only
  // alert once the peaks are at the limit: much later, if at all, before the kill.
  const SeedLeak leak(10);
  const double oom = leak.oom();
  Detector by_default;
  auto r = feed(by_default, oom - 1, 1, leak, 128 * kMi);
  ASSERT_TRUE(r.first_leak);
  DetectorSettings off;
  off.fast_forecast_factor = 0;
  Detector d(off);
  auto late = feed(d, oom - 1, 1, leak, 128 * kMi);
  if (late.first_leak) {
    EXPECT_GT(*late.first_leak, *r.first_leak + 60);
  }
}

// A fast leak (5 MiB/min after the warm-up, the limit at ~17 min) whose samples stop for two
// minutes: the outage empties a segment of the 12-minute window at every other evaluation. Such a
// window cannot be judged, which is no evidence that the rise stopped; before, it restarted the
// hold each time and the alert never came before the kill.
TEST(Detector, FastLeakWithATwoMinuteOutageStillAlertsBeforeTheOom) {
  Detector d;
  const SeedLeak leak(5);
  const double oom = leak.oom();
  auto r = feed(d, oom - 1, 1, leak, 128 * kMi, {}, [](double x) { return x >= 700 && x < 820; });
  ASSERT_TRUE(r.first_leak) << "no alert before the OOM at " << oom << " s";
  EXPECT_GT(*r.first_leak, 820);  // after the outage: the rise needed the samples around it
  EXPECT_NE(r.at_alert.explanation.find("limit in ~"), std::string::npos);
}

TEST(Detector, HealthyTwinWithTheSameOutageStaysSilent) {
  Detector d;
  auto r = feed(d, 3600, 1, warm_node, 128 * kMi, {}, [](double x) { return x >= 700 && x < 820; });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
}

// A leak in steps (28 MiB every 2.2 h from 50 MiB, a 256 MiB limit, killed at about 17 h) whose
// samples stop for two hours from 8.7 h on. Every window that could see three steps spans the
// outage; with a 30-minute max_gap none of them was judged again before the kill. The floors on
// either side of the outage are the same process's, and the segments it leaves without data
// already keep a window from being judged.
double steps_with_outage(double x) {
  return 50 * kMi + 28 * kMi * std::floor(x / (2.2 * 3600)) + saw(x, 6 * kMi, 30);
}
bool two_hour_outage(double x) {
  return x >= 8.7 * 3600 && x < 10.7 * 3600;
}

TEST(Detector, LeakInStepsAcrossATwoHourOutageIsReportedBeforeTheOom) {
  const double limit = 256 * kMi;
  double oom = 0;
  while (steps_with_outage(oom) + 6 * kMi < limit)
    oom += 60;
  Detector d;
  auto r = feed(d, oom - 60, 10, steps_with_outage, limit, {}, two_hour_outage);
  ASSERT_TRUE(r.first_leak) << "no alert before the OOM at " << oom / 3600 << " h";
  EXPECT_GT(*r.first_leak, 10.7 * 3600) << r.at_alert.explanation;
}

// A cache that filled while the samples had stopped: one step across the outage, flat after it.
TEST(Detector, OneStepAcrossAnOutageIsNoLeak) {
  Detector d;
  auto r = feed(
      d, 24 * 3600, 10,
      [](double x) { return (x < 9 * 3600 ? 80 : 150) * kMi + saw(x, 6 * kMi, 30); }, 256 * kMi, {},
      two_hour_outage);
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
}

TEST(Detector, HealthyTwinWarmupStaysSilent) {
  Detector d;
  auto r = feed(d, 3600, 1, warm_node, 128 * kMi);
  EXPECT_FALSE(r.first_leak);
  EXPECT_EQ(r.last.state, State::ok);
}

TEST(Detector, SlowWarmupNearTheLimitStaysSilent) {
  // A JIT/cache warm-up that ends 20 MiB under the limit, levelling off over 10 minutes.
  Detector d;
  auto r = feed(
      d, 3600, 1,
      [](double x) { return 60 * kMi + 48 * kMi * (1 - std::exp(-x / 240)) + saw(x, 6 * kMi, 8); },
      128 * kMi);
  EXPECT_FALSE(r.first_leak);
}

// ---- Usage at the limit with no OOM kill: page cache in usage, reclaimed by the kernel ----

TEST(Detector, UsageOnlyPageCacheAtTheLimitIsNotALeak) {
  // No working set column: usage = heap + page cache. The cache grows 24 MiB/h until usage
  // reaches the limit, then the kernel reclaims (failcnt rises) and nothing is ever killed.
  Detector d;
  std::uint64_t hits = 0;
  auto r = feed(
      d, 24 * 3600, 10, [](double x) { return 300 * kMi + saw(x); }, 1024 * kMi,
      [&](double x, core::Sample& s) {
        const double cache = std::min(690 * kMi, 600 * kMi + 24 * kMi * x / 3600);
        const double usage = std::min(1024 * kMi - 64 * 1024, s.usage_bytes + cache);
        if (usage >= 1020 * kMi) ++hits;
        s.usage_bytes = static_cast<std::uint64_t>(usage);
        s.working_set_bytes = 0;
        s.limit_hit_count = hits;
        s.oom_kill_count = 0;
      });
  EXPECT_FALSE(r.first_leak) << r.at_alert.explanation;
}

TEST(Detector, PinnedAtTheLimitExplainsItself) {
  Detector d;
  core::Sample s;
  const double t0 = 1.8e9;
  Decision last;
  for (int i = 0; i < 4 * 360; ++i) {
    s.time = core::from_unix_seconds(t0 + i * 10.0);
    s.usage_bytes = static_cast<std::uint64_t>(1024 * kMi - 4096 - (i % 3) * 8192);
    s.limit_bytes = static_cast<std::uint64_t>(1024 * kMi);
    s.oom_kill_count = 0;
    last = d.observe(s);
  }
  EXPECT_EQ(last.state, State::ok);
  EXPECT_NE(last.explanation.find("no OOM kill"), std::string::npos) << last.explanation;
}

// A rise far from the limit is no leak yet, but the explanation must not deny a rise the window
// measured: "no sustained floor rise" is only for windows that do not rise.
TEST(Detector, ARiseShortOfAGateSaysSoAndAFlatSawtoothDoesNot) {
  Detector rising;
  // 100 MiB/h under a 4 GiB limit: after 3 h the 2 h window has risen 200 MiB (more than the
  // minimum rise, 4 % of the limit) and held, but the limit is a day and a half away.
  auto r = feed(
      rising, 3 * 3600, 10, [](double x) { return 300 * kMi + 100 * kMi * x / 3600 + saw(x); },
      4096 * kMi);
  EXPECT_FALSE(r.first_leak);
  EXPECT_EQ(r.last.state, State::ok);
  EXPECT_EQ(r.last.explanation.rfind("floor rising ", 0), 0u) << r.last.explanation;
  EXPECT_NE(r.last.explanation.find("not a leak yet; limit in ~1d"), std::string::npos)
      << r.last.explanation;

  Detector flat;
  auto f = feed(
      flat, 3 * 3600, 10, [](double x) { return 300 * kMi + saw(x); }, 4096 * kMi);
  EXPECT_EQ(f.last.state, State::ok);
  EXPECT_EQ(f.last.explanation.rfind("no sustained floor rise", 0), 0u) << f.last.explanation;
}

TEST(Detector, UsageOnlyLeakIsStillCaughtByItsKills) {
  // The same usage-only source, but the rise is a leak: the container is killed at the limit and
  // climbs again; the kills count, pinned or not.
  Detector d;
  std::uint64_t kills = 0;
  double base = 0;
  auto r = feed(
      d, 12 * 3600, 10, [](double) { return 0.0; }, 1024 * kMi,
      [&](double x, core::Sample& s) {
        double usage = 300 * kMi + 300 * kMi * (x - base) / 3600 + saw(x);
        if (usage >= 1024 * kMi) {
          ++kills;
          base = x;
          usage = 300 * kMi;
          s.restarted = true;
        }
        s.usage_bytes = static_cast<std::uint64_t>(usage);
        s.working_set_bytes = 0;
        s.oom_kill_count = kills;
      });
  ASSERT_TRUE(r.first_leak);
}

// ---- Runtimes with rare full collections: the old generation climbs between them ----

// Post-GC floor 200 MiB; the old generation climbs 350 MiB over `period` s before each full
// collection (the first one 15 min in: the detector starts mid-cycle); young-GC sawtooth on top.
double rare_gc(double x, double period, double floor_rise_per_cycle = 0) {
  const double first = 900;
  const double cycle = x < first ? 0 : std::floor((x - first) / period) + 1;
  const double into = x < first ? x + period - first : x - first - (cycle - 1) * period;
  return 200 * kMi + cycle * floor_rise_per_cycle + 350 * kMi * into / period +
         saw(x, 12 * kMi, 20);
}

TEST(Detector, RareFullGcSawtoothIsNotALeak) {
  Detector d;
  auto r = feed(
      d, 12 * 3600, 10, [](double x) { return rare_gc(x, 2400); }, 700 * kMi);
  EXPECT_FALSE(r.first_leak) << "alert at " << (r.first_leak ? *r.first_leak : 0) << ": "
                             << r.at_alert.explanation;
}

// A JVM-like heap under a 4 GiB limit: from 1 GiB the old generation climbs 2.5 GiB in 26 minutes,
// then a full collection takes it back. Before the first collection the climb is a fast leak
// heading for the limit, and it is reported as one; once collections show the floor staying put,
// the climbs are not evidence, and the alert clears after clear_after instead of lasting forever.
TEST(Detector, RareFullGcSawtoothFirstClimbAlertClearsOnceCollectionsAreSeen) {
  Detector d;
  const double period = 26 * 60;
  auto r = feed(
      d, 10 * 3600, 10,
      [&](double x) {
        return 1024 * kMi + 2560 * kMi * (x / period - std::floor(x / period)) +
               saw(x, 16 * kMi, 20);
      },
      4096 * kMi);
  ASSERT_TRUE(r.first_leak);
  EXPECT_LT(*r.first_leak, period) << r.at_alert.explanation;
  ASSERT_TRUE(r.last_alerting);
  // clear_after (2 h) after the last rise that could alert: the first climb.
  EXPECT_LT(*r.last_alerting, period + 2.5 * 3600);
  EXPECT_EQ(r.last.state, State::ok);
}

// A JVM under a 1 GiB limit whose old generation climbs to 93 % of it every 40 minutes before a
// full collection halves it, watched by a source without an OOM-kill counter (procfs, ECS). The
// same pid after each drop: no process died, so none is an OOM kill, and no "2 OOM kills" alert
// follows. Before, every drop from >= 90 % was a kill and a restart.
TEST(Detector, FullCollectionNearTheLimitIsNoKillWhenTheProcessIsTheSame) {
  const double period = 2400;
  const auto value = [&](double x) {
    return 380 * kMi + 570 * kMi * (x / period - std::floor(x / period)) + saw(x, 8 * kMi, 20);
  };
  Detector same;
  feed(same, 6 * period, 10, value, 1024 * kMi,
       [](double, core::Sample& s) { s.instance = "pid:4242"; });
  EXPECT_EQ(same.last().oom_kills, 0);
  EXPECT_EQ(same.last().restarts, 0);
  EXPECT_EQ(same.last().explanation.find("OOM kills"), std::string::npos)
      << same.last().explanation;
  // The same series where the pid changes at each drop: the process was killed and restarted.
  Detector killed;
  feed(killed, 6 * period, 10, value, 1024 * kMi, [&](double x, core::Sample& s) {
    s.instance = "pid:" + std::to_string(100 + static_cast<int>(x / period));
  });
  EXPECT_GE(killed.last().oom_kills, 5);
  EXPECT_NE(killed.last().explanation.find("OOM kills"), std::string::npos)
      << killed.last().explanation;
}

// An old generation climbing 10 MiB a minute from 300 MiB, collected at 900 MiB (88 % of a 1 GiB
// limit), and a leak climbing the same way that is never collected. Until the first collection the
// two are the same trace: forecast_factor sets how close to the limit the climb must come before
// it is called a leak. At the default (0.25) the climb that tops out under the limit stays quiet
// and the leak is still reported minutes before it; at 0.4 the climb is reported too (the trade
// measured in docs/detection.md, "forecast_factor 0.4 -> 0.25"). The test holds for a collection
// anywhere from 880 to 910 MiB.
TEST(Detector, FirstClimbToACollectionUnderTheLimitIsQuietAtTheDefaultForecastFactor) {
  const double rate = 10 * kMi / 60;
  const double period = 600 * kMi / rate;  // an hour from 300 to 900 MiB
  const auto old_gen = [&](double x) {
    return 300 * kMi + saw(x, rate * period, period) + saw(x, 12 * kMi, 20);
  };
  Detector quiet;
  auto r = feed(quiet, 4 * period, 10, old_gen);
  EXPECT_FALSE(r.first_leak) << "alert at " << (r.first_leak ? *r.first_leak : 0) << ": "
                             << r.at_alert.explanation;
  DetectorSettings eager_settings;
  eager_settings.forecast_factor = 0.4;
  Detector eager(eager_settings);
  auto e = feed(eager, 4 * period, 10, old_gen);
  ASSERT_TRUE(e.first_leak);
  EXPECT_LT(*e.first_leak, period) << e.at_alert.explanation;  // on the first climb

  const double oom = (1024 - 300 - 12) * kMi / rate;  // the peaks reach the limit (71 min)
  Detector leak;
  auto l =
      feed(leak, oom, 10, [&](double x) { return 300 * kMi + rate * x + saw(x, 12 * kMi, 20); });
  ASSERT_TRUE(l.first_leak);
  EXPECT_LT(*l.first_leak, oom - 5 * 60) << l.at_alert.explanation;
}

TEST(Detector, RareFullGcSawtoothAlertsWithoutTheCollectionRule) {
  DetectorSettings s;
  s.full_gc_drop_fraction = 0;
  Detector d(s);
  auto r = feed(
      d, 12 * 3600, 10, [](double x) { return rare_gc(x, 2400); }, 700 * kMi);
  EXPECT_TRUE(r.first_leak);  // the trap the rule removes
}

TEST(Detector, LeakUnderARareFullGcSawtoothIsCaught) {
  // Same sawtooth, but each full collection leaves 12 MiB more behind.
  Detector d;
  auto r = feed(
      d, 24 * 3600, 10, [](double x) { return rare_gc(x, 2400, 12 * kMi); }, 1024 * kMi);
  ASSERT_TRUE(r.first_leak);
}

// A fast leak (1.2 GiB/h) under a 240 MiB sawtooth that a collection cuts every 15 minutes, 2 GiB
// limit. The first cut is a fifth of the level and counts as a full collection; the next ones are
// the same size but a smaller fraction of a level that the leak has raised. Counted as collections
// too (they are at least half the first one), their troughs show the rise; before, no second
// collection was seen, the troughs could not be compared, every window shorter than 2 hours stayed
// set aside, and the OOM (at 72 min) came first.
// Feeds `value` every 10 s until it would reach `limit` (the OOM kill) and expects the first alert
// at least 10 minutes before that.
void expect_alert_10_minutes_before_the_oom(const std::function<double(double)>& value,
                                            double limit) {
  Detector d;
  double oom = 0;
  while (value(oom) < limit)
    oom += 10;
  auto r = feed(d, oom - 10, 10, value, limit);
  ASSERT_TRUE(r.first_leak) << "no alert before the OOM at " << oom / 3600 << " h";
  EXPECT_LT(*r.first_leak, oom - 600) << r.at_alert.explanation;
}

// A cache dropped once (one fall from 1.6 to 1 GiB counts as a collection), then a leak of
// 300 MiB/h towards a 4 GiB limit. The climb after the drop is set aside as a refill only until it
// passes the height the drop fell from; after that the windows count again and the leak is
// reported well before the OOM (about 10 h in).
TEST(Detector, LeakAfterAOneOffDropCountsOnceItPassesThatHeight) {
  const double drop_at = 2 * 3600;
  expect_alert_10_minutes_before_the_oom(
      [&](double x) {
        if (x < drop_at)
          return 1024 * kMi + 600 * kMi * std::min(1.0, x / 3600) + saw(x, 8 * kMi, 20);
        return 1024 * kMi + 300 * kMi * (x - drop_at) / 3600 + saw(x, 8 * kMi, 20);
      },
      4096 * kMi);
}

TEST(Detector, FastLeakUnderASawtoothWhoseCutsShrinkAgainstTheLevelIsCaughtBeforeTheOom) {
  expect_alert_10_minutes_before_the_oom(
      [](double x) { return 400 * kMi + 1200 * kMi * x / 3600 + saw(x, 240 * kMi, 900); },
      2048 * kMi);
}

// A slow leak (450 MiB/h) under a 600 MiB sawtooth cut every 20.5 minutes, 4 GiB limit: each
// collection leaves the floor about 154 MiB higher, less than a window's minimum rise (4 % of the
// limit, 164 MiB). Comparing only the last two troughs, no window with segments shorter than a
// climb counted, and the 4-hour window (40-minute hold) came after the OOM at 4.7 h. Three rising
// troughs in a row add up to more than the minimum rise.
TEST(Detector, SlowLeakRaisingEachTroughByLessThanTheMinimumRiseIsCaughtBeforeTheOom) {
  expect_alert_10_minutes_before_the_oom(
      [](double x) { return 1500 * kMi + 450 * kMi * x / 3600 + saw(x, 600 * kMi, 1230); },
      4096 * kMi);
}

// Feeds `value` every 10 s from `from` to before `to` (seconds after the ManualClock's start, as
// feed uses it); returns the first time in leak_suspected.
std::optional<double> feed_from(Detector& d, double from, double to,
                                const std::function<double(double)>& value, double limit) {
  const double t0 = core::to_unix_seconds(core::ManualClock().now());
  for (double x = from; x < to; x += 10) {
    core::Sample s;
    s.time = core::from_unix_seconds(t0 + x);
    s.usage_bytes = s.working_set_bytes = static_cast<std::uint64_t>(value(x));
    s.limit_bytes = static_cast<std::uint64_t>(limit);
    if (d.observe(s).state == State::leak_suspected) return x;
  }
  return std::nullopt;
}

// The troughs seen before the daemon restarted still count after it. Saved 3.3 h into the slow
// leak above, the restored detector alerts within minutes of one that never stopped (3.68 h);
// without the saved troughs it needs three new cycles first (4.1 h). A state file written before
// the troughs were kept as a list (a count and the last two) restores those two, and alerts as
// soon.
TEST(Detector, TroughsSurviveSaveAndRestoreAlsoFromTheOlderFormat) {
  const auto value = [](double x) {
    return 1500 * kMi + 450 * kMi * x / 3600 + saw(x, 600 * kMi, 1230);
  };
  const double limit = 4096 * kMi;
  const double cut = 3.3 * 3600;
  Detector whole;
  const auto uninterrupted = feed_from(whole, 0, 5 * 3600, value, limit);
  ASSERT_TRUE(uninterrupted);
  Detector first;
  ASSERT_FALSE(feed_from(first, 0, cut, value, limit));
  const nlohmann::json saved = first.save();
  ASSERT_GE(saved.at("troughs_seen").size(), 3u);

  auto restored = Detector::restore(saved, {});
  ASSERT_TRUE(restored) << restored.error().message;
  const auto after = feed_from(*restored, cut, 5 * 3600, value, limit);
  ASSERT_TRUE(after);
  EXPECT_LT(*after, *uninterrupted + 900);

  nlohmann::json older = saved;
  const auto& seen = saved.at("troughs_seen");
  older.erase("troughs_seen");
  older["troughs"] = seen.size();
  older["trough_prev"] = seen.at(seen.size() - 2);
  older["trough_last"] = seen.back();
  auto old_restored = Detector::restore(older, {});
  ASSERT_TRUE(old_restored) << old_restored.error().message;
  const auto old_after = feed_from(*old_restored, cut, 5 * 3600, value, limit);
  ASSERT_TRUE(old_after);
  EXPECT_LT(*old_after, *uninterrupted + 900);
}

// Watching starts 16 minutes before a full collection, in a cycle of 2.3 hours: the first climb
// seen is short, so it says little about how long the climbs are. The next climb, from 30 % to 75 %
// of a 4 GiB limit, is the old generation refilling until it passes the height the collection fell
// from; before, every window whose segments were longer than that first short climb counted it as
// a rising floor ("floor rising 801 MiB/h for 2h; limit in ~1h 20m" at 2.3 h). The same when the
// collection comes 50 s after watching starts, in the second bucket: a fall out of the first,
// partly filled bucket was not looked for, so that collection went unseen. And the same across
// a restart of the daemon in the middle of that climb, also from a state file written before the
// height was saved.
TEST(Detector, RareFullGcSawtoothWatchedFromLateInAClimbIsNotALeak) {
  const double period = 2.3 * 3600;
  const double limit = 4096 * kMi;
  struct Start {
    double watch;       // first sample (s)
    double collection;  // first full collection (s)
  };
  for (const Start start : {Start{0, 16 * 60}, Start{30, 80}}) {
    SCOPED_TRACE("first collection at " + std::to_string(start.collection) + " s");
    const auto value = [&](double x) {
      const double into = std::fmod(x - start.collection + 10 * period, period) / period;
      return 1228 * kMi + 1843 * kMi * into + saw(x, 12 * kMi, 20);
    };
    Detector whole;
    const auto alert = feed_from(whole, start.watch, 12 * 3600, value, limit);
    EXPECT_FALSE(alert) << "alert at " << *alert / 3600 << " h: " << whole.last().explanation;

    const double cut = 1.5 * 3600;
    Detector first_half;
    ASSERT_FALSE(feed_from(first_half, start.watch, cut, value, limit));
    const nlohmann::json saved = first_half.save();
    ASSERT_GT(saved.at("collection_peak").get<double>(), 2800 * kMi);
    nlohmann::json older = saved;
    older.erase("collection_peak");
    for (const auto& state : {saved, older}) {
      auto restored = Detector::restore(state, {});
      ASSERT_TRUE(restored) << restored.error().message;
      const auto later = feed_from(*restored, cut, 12 * 3600, value, limit);
      EXPECT_FALSE(later) << "alert at " << *later / 3600 << " h: " << restored->last().explanation;
    }
  }
}

// A sawtooth slower than a segment: the demo's settings (10 s buckets, 1 min learning, 3 min
// confirm window) on a Node-like heap that a full collection cuts every 140 s. With 8-minute
// windows the segments are 80 s long, so about half of them hold a collection and half lie on a
// climb; only the troughs after the collections show whether the floor rises.
DetectorSettings slow_saw_settings() {
  DetectorSettings s;
  s.bucket = std::chrono::seconds(10);
  s.min_window = std::chrono::minutes(1);
  s.max_window = std::chrono::hours(1);
  s.confirm_window = std::chrono::minutes(3);
  s.min_rise_bytes = 10 * kMi;
  s.min_rise_fraction = 0.02;
  return s;
}

// 44 MiB after warm-up; each cycle climbs 40 MiB in 140 s, fast at first and then slower (as the
// Node heap does after a full collection), and the collection takes it back down to the last
// trough plus `trough_rise` (what the leak kept); a young-GC ripple on top.
double slow_saw(double x, double trough_rise) {
  const double cycle = std::floor(x / 140);
  const double into = (x - cycle * 140) / 140;
  return 44 * kMi + cycle * trough_rise + 40 * kMi * (1 - (1 - into) * (1 - into)) +
         saw(x, 2 * kMi, 10);
}

TEST(Detector, LeakUnderASawtoothSlowerThanASegmentIsCaught) {
  Detector d(slow_saw_settings());
  // The troughs rise 16 MiB a cycle (44, 60, 76, ... MiB) as in the demo's Node 18 trace; before
  // the per-cycle floor this went unreported for all 15 minutes.
  auto r = feed(
      d, 900, 1, [](double x) { return slow_saw(x, 16 * kMi); }, 512 * kMi);
  ASSERT_TRUE(r.first_leak);
  EXPECT_LE(*r.first_leak, 600) << r.at_alert.explanation;  // within four cycles of the start
  EXPECT_GT(r.at_alert.slope_bytes_per_hour, 0);
}

TEST(Detector, SawtoothSlowerThanASegmentWithFlatTroughsIsNotALeak) {
  Detector d(slow_saw_settings());
  auto r = feed(
      d, 1800, 1, [](double x) { return slow_saw(x, 0); }, 512 * kMi);
  EXPECT_FALSE(r.first_leak) << "alert at " << (r.first_leak ? *r.first_leak : 0) << ": "
                             << r.at_alert.explanation;
  EXPECT_EQ(r.last.state, State::ok);
}

// ---- The trace format's reclaim columns ----

TEST(TraceReader, ReadsFailcntAndDerivesTheWorkingSetFromInactiveFile) {
  std::istringstream in(
      "timestamp,usage_bytes,limit_bytes,failcnt,inactive_file_bytes\n"
      "1,1000,2000,0,300\n"
      "2,1990,2000,17,1500\n"
      "3,1000,2000,,\n");
  auto r = TraceReader::open(in);
  ASSERT_TRUE(r.ok());
  core::Sample s;
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(s.working_set_bytes, 700u);
  EXPECT_EQ(s.limit_hit_count, 0u);
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(s.working_set_bytes, 490u);
  EXPECT_EQ(s.limit_hit_count, 17u);
  ASSERT_TRUE(*r->next(s));
  EXPECT_EQ(s.working_set_bytes, 0u);  // unknown: the detector falls back to usage
  EXPECT_FALSE(s.limit_hit_count);
  std::istringstream bad("timestamp,usage_bytes,failcnt\n1,2,x\n");
  auto rb = TraceReader::open(bad);
  ASSERT_TRUE(rb.ok());
  auto e = rb->next(s);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("line 2"), std::string::npos);
  EXPECT_NE(e.error().message.find("failcnt"), std::string::npos);
}

TEST(Detector, NewSettingsAreValidated) {
  DetectorSettings s;
  EXPECT_TRUE(validate(s).empty());
  s.fast_window = std::chrono::seconds(-1);
  s.pinned_fraction = 0;
  s.full_gc_drop_fraction = 1.5;
  const auto p = validate(s);
  EXPECT_EQ(p.size(), 3u);
  s = DetectorSettings{};
  s.fast_window = std::chrono::seconds(120);  // raised to 6 buckets, not an error
  s.min_window = std::chrono::minutes(6);     // no room for a fast window, not an error either
  EXPECT_TRUE(validate(s).empty());
}

}  // namespace
}  // namespace leakwatch::detect
