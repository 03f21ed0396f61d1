#pragma once
// ECS task metadata endpoint v4: pure parsers for `/task` and `/task/stats` (and Docker's
// per-container stats JSON, which `/stats` relays), plus the assembly of a Sample for one named
// container. Both memory_stats key sets are accepted on every launch type: v1 (cache, rss,
// total_inactive_file, max_usage) and v2 (anon, file, inactive_file, no max_usage).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/identity.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::source {

struct EcsContainer {
  std::string name;          // the container definition's name ("Name")
  std::string docker_id;     // "DockerId": 64 hex (EC2) or "<task id>-<n>" (Fargate, Managed Inst.)
  std::string docker_name;   // "DockerName"
  std::string known_status;  // "RUNNING", "STOPPED", ...
  std::optional<std::uint64_t> limit_mib;     // container Limits.Memory when > 0
  std::optional<std::int64_t> restart_count;  // "RestartCount" (only with a restart policy)
  std::optional<std::int64_t> exit_code;      // "ExitCode": the last exit, when it has exited
  std::string image;                          // "Image"
  std::string image_id;                       // "ImageID": the manifest digest "sha256:..."
};

struct EcsTask {
  std::string task_arn;
  std::string cluster;                     // "Cluster": an ARN or a short name
  std::string family;                      // "Family"
  std::string revision;                    // "Revision"
  std::string service_name;                // "ServiceName" (agent 1.63.1+; may be absent)
  std::string availability_zone;           // "AvailabilityZone" (may be absent on EC2)
  std::string launch_type;                 // "EC2", "FARGATE", "MANAGED_INSTANCES" (may be empty)
  std::optional<std::uint64_t> limit_mib;  // task Limits.Memory when present and > 0
  std::vector<EcsContainer> containers;
};

// Errors: code parse (not JSON, not an object, no Containers array).
core::Result<EcsTask> parse_ecs_task(std::string_view json);

// The memory part of one Docker stats object.
struct EcsMemoryStats {
  std::string name;  // "name" without the leading "/" Docker puts on EC2
  std::uint64_t usage = 0;
  std::optional<std::uint64_t> limit;  // none when absent, 0 or >= kUnlimitedThreshold
  std::optional<std::uint64_t> max_usage;
  std::optional<std::uint64_t> inactive_file;  // total_inactive_file (v1) or inactive_file (v2)
  std::optional<std::uint64_t> anon;           // total_rss / rss (v1) or anon (v2)
  int key_set = 0;                             // 1 or 2 (which memory_stats.stats keys), 0 unknown
};

// The identity of container `container` in the task (core/identity.h): cluster (short name),
// service, family, revision, task ARN and id, container name, DockerId, image and digest, AZ,
// launch type. Only names: labels, environment and log options stay out. Errors: parse (no TaskARN
// or Family), no_container.
core::Result<core::TargetIdentity> ecs_identity(const EcsTask& task, std::string_view container);

// One stats object. nullopt = the container is not running: the value is `null` (Fargate, Managed
// Instances), `{}` (EC2, stopped), or a Docker zero object with `memory_stats: {}`.
// Errors: code parse (not JSON, wrong types).
core::Result<std::optional<EcsMemoryStats>> parse_docker_stats(std::string_view json);

// `/task/stats`: a map from DockerId to stats object (or null).
struct EcsStatsEntry {
  std::string docker_id;
  std::optional<EcsMemoryStats> stats;  // nullopt: null / {} (not running)
};
core::Result<std::vector<EcsStatsEntry>> parse_ecs_task_stats(std::string_view json);

// The Sample of container `name`: the task entry by name, its stats by DockerId (by Docker name as
// a fallback). Limit: the container's own (stats limit, else Limits.Memory), capped by the task's
// Limits.Memory, which bounds every container of the task. instance = DockerId (plus
// "#restart=<n>" when RestartCount is present). `time` = now; `restarted` false (the source sets
// it). Errors: no_container (lists the names present), not_running (null/{} stats or no stats entry
// for a STOPPED/PENDING container), parse.
core::Result<core::Sample> ecs_sample(const EcsTask& task, const std::vector<EcsStatsEntry>& stats,
                                      std::string_view container, core::TimePoint now);

// OOM kills of a container that ECS restarts in place (container restart policy), which Docker
// stats cannot show: the task metadata's `RestartCount` grows by one per restart (at most one per
// restartAttemptPeriod, at least 60 s, so one poll never hides two). A restart counts as an OOM
// kill when the container reports `ExitCode` 137 (SIGKILL, what the kernel's OOM killer sends),
// or when the sample before the restart had a working set (usage minus inactive file cache) at or
// above kNearLimit of its limit: the kernel kills at the limit, once the cache is reclaimed. The
// second rule is needed because the ECS agent restarts the container before it records the exit
// code (agent/engine/task_manager.go). The count starts at 0 when `RestartCount` is first seen,
// so earlier restarts are history, not new kills; without `RestartCount` (no restart policy) there
// is no count.
class EcsOomTracker {
 public:
  static constexpr double kNearLimit = 0.9;
  // `previous`: the last sample of the container before this reading (none at the first).
  // Returns the cumulative count to report as Sample::oom_kill_count, or nullopt.
  std::optional<std::uint64_t> observe(const EcsContainer& container,
                                       const std::optional<core::Sample>& previous);
  // A cgroup-derived count of the same kills (when a source has both) is not added to: the larger
  // of the two stands for both, so one kill seen twice counts once.
  static std::optional<std::uint64_t> merge(std::optional<std::uint64_t> cgroup,
                                            std::optional<std::uint64_t> ecs);

 private:
  std::optional<std::int64_t> last_restart_count_;
  std::uint64_t kills_ = 0;
};

}  // namespace leakwatch::source
