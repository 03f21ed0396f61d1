#pragma once
// Pure parsers for the kernel's memory files: strings in, values out, no I/O (oomd-style
// "...FromLines"). The readers (readers.h) feed them file contents read under an injectable
// root.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::source {

// Any limit at or above 2^62 means "no limit": the cgroup v1 sentinel 9223372036854771712 (page-
// aligned LONG_MAX), its float-rounded JSON form 9223372036854772000, LONG_MAX itself.
inline constexpr std::uint64_t kUnlimitedThreshold = std::uint64_t{1} << 62;
inline bool is_unlimited(std::uint64_t v) {
  return v >= kUnlimitedThreshold;
}

// A single unsigned decimal, surrounding whitespace allowed ("134217728\n").
core::Result<std::uint64_t> parse_u64(std::string_view text);
// A limit file: "max" (v2) or a number; nullopt = no limit (see kUnlimitedThreshold).
core::Result<std::optional<std::uint64_t>> parse_limit(std::string_view text);

// "key value" lines (memory.stat, memory.events, memory.oom_control). Keys in any order and any
// number; blank lines ignored; a line that is not "key <unsigned>" is an error naming the line.
using KeyValues = std::map<std::string, std::uint64_t, std::less<>>;
core::Result<KeyValues> parse_key_values(std::string_view text);

// ---- cgroup sample assembly (file contents -> Sample, without time/instance/restart) ----------

// Usage less the inactive file pages the kernel can reclaim, never below 0.
std::uint64_t working_set(std::uint64_t usage, std::optional<std::uint64_t> inactive_file);
// What a limit shared by a group of containers or cgroups (an ECS task's, a parent cgroup's)
// leaves one of them whose working set is `own`, when the others' working sets add up to
// `others`: the limit less theirs, at least its own.
std::uint64_t shared_limit_left(std::uint64_t limit, std::uint64_t others, std::uint64_t own);

// The texts of a v1 memory cgroup's files; nullopt = file absent (only usage is required).
struct CgroupV1Texts {
  std::string usage_in_bytes;
  std::optional<std::string> limit_in_bytes;
  std::optional<std::string> stat;
  std::optional<std::string> max_usage_in_bytes;
  std::optional<std::string> oom_control;
  std::optional<std::string> failcnt;  // memory.failcnt -> limit_hit_count
};
struct CgroupV2Texts {
  std::string current;
  std::optional<std::string> max;
  std::optional<std::string> stat;
  std::optional<std::string> peak;
  std::optional<std::string> events;
};
// usage = memory.usage_in_bytes; working set = usage - total_inactive_file (inactive_file when the
// total_ key is absent), never below 0; anon = total_rss (rss); limit none when unlimited; peak =
// max_usage_in_bytes; oom_kill_count from oom_control's "oom_kill" (absent on kernels < 4.13).
core::Result<core::Sample> sample_from_v1(const CgroupV1Texts& texts);
// usage = memory.current; working set = usage - inactive_file; anon = anon; limit = memory.max;
// peak = memory.peak; oom_kill_count = memory.events "oom_kill"; limit_hit_count = memory.events
// "max".
core::Result<core::Sample> sample_from_v2(const CgroupV2Texts& texts);

// ---- own-cgroup discovery ----------------------------------------------------------------------

// One line of /proc/<pid>/cgroup: "hierarchy-id:controller,list:/path" ("0::/path" is v2).
struct ProcCgroupEntry {
  int hierarchy = 0;
  std::vector<std::string> controllers;  // empty for the v2 line
  std::string path;
};
core::Result<std::vector<ProcCgroupEntry>> parse_proc_cgroup(std::string_view text);

// A cgroup or cgroup2 line of /proc/<pid>/mountinfo (other file systems are skipped).
struct CgroupMount {
  std::string root;         // the hierarchy path mounted (field 4), e.g. "/" or "/docker/<id>"
  std::string mount_point;  // where (field 5), octal escapes decoded
  std::string fs_type;      // "cgroup" or "cgroup2"
  std::vector<std::string> super_options;  // v1: the controllers ("rw", "memory", ...)
};
core::Result<std::vector<CgroupMount>> parse_mountinfo_cgroups(std::string_view text);

// Where the memory cgroup of a process is mounted, from its /proc/<pid>/cgroup entries and the
// mounts: the v1 "memory" hierarchy when the process has one and it is mounted, else the v2 line.
// The process path is taken relative to the mount's root (the longest root that is a prefix of
// it, so a container's bind mount of its own cgroup and "/.."-relative cgroup-namespace paths both
// resolve). `version` is 1 or 2. The result may still need a suffix search when the namespace
// hides the true path: see CgroupLocation::unresolved_suffix.
struct CgroupLocation {
  int version = 0;
  std::string mount_point;  // e.g. /sys/fs/cgroup/memory
  std::string relative;     // path under mount_point ("" = the mount point itself)
  // Set when the process path climbs above the namespace root ("/../../x/y"): when
  // mount_point/relative does not exist, the reader searches under the mount point for a
  // directory whose path ends in this suffix ("x/y").
  std::string unresolved_suffix;
};
core::Result<CgroupLocation> locate_memory_cgroup(const std::vector<ProcCgroupEntry>& entries,
                                                  const std::vector<CgroupMount>& mounts);

// ---- procfs ------------------------------------------------------------------------------------

// /proc/<pid>/status: the kB values used by the procfs source, in bytes.
struct ProcStatus {
  std::string name;
  std::optional<std::uint64_t> vm_rss;
  std::optional<std::uint64_t> vm_hwm;
  std::optional<std::uint64_t> rss_anon;
  std::optional<std::uint64_t> rss_file;
  std::optional<std::uint64_t> rss_shmem;
};
// Errors: no VmRSS line (kernel threads and zombies have none: code not_running), garbage values.
core::Result<ProcStatus> parse_proc_status(std::string_view text);
// Field 22 (starttime, clock ticks since boot) of /proc/<pid>/stat; the comm field may hold spaces
// and parentheses, so fields are counted after the last ')'.
core::Result<std::uint64_t> parse_proc_stat_start_time(std::string_view text);

}  // namespace leakwatch::source
