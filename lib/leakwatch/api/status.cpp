#include "leakwatch/api/status.h"

#include <algorithm>

namespace leakwatch::api {

using nlohmann::json;

std::vector<engine::StatusSample> downsample(const std::vector<engine::StatusSample>& samples,
                                             std::size_t max_points) {
  if (max_points < 2) max_points = 2;
  if (samples.size() <= max_points) return samples;
  std::size_t buckets = max_points / 2;
  double t0 = core::to_unix_seconds(samples.front().time);
  double t1 = core::to_unix_seconds(samples.back().time);
  double width = std::max(1e-9, (t1 - t0) / static_cast<double>(buckets));
  std::vector<engine::StatusSample> out;
  out.reserve(max_points);
  std::size_t i = 0;
  while (i < samples.size()) {
    auto b = static_cast<std::size_t>((core::to_unix_seconds(samples[i].time) - t0) / width);
    b = std::min(b, buckets - 1);
    std::size_t lo = i;
    std::size_t hi = i;
    std::size_t j = i;
    for (; j < samples.size(); ++j) {
      auto bj =
          std::min(buckets - 1,
                   static_cast<std::size_t>((core::to_unix_seconds(samples[j].time) - t0) / width));
      if (bj != b) break;
      if (samples[j].usage_bytes < samples[lo].usage_bytes) lo = j;
      if (samples[j].usage_bytes > samples[hi].usage_bytes) hi = j;
    }
    out.push_back(samples[std::min(lo, hi)]);
    if (lo != hi) out.push_back(samples[std::max(lo, hi)]);
    i = j;
  }
  return out;
}

namespace {

json opt_u64(const std::optional<std::uint64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

json line_json(const std::vector<engine::LinePoint>& pts,
               const std::optional<core::TimePoint>& since) {
  json a = json::array();
  for (const auto& p : pts) {
    if (since && p.time < *since) continue;
    a.push_back({{"t", core::to_unix_seconds(p.time)}, {"bytes", p.bytes}});
  }
  return a;
}

}  // namespace

json status_json(const engine::Status& st, const StatusQuery& q) {
  json j;
  j["target"] = st.target;
  j["source"] = st.source;
  json identity = json::object();
  for (const auto& [k, v] : st.identity.fields())
    identity[k] = v;
  j["identity"] = identity.empty() ? json(nullptr) : identity;
  j["now"] = core::to_unix_seconds(st.now);
  j["started_at"] = core::to_unix_seconds(st.started_at);
  j["last_sample_at"] =
      st.last_sample_at ? json(core::to_unix_seconds(*st.last_sample_at)) : json(nullptr);
  const engine::StatusSample* last = st.latest();
  j["limit_bytes"] = last ? opt_u64(last->limit_bytes) : json(nullptr);

  std::vector<engine::StatusSample> window;
  if (q.since) {
    auto first = std::lower_bound(
        st.samples.begin(), st.samples.end(), *q.since,
        [](const engine::StatusSample& s, core::TimePoint t) { return s.time < t; });
    window.assign(first, st.samples.end());
  } else {
    window = st.samples;
  }
  auto shown = downsample(window, q.max_points);
  json samples = json::array();
  for (const auto& s : shown) {
    samples.push_back({{"t", core::to_unix_seconds(s.time)},
                       {"usage", s.usage_bytes},
                       {"working_set", s.working_set_bytes},
                       {"limit", opt_u64(s.limit_bytes)}});
  }
  j["samples"] = std::move(samples);
  j["samples_total_in_range"] = window.size();
  j["floor"] = line_json(st.floor, q.since);
  j["trend"] = line_json(st.trend, std::nullopt);
  j["forecast"] = line_json(st.forecast, std::nullopt);

  const auto& d = st.detector;
  j["detector"] = {
      {"state", d.state},
      {"since", d.since ? json(core::to_unix_seconds(*d.since)) : json(nullptr)},
      {"explanation", d.explanation},
      {"slope_bytes_per_hour", d.slope_bytes_per_hour},
      {"slope_bytes_per_second", d.slope_bytes_per_hour / 3600.0},
      {"forecast_seconds", d.forecast_seconds ? json(*d.forecast_seconds) : json(nullptr)},
      {"confidence", d.confidence},
      {"window_seconds", d.window_seconds},
      {"floor_bytes", d.floor_bytes},
      {"peak_bytes", d.peak_bytes},
      {"oom_kills", d.oom_kills},
  };

  json markers = json::array();
  for (const auto& m : st.markers) {
    if (q.since && m.time < *q.since) continue;
    json mj = {{"t", core::to_unix_seconds(m.time)}, {"kind", m.kind}, {"label", m.label}};
    if (!m.snapshot_id.empty()) mj["snapshot_id"] = m.snapshot_id;
    markers.push_back(std::move(mj));
  }
  j["markers"] = std::move(markers);

  json caps = json::object();
  for (const auto& [k, v] : st.counters.captures)
    caps[k] = v;
  json alerts = json::array();
  for (const auto& [k, v] : st.counters.alerts) {
    alerts.push_back({{"sink", k.first}, {"result", k.second}, {"count", v}});
  }
  j["counters"] = {{"captures", caps},
                   {"alerts", alerts},
                   {"source_errors", st.counters.source_errors},
                   {"samples", st.counters.samples}};
  if (!st.heap_analysis.is_null()) {
    if (q.heap_details)
      j["analysis"] = st.heap_analysis;
    else
      j["redacted"] = json::array({"analysis"});
  }
  j["capture"] = st.capture.is_object() ? st.capture : json(nullptr);
  j["build"] = {{"version", st.build.version},
                {"revision", st.build.revision},
                {"compiler", st.build.compiler}};
  return j;
}

json snapshot_json(const SnapshotInfo& s, bool with_metadata, bool heap_details) {
  json j = {{"id", s.id},
            {"target", s.target},
            {"time", core::to_unix_seconds(s.started_at)},
            {"time_utc", core::format_utc(s.started_at)},
            {"duration_seconds", s.duration_seconds},
            {"reason", s.reason},
            {"reason_kind", s.reason_kind},
            {"size_bytes", s.size_bytes},
            {"stored_bytes", s.stored_bytes},
            {"compression", s.compression},
            {"sha256", s.sha256},
            {"file_name", s.file_name}};
  if (with_metadata) {
    j["metadata"] = s.metadata;
    if (!heap_details && s.metadata.is_object() && s.metadata.contains("analysis")) {
      j["metadata"].erase("analysis");
      j["redacted"] = json::array({"metadata.analysis"});
    }
  }
  return j;
}

}  // namespace leakwatch::api
