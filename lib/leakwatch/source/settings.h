#pragma once
// The `target:` section of the configuration: which process or container leakwatch watches and
// where its memory figures come from. YAML keys are the field names. The config loader maps YAML
// onto this struct; make_source() (source.h) builds the matching Source from it.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::source {

enum class SourceKind {
  cgroup,  // a memory cgroup, v1 or v2 (auto-detected)
  ecs,     // the ECS task metadata endpoint v4 (/task + /task/stats)
  procfs,  // /proc/<pid>/status of one process (hosts without a container boundary)
};

// "cgroup", "ecs", "procfs".
std::string_view to_string(SourceKind kind);
// The inverse of to_string; nullopt for anything else.
std::optional<SourceKind> parse_source_kind(std::string_view text);

struct TargetSettings {
  // Label of the target in archive paths, alerts and metrics. Default "app".
  std::string name = "app";
  // Where samples come from. Default cgroup.
  SourceKind source = SourceKind::cgroup;
  // source cgroup: the cgroup directory to read, e.g. /sys/fs/cgroup/memory/docker/<id> (v1) or
  // /sys/fs/cgroup/system.slice/app.service (v2). The version is detected from the files present
  // (memory.current = v2, memory.usage_in_bytes = v1). Default empty = leakwatch's own memory
  // cgroup, found through /proc/self/cgroup and /proc/self/mountinfo (the sidecar-in-the-same-
  // container case).
  std::string cgroup_path;
  // source ecs: the name of the watched container in the task (the `name` of the container
  // definition). Required for source ecs.
  std::string ecs_container;
  // source ecs: base URL of the task metadata endpoint v4. Default empty = the value of the
  // environment variable ECS_CONTAINER_METADATA_URI_V4 (set by the ECS agent in every container).
  std::string ecs_metadata_uri;
  // source ecs: time limit for each of the two requests (/task, /task/stats). Default 5s.
  std::chrono::milliseconds ecs_timeout{5000};
  // source procfs: the watched process id. Either pid or pid_file is required for source procfs.
  std::optional<int> pid;
  // source procfs: a file holding the pid (re-read at every poll, so a restarted service that
  // rewrites its pid file is followed). Default empty.
  std::string pid_file;
  // Filesystem root every path above is resolved under (/proc, /sys, pid_file). Default "/". Tests
  // point it at a fixture tree; a container with the host's /proc and /sys mounted at /host can use
  // "/host".
  std::filesystem::path root = "/";
};

}  // namespace leakwatch::source
