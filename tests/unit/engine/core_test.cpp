// The engine's decisions on a manual clock: every input is a value with its `now`, every decision
// an action to inspect. Nothing here sleeps, reads a clock or touches a file.
#include "leakwatch/engine/core.h"

#include <gtest/gtest.h>

#include "leakwatch/heapsnap/stream_histogram.h"

namespace leakwatch::engine {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kMiB = 1ull << 20;

const core::TimePoint kT0 = core::from_unix_seconds(1'700'000'000);
core::TimePoint at(std::chrono::seconds s) {
  return kT0 + s;
}

CoreSettings settings() {
  CoreSettings s;
  s.target = "web";
  s.archive_dir = "/var/lib/leakwatch/archive";
  s.detection.oom_cycles = 1;  // one OOM kill is a leak: the quickest way into a series
  s.capture.url = "http://127.0.0.1:9229/heapdump";
  s.can_capture = true;
  return s;
}

core::Sample sample(core::TimePoint t, std::uint64_t ooms = 0, std::uint64_t usage = 300 * kMiB) {
  core::Sample s;
  s.time = t;
  s.usage_bytes = usage;
  s.working_set_bytes = usage;
  s.limit_bytes = 1024 * kMiB;
  s.oom_kill_count = ooms;
  s.instance = "c1";
  return s;
}

template <typename A>
std::vector<A> all(const Actions& actions) {
  std::vector<A> out;
  for (const auto& a : actions)
    if (const auto* x = std::get_if<A>(&a)) out.push_back(*x);
  return out;
}

std::vector<alert::EventType> event_types(const Actions& actions) {
  std::vector<alert::EventType> out;
  for (const auto& e : all<EmitEvent>(actions))
    out.push_back(e.event.type);
  return out;
}

nlohmann::json histogram(std::uint64_t array_bytes) {
  heapsnap::Histogram h;
  h.classes = {{"Array", array_bytes / 64, array_bytes}, {"Object", 10, 640}};
  h.complete = true;
  return heapsnap::to_json(h);
}

archive::Metadata snapshot(const std::string& id, core::TimePoint t, std::uint64_t array_bytes) {
  archive::Metadata m;
  m.id = id;
  m.target = "web";
  m.started_at = t;
  m.duration_seconds = 2;
  m.stored_bytes = 5 * kMiB;
  m.histogram = histogram(array_bytes);
  return m;
}

// A fresh Core that saw one OOM kill at 60 s: the leak alert is out and the first capture of the
// series has been asked for.
struct InSeries {
  Core core{settings(), kT0};
  Actions leak;
  InSeries() {
    core.on_sample(sample(at(0s)), at(0s));
    leak = core.on_sample(sample(at(60s), 1), at(60s));
  }
};

TEST(EngineCore, SourceOutageAfterThreeFailedPollsThenRecovery) {
  Core core(settings(), kT0);
  core.on_sample(sample(at(0s)), at(0s));
  auto fail = [&](int s) {
    return core.on_sample(core::make_error(core::Errc::io, "memory.current: permission denied"),
                          at(std::chrono::seconds(s)));
  };
  EXPECT_TRUE(event_types(fail(10)).empty());
  EXPECT_TRUE(event_types(fail(20)).empty());
  auto third = all<EmitEvent>(fail(30));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].event.type, alert::EventType::source_unavailable);
  EXPECT_EQ(third[0].event.reason, "memory.current: permission denied");
  EXPECT_TRUE(event_types(fail(40)).empty()) << "one outage alert, not one per poll";

  auto back = all<EmitEvent>(core.on_sample(sample(at(50s)), at(50s)));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].event.type, alert::EventType::recovered);
  EXPECT_EQ(back[0].event.recovered_from, alert::EventType::source_unavailable);
  EXPECT_NE(back[0].event.reason.find("after 4 failed polls"), std::string::npos);
  EXPECT_EQ(core.status(at(50s)).counters.source_errors, 4u);
  EXPECT_TRUE(event_types(core.on_sample(sample(at(60s)), at(60s))).empty());
}

