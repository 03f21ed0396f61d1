#pragma once
// The replay trace format (DESIGN.md, fixed): CSV with a header; `timestamp` (unix seconds, may be
// fractional) and `usage_bytes` required; `limit_bytes` (0 or missing = no limit) and
// `working_set_bytes` optional; other columns ignored. Two more optional columns carry restarts:
// `oom_kill` (or `oom_kill_count`; the cumulative OOM-kill counter, as cgroup memory.events and
// memory.oom_control report it) and `restarted` (1/true on the first sample of a new incarnation).
// Two more carry reclaim: `failcnt` (or `limit_hit_count`; the cumulative count of charges that
// hit the limit, v1 memory.failcnt / v2 memory.events "max") and `inactive_file_bytes` (the
// reclaimable page cache; without a working_set_bytes value, the working set is usage minus it).
// `instance` names the process (pid, container id; at most 128 bytes): a change is a restart, and
// without an OOM-kill counter a drop from near the limit is a kill only when it changes.
// Pure parsing: the caller owns the stream.
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::detect {

class TraceReader {
 public:
  // Reads the header line. Errors name the line ("line 1: missing column usage_bytes").
  static core::Result<TraceReader> open(std::istream& in);
  // Next sample: true = `out` filled, false = end of input; errors carry the line number
  // (bad numbers, wrong column count, timestamps going backwards).
  core::Result<bool> next(core::Sample& out);
  std::uint64_t line() const { return line_; }

 private:
  explicit TraceReader(std::istream& in) : in_(&in) {}
  std::istream* in_;
  std::uint64_t line_ = 0;
  std::size_t columns_ = 0;
  int ts_ = -1, usage_ = -1, limit_ = -1, ws_ = -1, oom_ = -1, restarted_ = -1, hits_ = -1,
      inactive_ = -1, instance_ = -1;
  double last_t_ = -1e300;
  std::string buf_;
  std::vector<std::string_view> fields_;
};

}  // namespace leakwatch::detect
