#pragma once
// File-level entry points of the heap snapshot engine and their JSON forms: what the CLI prints and
// what the daemon attaches to a capture series. No globals: callable from a worker thread.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/heapsnap/analysis.h"
#include "leakwatch/heapsnap/parser.h"
#include "leakwatch/heapsnap/retainers.h"

namespace leakwatch::heapsnap {

// Summary of one snapshot file (DevTools' Summary view).
core::Result<Summary> summarize_file(const std::filesystem::path& path);

// Retainer paths of a class in one snapshot file.
core::Result<RetainerReport> retainers_file(const std::filesystem::path& path,
                                            const std::string& class_name,
                                            const RetainerOptions& options = {});

struct Grower {
  ClassDiff diff;
  std::uint64_t count = 0;               // instances in the target
  std::uint64_t self_size = 0;           // in the target
  std::uint64_t retained_size = 0;       // in the target
  std::optional<RetainerPath> top_path;  // the most common shortest retainer path in the target
};

struct DiffReport {
  std::vector<ClassDiff> classes;   // every class that changed, by size delta descending
  std::vector<Grower> top_growers;  // classes with a positive size delta, at most top_n
  std::uint64_t base_nodes = 0;
  std::uint64_t target_nodes = 0;
  std::uint64_t base_total_size = 0;    // shallow sizes summed
  std::uint64_t target_total_size = 0;  // the target's root retained size
};

struct DiffOptions {
  std::size_t top_n = 10;
  std::size_t retainer_paths_for = 1;  // top growers that get a retainer path
};

// DevTools' Comparison view of BASE → TARGET (two snapshots of the same process), plus the top
// growers with their retained size in the target and one aggregated retainer path.
core::Result<DiffReport> diff_files(const std::filesystem::path& base,
                                    const std::filesystem::path& target,
                                    const DiffOptions& options = {});

// Same, on snapshots already in memory.
DiffReport diff_snapshots(const HeapSnapshot& base, const HeapSnapshot& target,
                          const DiffOptions& options = {});

nlohmann::json to_json(const Summary& summary);
nlohmann::json to_json(const DiffReport& report);
nlohmann::json to_json(const RetainerReport& report);
nlohmann::json to_json(const RetainerPath& path);

}  // namespace leakwatch::heapsnap
