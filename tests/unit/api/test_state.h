#pragma once
// Hand-built API states and an in-memory SnapshotStore for the API's unit tests.
#include <filesystem>
#include <map>
#include <optional>

#include "leakwatch/api/snapshot_store.h"
#include "leakwatch/api/state.h"

namespace leakwatch::api::testing {

inline core::TimePoint at(double unix_seconds) {
  return core::from_unix_seconds(unix_seconds);
}

inline engine::Status sample_state() {
  engine::Status s;
  s.target = "web";
  s.source = "cgroup v2 /sys/fs/cgroup/web";
  s.identity.platform = "ecs";
  s.identity.cluster = "prod";
  s.identity.family = "web-api";
  s.identity.revision = "42";
  s.identity.task_arn = "arn:aws:ecs:eu-west-1:111122223333:task/prod/5f2c9d0e";
  s.identity.task_id = "5f2c9d0e";
  s.identity.container = "app";
  s.identity.availability_zone = "eu-west-1b";
  s.now = at(1'700'003'600);
  s.started_at = at(1'700'000'000);
  s.last_sample_at = at(1'700'003'600);
  const std::uint64_t mib = 1 << 20;
  for (int i = 0; i <= 360; ++i) {
    engine::StatusSample x;
    x.time = at(1'700'000'000 + i * 10);
    x.usage_bytes = (200 + i / 4 + (i % 6) * 10) * mib;
    x.working_set_bytes = x.usage_bytes - 20 * mib;
    x.limit_bytes = 512 * mib;
    s.samples.push_back(x);
  }
  s.floor = {{at(1'700'000'000), 200.0 * mib}, {at(1'700'003'600), 290.0 * mib}};
  s.trend = s.floor;
  s.forecast = {{at(1'700'003'600), 340.0 * mib}, {at(1'700'010'000), 512.0 * mib}};
  s.detector.state = "leak_suspected";
  s.detector.explanation = "floor rising 90 MiB/h for 1h; limit in ~1h 47m";
  s.detector.slope_bytes_per_hour = 90.0 * mib;
  s.detector.forecast_seconds = 6400;
  s.detector.confidence = 0.8;
  s.detector.floor_bytes = 290 * mib;
  s.markers = {
      {at(1'700'002'000), "alert", "leak alert \"web\"", ""},
      {at(1'700'002'100), "capture", "snapshot 1 of 3", "web/20231114T224000Z-leak-series-1of3"}};
  s.counters.captures = {{"ok", 2}, {"failed", 1}};
  s.counters.alerts = {{{"slack", "ok"}, 1}, {{"webhook", "failed"}, 2}};
  s.counters.source_errors = 3;
  s.counters.samples = 361;
  s.build = {"0.1.0", "abc123", "gcc 12"};
  return s;
}

class FixedProvider final : public StateProvider {
 public:
  explicit FixedProvider(engine::Status s) : state_(std::move(s)) {}
  engine::Status snapshot() const override {
    ++calls;
    return state_;
  }
  mutable int calls = 0;

 private:
  engine::Status state_;
};

class MemoryStore final : public SnapshotStore {
 public:
  std::vector<SnapshotInfo> items;
  std::map<std::string, std::filesystem::path> files;
  std::optional<std::filesystem::path> root_dir;
  mutable int diffs = 0;

  std::optional<std::filesystem::path> root() const override { return root_dir; }

  core::Result<std::vector<SnapshotInfo>> list() const override { return items; }
  core::Result<std::filesystem::path> path(const std::string& id) const override {
    auto it = files.find(id);
    if (it == files.end()) return core::make_error(core::Errc::not_found, "no file");
    return it->second;
  }
  core::Result<nlohmann::json> diff(const std::string& base, const std::string& target,
                                    std::size_t limit) const override {
    ++diffs;
    if (base == target) return core::make_error(core::Errc::parse, "cannot parse");
    nlohmann::json classes = nlohmann::json::array();
    for (std::size_t i = 0; i < std::min<std::size_t>(limit, 3); ++i) {
      classes.push_back({{"name", "C" + std::to_string(i)},
                         {"new_count", 10},
                         {"deleted_count", 1},
                         {"delta_count", 9},
                         {"alloc_size", 1000},
                         {"freed_size", 100},
                         {"size_delta", 900}});
    }
    return nlohmann::json{{"classes", classes}, {"top_growers", nlohmann::json::array()}};
  }
};

inline SnapshotInfo info(const std::string& id, double t) {
  SnapshotInfo s;
  s.id = id;
  s.target = id.substr(0, id.find('/'));
  s.started_at = at(t);
  s.reason = "leak_series 1 of 3";
  s.reason_kind = "leak_series";
  s.size_bytes = 1234;
  s.stored_bytes = 1234;
  s.compression = "none";
  s.file_name = id.substr(id.find('/') + 1) + ".heapsnapshot";
  s.metadata = {{"id", id}};
  return s;
}

}  // namespace leakwatch::api::testing
