#pragma once
// `leakwatch replay`: run the detector over a recorded CSV trace (trace_csv.h) exactly as the
// daemon feeds it, and write one JSON line per state change (DESIGN.md, fixed format). A restart or
// OOM kill seen in the trace is written too (`"restarted": true`), with the current state. Pure:
// the caller owns the streams.
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>

#include "leakwatch/core/result.h"
#include "leakwatch/detect/settings.h"

namespace leakwatch::detect {

struct ReplaySummary {
  std::uint64_t samples = 0;
  std::uint64_t lines_written = 0;
  std::optional<double> first_leak_t;  // timestamp of the first `leak_suspected` line
};

// Errors carry the CSV line number ("line 12: bad usage_bytes 'abc'"); lines written before the
// error stay written.
core::Result<ReplaySummary> replay(std::istream& trace, const DetectorSettings& settings,
                                   std::ostream& out);

}  // namespace leakwatch::detect