TEST(EngineCore, OomKillAlertsStartsASeriesAndARestartCancelsIt) {
  InSeries s;
  EXPECT_EQ(event_types(s.leak),
            (std::vector{alert::EventType::oom_kill, alert::EventType::leak_suspected}));
  const auto oom = all<EmitEvent>(s.leak)[0].event;
  EXPECT_EQ(oom.oom_kill_count, 1u);
  EXPECT_EQ(oom.memory.limit_bytes, 1024 * kMiB);
  auto captures = all<StartCapture>(s.leak);
  ASSERT_EQ(captures.size(), 1u);
  EXPECT_EQ(captures[0].request.reason.kind, "leak_series");
  EXPECT_EQ(captures[0].request.reason.series_index, 1);
  EXPECT_EQ(captures[0].request.reason.series_count, 3);
  EXPECT_EQ(s.core.status(at(60s)).counters.oom_kills, 1u);

  s.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  auto restarted = sample(at(70s), 1);
  restarted.restarted = true;
  restarted.instance = "c2";
  auto r = all<EmitEvent>(s.core.on_sample(restarted, at(70s)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].event.type, alert::EventType::restart);
  EXPECT_EQ(r[0].event.reason, "web restarted (now c2)");
  EXPECT_FALSE(s.core.series().active()) << "snapshots across a restart do not diff";
  auto later = s.core.on_sample(sample(at(60s + 16min), 1), at(60s + 16min));
  EXPECT_TRUE(all<StartCapture>(later).empty());
  std::vector<std::string> kinds;
  for (const auto& m : s.core.status(at(70s)).markers)
    kinds.push_back(m.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"oom_kill", "alert", "capture", "restart"}));
}

TEST(EngineCore, SeriesCapturesThenDiffsFirstAndLastWithTypedGrowers) {
  InSeries s;
  auto first = s.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  EXPECT_EQ(event_types(first), (std::vector{alert::EventType::capture_completed}));
  EXPECT_EQ(all<Archived>(first).size(), 1u);
  EXPECT_EQ(all<Persist>(first).size(), 1u);
  EXPECT_TRUE(all<RequestDiff>(first).empty());

  // Not due before series_spacing (15m) from the first capture.
  EXPECT_TRUE(all<StartCapture>(s.core.on_sample(sample(at(10min), 1), at(10min))).empty());
  auto second = s.core.on_sample(sample(at(17min), 1), at(17min));
  ASSERT_EQ(all<StartCapture>(second).size(), 1u);
  EXPECT_EQ(all<StartCapture>(second)[0].request.reason.series_index, 2);

  auto done = s.core.on_capture_done(snapshot("web/b", at(17min), 9 * kMiB), at(17min + 2s));
  EXPECT_TRUE(event_types(done).empty()) << "the completed capture waits for its diff";
  auto diff = all<RequestDiff>(done);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].base_id, "web/a");
  EXPECT_EQ(diff[0].target_id, "web/b");

  DiffOutcome outcome;
  alert::Grower g;
  g.name = "LeakyCache";
  g.size_delta = 8 * kMiB;
  g.retainer_path = {"(GC roots)", "LeakyCache"};
  outcome.growers = {g};
  outcome.report = {{"top_growers", {{{"name", "LeakyCache"}}}}};
  auto answered = s.core.on_diff_done(outcome, at(18min));
  auto events = all<EmitEvent>(answered);
  ASSERT_EQ(events.size(), 1u);
  const auto& cap = events[0].event.capture;
  ASSERT_TRUE(cap);
  EXPECT_EQ(cap->archive_ids, (std::vector<std::string>{"web/a", "web/b"}));
  ASSERT_EQ(cap->top_growers.size(), 1u);
  EXPECT_EQ(cap->top_growers[0].name, "LeakyCache");
  EXPECT_EQ(cap->top_growers[0].retainer_path, g.retainer_path);
  auto annotate = all<Annotate>(answered);
  ASSERT_EQ(annotate.size(), 1u);
  EXPECT_EQ(annotate[0].id, "web/b");
  EXPECT_EQ(annotate[0].analysis["base"], "web/a");
  auto st = s.core.status(at(18min));
  EXPECT_EQ(st.heap_analysis["target"], "web/b");
  EXPECT_EQ(st.counters.captures["ok"], 2u);
  EXPECT_EQ(st.counters.archive_written_bytes, 10 * kMiB);
}

