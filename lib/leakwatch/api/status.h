#pragma once
// JSON views of the state and the archive (pure functions, no I/O).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "leakwatch/api/snapshot_store.h"
#include "leakwatch/api/state.h"

namespace leakwatch::api {

struct StatusQuery {
  std::optional<core::TimePoint> since;  // only samples, floor points and markers at or after
  std::size_t max_points = 2000;         // samples are downsampled (min and max per bucket) above
  // Include heap-derived data (class names, retainer paths): only for a bearer of the token.
  bool heap_details = false;
};

// Keeps at most `max_points` samples: the range is cut into max_points/2 time buckets and each
// bucket keeps its lowest and its highest usage sample (in time order), so the sawtooth's floor
// and peaks survive. Fewer samples than max_points are returned unchanged.
std::vector<engine::StatusSample> downsample(const std::vector<engine::StatusSample>& samples,
                                             std::size_t max_points);

// GET /api/v1/status
nlohmann::json status_json(const engine::Status& state, const StatusQuery& query);

// With metadata, its "analysis" (what grew, with class names and retainer paths) is kept only
// when `heap_details`; otherwise it is dropped and "redacted": ["metadata.analysis"] says so.
nlohmann::json snapshot_json(const SnapshotInfo& info, bool with_metadata,
                             bool heap_details = false);

}  // namespace leakwatch::api
