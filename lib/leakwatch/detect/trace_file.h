#pragma once
// A whole trace file (trace_csv.h format) read into memory, plain or zstd-compressed (a name ending
// in ".zst"): the recorded real-runtime traces under tests/data/traces/real are stored compressed.
// For the benchmark and tests; the daemon and `leakwatch replay` stream instead.
#include <cstddef>
#include <string>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::detect {

// The file's text, decompressed when its name ends in ".zst". Refuses more than `max_bytes` of
// text (a compressed file is hostile input like any other).
core::Result<std::string> read_trace_text(const std::string& path,
                                          std::size_t max_bytes = std::size_t{1} << 30);
// Every sample of the file; errors name the file and the line.
core::Result<std::vector<core::Sample>> load_trace(const std::string& path);

}  // namespace leakwatch::detect
