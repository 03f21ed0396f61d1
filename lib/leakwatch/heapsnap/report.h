#pragma once
// File-level entry points of the heap snapshot engine and their JSON forms: what the CLI prints and
// what the daemon attaches to a capture series. No globals: callable from a worker thread.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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

// V8's and Node's own categories, which no line of the app's code creates as such: "(synthetic)",
// "(compiled code)", "(system)", "(string)", "(array)", any other "(…)", "system / …" and the
// "Node / …" native wrappers. They are shown, but an alert's headline is a JavaScript constructor.
bool is_engine_internal(std::string_view class_name);

struct Grower {
  ClassDiff diff;
  std::uint64_t count = 0;          // instances in the target
  std::uint64_t self_size = 0;      // in the target
  std::uint64_t retained_size = 0;  // in the target
  bool internal = false;            // is_engine_internal(name)
  // The headline retainer path: the most common shortest path through JavaScript objects, or
  // the most common one when every path passes a native object.
  std::optional<RetainerPath> top_path;
  // Context when the headline path is through JavaScript objects: the most common path that
  // passes a native object (an open handle), and how many instances such paths hold.
  std::optional<RetainerPath> native_path;
  std::uint64_t native_instances = 0;
};

struct DiffReport {
  std::vector<ClassDiff> classes;  // every class that changed, by size delta descending
  // Classes with a positive size delta, at most top_n: those the app's code creates first (the
  // first is the headline), then V8's and Node's internal categories; each part by size delta.
  std::vector<Grower> top_growers;
  std::uint64_t base_nodes = 0;
  std::uint64_t target_nodes = 0;
  std::uint64_t base_total_size = 0;    // shallow sizes summed
  std::uint64_t target_total_size = 0;  // the target's root retained size
};

struct DiffOptions {
  std::size_t top_n = 10;
  std::size_t retainer_paths_for = 3;  // top growers (in top_growers' order) that get paths
};

// DevTools' Comparison view of BASE → TARGET (two snapshots of the same process), plus the top
// growers with their retained size in the target and their aggregated retainer paths. Never throws:
// the parser's errors, "too_large" (out of memory) and "failed" (anything else) are returned.
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