TEST(EngineCore, DiffFailureAlertsWithHistogramGrowersAndTheCommand) {
  InSeries s;
  s.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  s.core.on_sample(sample(at(17min), 1), at(17min));
  s.core.on_capture_done(snapshot("web/b", at(17min), 9 * kMiB), at(17min + 2s));
  auto events = all<EmitEvent>(s.core.on_diff_done(
      core::make_error(core::Errc::over_budget, "the full diff needs about 900 MiB"), at(18min)));
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0].event;
  EXPECT_EQ(e.capture->diff_command,
            "leakwatch diff --archive /var/lib/leakwatch/archive web/a web/b");
  EXPECT_NE(e.reason.find("the full diff needs about 900 MiB"), std::string::npos);
  ASSERT_FALSE(e.capture->top_growers.empty());
  EXPECT_EQ(e.capture->top_growers[0].name, "Array");
  EXPECT_EQ(e.capture->top_growers[0].size_delta, static_cast<std::int64_t>(8 * kMiB));
}

TEST(EngineCore, SkippedCapturesRetryThenTheSeriesIsAbandonedAtTheMissLimit) {
  auto cs = settings();
  cs.capture.series_max_misses = 3;
  Core core(cs, kT0);
  core.on_sample(sample(at(0s), 0, 900 * kMiB), at(0s));
  // 900 MiB of 1 GiB: no headroom for a snapshot.
  auto leak = core.on_sample(sample(at(60s), 1, 900 * kMiB), at(60s));
  EXPECT_TRUE(all<StartCapture>(leak).empty());
  auto skipped = all<EmitEvent>(leak);
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_EQ(skipped[2].event.type, alert::EventType::capture_skipped);
  EXPECT_EQ(skipped[2].event.dedupe_key, "capture_skipped:headroom");

  int skips = 1;
  for (auto t = 61s; t <= 60s + 1h; t += 60s) {
    auto a = core.on_sample(sample(at(t), 1, 900 * kMiB), at(t));
    EXPECT_TRUE(all<StartCapture>(a).empty());
    for (auto type : event_types(a))
      if (type == alert::EventType::capture_skipped) ++skips;
  }
  EXPECT_EQ(skips, 3) << "retried after series_retry (5m), abandoned after 3 misses";
  EXPECT_FALSE(core.series().active());
  EXPECT_EQ(core.status(at(1h)).counters.captures["skipped"], 3u);
}

TEST(EngineCore, StopWaitsForTheCaptureInFlightUntilItsDeadline) {
  InSeries s;
  ASSERT_TRUE(s.core.capture_in_flight());
  auto stop = s.core.stop(at(61s), at(81s));
  EXPECT_TRUE(all<Stopped>(stop).empty()) << "a capture is in flight";
  EXPECT_TRUE(s.core.on_sample(sample(at(70s), 1), at(70s)).empty()) << "no polls while stopping";
  auto deadline = s.core.on_stop_deadline(at(81s));
  ASSERT_EQ(deadline.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<AbandonCapture>(deadline[0]));
  EXPECT_TRUE(std::holds_alternative<Persist>(deadline[1]));
  EXPECT_TRUE(std::holds_alternative<Stopped>(deadline[2]));
  EXPECT_TRUE(s.core.on_capture_done(snapshot("web/a", at(60s), kMiB), at(90s)).empty())
      << "an abandoned capture's late answer changes nothing";
}

