#pragma once
// Streaming parser for V8 .heapsnapshot files. The large arrays (nodes, edges, strings, locations)
// are tokenized straight into compact columns; only the small `snapshot` header goes through a JSON
// DOM. Plain and zstd-compressed input (magic 28 b5 2f fd) are accepted transparently. Hostile
// input (wrong field counts, indexes out of range, huge numbers, deep nesting, truncation) gives an
// Error with code "parse" (or "io" / "not_found"), never a crash or an allocation beyond the
// input's size.
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "leakwatch/core/result.h"
#include "leakwatch/heapsnap/snapshot.h"

namespace leakwatch::heapsnap {

struct ParseLimits {
  std::uint64_t max_nodes = 1ull << 31;
  std::uint64_t max_edges = 0xffffffffull;
  std::uint64_t max_strings = 1ull << 31;
  std::uint64_t max_string_bytes = 16ull << 30;  // total bytes of the strings table
  std::uint64_t max_header_bytes = 1 << 20;      // the `snapshot` object (meta)
  std::uint32_t max_depth = 256;                 // nesting of skipped values
};

// Parses a snapshot held in memory (plain JSON or a zstd frame).
core::Result<HeapSnapshot> parse_snapshot(std::string_view data, const ParseLimits& limits = {});

// Reads and parses a snapshot file (plain or zstd-compressed), streaming: the file is never held in
// memory whole. This is the single entry point the CLI uses, so an archive-id resolver can be put
// in front of it.
core::Result<HeapSnapshot> load_file(const std::filesystem::path& path,
                                     const ParseLimits& limits = {});

}  // namespace leakwatch::heapsnap
