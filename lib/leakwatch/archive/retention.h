#pragma once
// Retention, as a pure function: which archived captures to remove, and why. No I/O; `now` is a
// parameter. Rules, applied in order:
//   1. age:   started before now - max_age;
//   2. count: beyond the newest max_per_target of a target;
//   3. bytes: while the stored bytes of what is left exceed max_total_bytes, the oldest capture
//             overall that is not the newest of its target.
// The newest capture of a target survives rules 2 and 3 (you always keep the latest evidence).
#include <string>
#include <vector>

#include "leakwatch/archive/metadata.h"
#include "leakwatch/archive/settings.h"

namespace leakwatch::archive {

struct Removal {
  std::string id;
  std::string rule;  // "age", "count", "bytes"
  std::uint64_t stored_bytes = 0;
};

std::vector<Removal> plan_retention(const std::vector<Metadata>& entries,
                                    const ArchiveSettings& settings, core::TimePoint now);

}  // namespace leakwatch::archive
