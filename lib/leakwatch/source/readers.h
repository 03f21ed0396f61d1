#pragma once
// File readers of the cgroup and procfs sources. Every path is resolved under an injectable root
// directory (tests use fixture trees; only the composition root says "/").
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"
#include "leakwatch/source/parse.h"

namespace leakwatch::source {

// root + an absolute or relative path inside it ("/" + "/sys/fs/cgroup" = "/sys/fs/cgroup").
std::filesystem::path under_root(const std::filesystem::path& root, std::string_view path);

// The memory cgroup directory of process `pid` ("self" = leakwatch itself), from
// <root>/proc/<pid>/cgroup and <root>/proc/<pid>/mountinfo (mountinfo of `mountinfo_pid`, "self" by
// default: it is the mount table leakwatch sees). Returns the directory under `root`.
core::Result<std::filesystem::path> discover_cgroup(const std::filesystem::path& root,
                                                    std::string_view pid = "self");

// 2 when <dir>/memory.current exists, 1 for <dir>/memory.usage_in_bytes. Errors: not_found (no
// such directory: the cgroup vanished or is not created yet), no_memcg (a cgroup directory without
// the memory controller's files, e.g. a v2 group whose parent does not delegate "memory").
core::Result<int> detect_cgroup_version(const std::filesystem::path& dir);

// Which memory limit a read reports: the lowest on the way up (what kills the group's processes;
// v1's hierarchical_memory_limit, v2's parents' memory.max), or the group's own alone (a limit
// shared with sibling groups is not this group's to spend).
enum class Limit { inherited, own };

// Reads the memory files of a v1 or v2 cgroup directory into a Sample (time, instance and
// restarted are left to the caller).
core::Result<core::Sample> read_cgroup(const std::filesystem::path& dir, int version,
                                       Limit limit = Limit::inherited);

}  // namespace leakwatch::source
