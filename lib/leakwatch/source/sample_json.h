#pragma once
// The JSON form of a Sample, shared by `leakwatch sample` and the HTTP API. Unknown values are
// null (limit_bytes null = no limit).
#include <nlohmann/json.hpp>

#include "leakwatch/core/sample.h"

namespace leakwatch::source {

// {"time": "2026-11-24T08:00:00Z", "time_unix": 1.79e9, "usage_bytes": ..., "working_set_bytes":
// ...,
//  "anon_bytes": ...|null, "limit_bytes": ...|null, "peak_bytes": ...|null,
//  "oom_kill_count": ...|null, "restarted": false, "instance": "...",
//  "working_set_percent_of_limit": 42.1|null}
nlohmann::json sample_to_json(const core::Sample& s);

}  // namespace leakwatch::source
