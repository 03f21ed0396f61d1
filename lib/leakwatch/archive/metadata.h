#pragma once
// The JSON metadata file written beside every archived snapshot (<stem>.json).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/identity.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::archive {

enum class Compression { none, zstd };
const char* to_string(Compression c);

// Why a capture was taken. `kind` is "manual", "leak_series", "oom_imminent", "recovered", ...
struct Reason {
  std::string kind = "manual";
  int series_index = 0;  // k of n for a series (1-based), 0 otherwise
  int series_count = 0;
  std::string series_id;  // shared by the captures of one series (e.g. its start time)

  // "manual", "leak_series 2 of 3"
  std::string describe() const;
  // File-name form: "manual", "leak-series-2of3".
  std::string slug() const;
};

struct Metadata {
  int format = 1;
  std::string id;      // "<target>/<stem>", the stable id used on the CLI and in the API
  std::string target;  // archive folder name
  std::string file;    // snapshot file name inside the target folder
  core::TimePoint started_at{};
  core::TimePoint finished_at{};
  double duration_seconds = 0;
  Reason reason;
  std::optional<core::Sample> sample;  // memory figures at capture
  nlohmann::json detector_state;       // opaque, as given by the daemon (null when none)
  std::uint64_t size_bytes = 0;        // snapshot bytes as sent by the app
  std::uint64_t stored_bytes = 0;      // bytes of the file on disk
  std::string sha256;                  // of the snapshot as sent (uncompressed), lowercase hex
  std::string stored_sha256;           // of the file on disk
  Compression compression = Compression::none;
  int compression_level = 0;
  std::string original_filename;  // from Content-Disposition, sanitised; empty when absent
  std::string source;             // origin of the endpoint (scheme://host:port), never path or key
  int attempts = 1;               // HTTP attempts it took
  bool forced = false;            // taken with --force (headroom check overridden)
  // Added after the capture by the daemon: the diff against the first snapshot of the series
  // ({"base": id, "top_growers": [...]}, the heap snapshot engine's JSON). Null when none.
  nlohmann::json analysis;
  // Where the target ran (core/identity.h): the ECS task or the host. Empty when unknown (older
  // files, `leakwatch capture` outside the daemon).
  core::TargetIdentity identity;
  // Per-constructor counts and self sizes, computed while the snapshot was written
  // (heapsnap/stream_histogram.h, its JSON form). Null when none.
  nlohmann::json histogram;

  nlohmann::json to_json() const;
  static core::Result<Metadata> from_json(const nlohmann::json& j);
};

nlohmann::json sample_to_json(const core::Sample& s);
core::Sample sample_from_json(const nlohmann::json& j);

}  // namespace leakwatch::archive
