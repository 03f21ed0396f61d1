#include "leakwatch/api/status.h"

#include <gtest/gtest.h>

#include "test_state.h"

namespace leakwatch::api {
namespace {

using testing::at;
using testing::sample_state;

TEST(Status, CarriesSamplesDetectorForecastAndMarkers) {
  auto j = status_json(sample_state(), {});
  EXPECT_EQ(j["target"], "web");
  EXPECT_EQ(j["samples"].size(), 361u);
  EXPECT_EQ(j["samples_total_in_range"], 361);
  EXPECT_EQ(j["limit_bytes"], 512u << 20);
  EXPECT_EQ(j["detector"]["state"], "leak_suspected");
  EXPECT_EQ(j["detector"]["explanation"], "floor rising 90 MiB/h for 1h; limit in ~1h 47m");
  EXPECT_DOUBLE_EQ(j["detector"]["forecast_seconds"].get<double>(), 6400);
  EXPECT_DOUBLE_EQ(j["detector"]["slope_bytes_per_second"].get<double>(), 90.0 * (1 << 20) / 3600);
  EXPECT_EQ(j["forecast"].size(), 2u);
  EXPECT_EQ(j["markers"].size(), 2u);
  EXPECT_EQ(j["markers"][1]["snapshot_id"], "web/20231114T224000Z-leak-series-1of3");
  EXPECT_EQ(j["counters"]["captures"]["ok"], 2);
  EXPECT_EQ(j["samples"][0]["t"], 1'700'000'000.0);
}

TEST(Status, CarriesTheTargetIdentity) {
  auto j = status_json(sample_state(), {});
  ASSERT_TRUE(j["identity"].is_object()) << j["identity"];
  EXPECT_EQ(j["identity"]["platform"], "ecs");
  EXPECT_EQ(j["identity"]["cluster"], "prod");
  EXPECT_EQ(j["identity"]["task_family"], "web-api");
  EXPECT_EQ(j["identity"]["task_revision"], "42");
  EXPECT_EQ(j["identity"]["task_id"], "5f2c9d0e");
  EXPECT_EQ(j["identity"]["container"], "app");
  EXPECT_EQ(j["identity"]["availability_zone"], "eu-west-1b");
  EXPECT_TRUE(status_json(engine::Status{}, {})["identity"].is_null());
}

TEST(Status, SinceFiltersSamplesFloorAndMarkers) {
  StatusQuery q;
  q.since = at(1'700'002'050);
  auto j = status_json(sample_state(), q);
  EXPECT_EQ(j["samples"].size(), 156u);  // 1'700'002'050 .. 1'700'003'600 every 10 s
  EXPECT_GE(j["samples"][0]["t"].get<double>(), 1'700'002'050.0);
  EXPECT_EQ(j["markers"].size(), 1u);
  EXPECT_EQ(j["floor"].size(), 1u);
  EXPECT_EQ(j["trend"].size(), 2u) << "the fitted line is always whole";
}

TEST(Status, TheCaptureInFlightIsShownAndNullWhenNoneRuns) {
  auto s = sample_state();
  EXPECT_TRUE(status_json(s, {})["capture"].is_null());
  s.capture = {{"active", true},
               {"method", "inspector"},
               {"phase", "snapshotting"},
               {"bytes", 0},
               {"fraction", 0.42}};
  auto j = status_json(s, {});
  EXPECT_EQ(j["capture"]["method"], "inspector");
  EXPECT_EQ(j["capture"]["phase"], "snapshotting");
  EXPECT_DOUBLE_EQ(j["capture"]["fraction"].get<double>(), 0.42);
}

TEST(Status, NoLimitAndNoForecastAreNull) {
  engine::Status s;
  auto j = status_json(s, {});
  EXPECT_TRUE(j["limit_bytes"].is_null());
  EXPECT_TRUE(j["detector"]["forecast_seconds"].is_null());
  EXPECT_TRUE(j["samples"].empty());
}

TEST(Downsample, KeepsFloorAndPeaksWithinTheBudget) {
  std::vector<engine::StatusSample> in;
  for (int i = 0; i < 10'000; ++i) {
    engine::StatusSample s;
    s.time = at(1'700'000'000 + i);
    s.usage_bytes = 1000 + (i % 100) * 10 + (i == 5'555 ? 1'000'000 : 0);
    in.push_back(s);
  }
  auto out = downsample(in, 200);
  EXPECT_LE(out.size(), 200u);
  EXPECT_GE(out.size(), 150u);
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    lo = std::min(lo, out[i].usage_bytes);
    hi = std::max(hi, out[i].usage_bytes);
    if (i) {
      EXPECT_LT(out[i - 1].time, out[i].time) << "time order kept";
    }
  }
  EXPECT_EQ(lo, 1000u) << "the floor survives";
  EXPECT_EQ(hi, 1000u + 550 + 1'000'000) << "a single spike survives";
  EXPECT_EQ(downsample(std::vector<engine::StatusSample>(in.begin(), in.begin() + 50), 200).size(),
            50u);
}

TEST(SnapshotJson, ListFormOmitsTheFullMetadata) {
  auto s = testing::info("web/20231114T224000Z-manual", 1'700'001'600);
  auto j = snapshot_json(s, false);
  EXPECT_EQ(j["id"], "web/20231114T224000Z-manual");
  EXPECT_EQ(j["time_utc"], "2023-11-14T22:40:00Z");
  EXPECT_FALSE(j.contains("metadata"));
  EXPECT_TRUE(snapshot_json(s, true).contains("metadata"));
}

}  // namespace
}  // namespace leakwatch::api