TEST(EngineCore, StopEndsWhenTheCaptureFinishesAndCancelsADiff) {
  InSeries s;
  s.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  s.core.on_sample(sample(at(17min), 1), at(17min));
  s.core.stop(at(17min + 1s), at(17min + 21s));
  // The capture ends before the deadline: its alert goes out with the histogram growers, since
  // no diff starts while stopping, then the state is persisted once and the stop completes.
  auto done = s.core.on_capture_done(snapshot("web/b", at(17min), 9 * kMiB), at(17min + 5s));
  EXPECT_TRUE(all<RequestDiff>(done).empty());
  auto events = all<EmitEvent>(done);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.capture->top_growers.at(0).name, "Array");
  EXPECT_EQ(all<Persist>(done).size(), 1u);
  ASSERT_FALSE(done.empty());
  EXPECT_TRUE(std::holds_alternative<Stopped>(done.back()));
  EXPECT_TRUE(s.core.on_stop_deadline(at(17min + 21s)).empty());

  InSeries d;
  d.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  d.core.on_sample(sample(at(17min), 1), at(17min));
  d.core.on_capture_done(snapshot("web/b", at(17min), 9 * kMiB), at(17min + 2s));
  ASSERT_TRUE(d.core.diff_pending());
  auto stop = d.core.stop(at(17min + 3s), at(17min + 23s));
  ASSERT_EQ(stop.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<CancelDiff>(stop[0]));
  EXPECT_TRUE(std::holds_alternative<Stopped>(stop[2]));
}

TEST(EngineCore, ReloadResumesTheSeriesFromTheSavedState) {
  InSeries s;
  s.core.on_capture_done(snapshot("web/a", at(60s), 1 * kMiB), at(62s));
  auto saved = s.core.save();

  auto cs = settings();
  cs.capture.series_count = 2;  // the reloaded configuration
  Core next(cs, at(5min));
  EXPECT_TRUE(next.restore(saved).empty());
  next.note_archived(snapshot("web/a", at(60s), 1 * kMiB));
  EXPECT_EQ(next.detector().last().state, detect::State::leak_suspected);
  EXPECT_EQ(next.series_ids(), (std::vector<std::string>{"web/a"}));
  EXPECT_EQ(next.status(at(5min)).counters.captures["ok"], 1u);

  auto a = next.on_sample(sample(at(17min), 1), at(17min));
  EXPECT_TRUE(event_types(a).empty()) << "the leak was already alerted before the reload";
  ASSERT_EQ(all<StartCapture>(a).size(), 1u);
  EXPECT_EQ(all<StartCapture>(a)[0].request.reason.series_index, 2);
  auto done = next.on_capture_done(snapshot("web/b", at(17min), 9 * kMiB), at(17min + 2s));
  ASSERT_EQ(all<RequestDiff>(done).size(), 1u);
  EXPECT_EQ(all<RequestDiff>(done)[0].base_id, "web/a");

  EXPECT_FALSE(next.restore(nlohmann::json::array()).empty()) << "a bad state is reported";
}

TEST(EngineCore, PersistsOncePerMinuteOfSamples) {
  Core core(settings(), kT0);
  int persists = 0;
  for (auto t = 0s; t < 5min; t += 5s)
    persists += static_cast<int>(all<Persist>(core.on_sample(sample(at(t)), at(t))).size());
  EXPECT_EQ(persists, 4);
}

TEST(EngineCore, StatusCarriesTheDecisionsLines) {
  Core core(settings(), kT0);
  for (auto t = 0s; t <= 2h; t += 10s) {
    auto usage = 300 * kMiB + static_cast<std::uint64_t>(t.count()) * 20'000 +
                 static_cast<std::uint64_t>(t.count() % 120) * 300'000;
    core.on_sample(sample(at(t), 0, usage), at(t));
  }
  auto st = core.status(at(2h));
  EXPECT_EQ(st.samples.size(), 721u);
  EXPECT_EQ(st.last_sample_at, at(2h));
  EXPECT_GT(st.detector.slope_bytes_per_hour, 0);
  ASSERT_EQ(st.trend.size(), 2u);
  EXPECT_LT(st.trend[0].bytes, st.trend[1].bytes) << "a rising floor";
  ASSERT_EQ(st.forecast.size(), 2u);
  EXPECT_DOUBLE_EQ(st.forecast[1].bytes, 1024.0 * kMiB) << "the forecast ends at the limit";
  EXPECT_GT(st.forecast[1].time, st.forecast[0].time);
}

}  // namespace
}  // namespace leakwatch::engine
