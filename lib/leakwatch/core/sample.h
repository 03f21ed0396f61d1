#pragma once
// One memory sample of the watched target, whatever the source.
#include <cstdint>
#include <optional>
#include <string>

#include "leakwatch/core/clock.h"

namespace leakwatch::core {

struct Sample {
  TimePoint time{};                     // wall time of the reading
  std::uint64_t usage_bytes = 0;        // cgroup usage (includes page cache), or RSS for procfs
  std::uint64_t working_set_bytes = 0;  // usage - inactive_file (docker CLI / cAdvisor / kubelet)
  std::optional<std::uint64_t> anon_bytes;      // anonymous memory where known
  std::optional<std::uint64_t> limit_bytes;     // none = no limit
  std::optional<std::uint64_t> peak_bytes;      // high-water mark where the source has one
  std::optional<std::uint64_t> oom_kill_count;  // cumulative OOM kills where known
  // Cumulative times usage hit the limit and the kernel had to reclaim (cgroup v2 memory.events
  // "max", v1 memory.failcnt) where known.
  std::optional<std::uint64_t> limit_hit_count;
  bool restarted = false;  // the target restarted since the previous sample (new id, new pid, ...)
  std::string instance;    // identity of the current incarnation (container id, pid, ...)
};

}  // namespace leakwatch::core
