#pragma once
// Units users expect in configuration: sizes ("512Mi", "2G", "1048576"), durations ("30s", "6h",
// "1h30m", "250ms"), percentages ("90%", "0.9").
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::core {

// Binary suffixes Ki Mi Gi Ti (1024^n), decimal k/K M G T (1000^n), optional trailing "B";
// plain integers are bytes. Fractions allowed ("1.5Gi").
Result<std::uint64_t> parse_size(std::string_view text);
// Units ms s m h d w; several may be chained ("1h30m"); a bare number is seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// "90%" -> 0.9; a bare number in [0,1] is a fraction.
Result<double> parse_percent(std::string_view text);

// Human formatting: 1536 -> "1.5 KiB", 3*3600s -> "3h", 5400s -> "1h 30m".
// `decimals` < 0: one decimal below 10 units, none above; otherwise that many decimals (not for
// plain bytes, which are whole).
std::string format_bytes(double bytes, int decimals = -1);
std::string format_duration(std::chrono::seconds d);
std::string format_duration_seconds(double seconds);

}  // namespace leakwatch::core
