#pragma once
// Settings of the snapshot archive (YAML section `archive:`). `dir` is a fixed name (DESIGN.md).
// Retention limits: 0 means "no limit" for that rule. The newest capture of a target is never
// removed by the count or total-bytes rules (only by age), and a capture in progress never is.
#include <chrono>
#include <cstdint>
#include <string>

namespace leakwatch::archive {

struct ArchiveSettings {
  // Root of the archive tree: <dir>/<target>/<UTC time>-<reason>.heapsnapshot[.zst] + .json.
  // Default /var/lib/leakwatch/archive.
  std::string dir = "/var/lib/leakwatch/archive";
  // Keep at most this many captures per target (oldest removed first). Default 20.
  int max_per_target = 20;
  // Keep the stored bytes of the whole archive under this (oldest removed first). Default 20Gi.
  std::uint64_t max_total_bytes = 20ull << 30;
  // Remove captures older than this. Default 30 days.
  std::chrono::seconds max_age{std::chrono::hours(24 * 30)};
};

}  // namespace leakwatch::archive
