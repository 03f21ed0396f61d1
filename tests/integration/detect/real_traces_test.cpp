// Verdicts of the default detector on real-runtime traces recorded by scripts/record-traces
// (tests/data/traces/real/README.md). Traces from the tuning split and from the held-out split
// (never used to choose a setting; checked here, not tuned on) are both replayed.
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>

#include "leakwatch/detect/detector.h"
#include "leakwatch/detect/replay.h"
#include "leakwatch/detect/trace_file.h"

namespace leakwatch::detect {
namespace {

struct Verdict {
  std::optional<double> first_leak;  // seconds from the first sample
  std::optional<double> first_kill;  // first OOM kill or restart
  Decision last;
};

Verdict run(const std::string& name) {
  const std::string path = std::string(LEAKWATCH_REAL_TRACES) + "/" + name + ".csv.zst";
  auto samples = load_trace(path);
  EXPECT_TRUE(samples.ok()) << path << ": " << (samples ? "" : samples.error().message);
  Verdict v;
  if (!samples || samples->empty()) return v;
  Detector d;
  const double t0 = core::to_unix_seconds(samples->front().time);
  for (const auto& s : *samples) {
    const Decision dec = d.observe(s);
    const double x = core::to_unix_seconds(s.time) - t0;
    if (dec.restarted && !v.first_kill) v.first_kill = x;
    if (dec.changed && dec.state == State::leak_suspected && !v.first_leak) v.first_leak = x;
    v.last = dec;
  }
  return v;
}

TEST(RealTraces, SeedLikeNodeLeakAlertsBeforeItsFirstOomKill) {
  // 128 MiB, 2 minutes of warm-up, then the heap leaks until the kernel kills it.
  for (const char* name : {"leak-node-seed-128m.1s", "leak-node-seed-128m.10s"}) {
    const Verdict v = run(name);
    ASSERT_TRUE(v.first_kill) << name << ": the recording has no kill";
    ASSERT_TRUE(v.first_leak) << name << ": no alert";
    EXPECT_LT(*v.first_leak, *v.first_kill) << name;
    EXPECT_LT(*v.first_leak, 15 * 60) << name << ": waited out the learning window";
  }
}

TEST(RealTraces, HealthyTwinWarmupStaysSilent) {
  for (const char* name : {"healthy-node-seed-twin-128m.1s", "healthy-node-seed-twin-128m.10s",
                           "healthy-node-seed-twin-b-128m.1s"}) {
    const Verdict v = run(name);
    EXPECT_FALSE(v.first_leak) << name << ": " << v.last.explanation;
  }
}

TEST(RealTraces, PageCacheWriterAtTheLimitIsNotALeak) {
  for (const char* name : {"healthy-node-writer-96m.1s", "healthy-node-writer-96m-usageonly.1s",
                           "healthy-node-writer-1g-usageonly.10s"}) {
    const Verdict v = run(name);
    EXPECT_FALSE(v.first_leak) << name << ": " << v.last.explanation;
  }
}

TEST(RealTraces, JvmSawtoothIsNotALeak) {
  for (const char* name :
       {"healthy-java-g1-sawtooth-320m.1s", "healthy-java-par-sawtooth-320m.1s"}) {
    const Verdict v = run(name);
    EXPECT_FALSE(v.first_leak) << name << ": " << v.last.explanation;
  }
}

TEST(RealTraces, ReplayWritesTheUnchangedLineFormat) {
  auto text =
      read_trace_text(std::string(LEAKWATCH_REAL_TRACES) + "/leak-node-seed-128m.1s.csv.zst");
  ASSERT_TRUE(text.ok());
  std::istringstream in(*text);
  std::ostringstream out;
  auto r = replay(in, DetectorSettings{}, out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->first_leak_t);
  const std::string lines = out.str();
  EXPECT_NE(lines.find("\"state\":\"leak_suspected\""), std::string::npos);
  EXPECT_NE(lines.find("\"explanation\":\"floor rising"), std::string::npos);
}

TEST(RealTraces, CorruptCompressedTraceIsAnError) {
  auto text = read_trace_text(std::string(LEAKWATCH_REAL_TRACES) + "/README.md.zst");
  EXPECT_FALSE(text.ok());
  auto bad = read_trace_text(std::string(LEAKWATCH_REAL_TRACES) + "/MANIFEST.tsv", 16);
  EXPECT_FALSE(bad.ok());  // over the size cap
}

}  // namespace
}  // namespace leakwatch::detect
