#pragma once
// Shared figure formatting for the sinks (internal to the alert module).
#include <optional>
#include <string>

#include "leakwatch/alert/event.h"

namespace leakwatch::alert::detail {

// "812 MiB of 1 GiB (79%)", "812 MiB (no limit)".
std::string usage_line(const MemoryFigures& m);
// "~2h 10m", "no limit", "not reaching the limit".
std::string forecast_text(const Event& e);
// "+38 MiB/h".
std::string slope_text(double bytes_per_hour);
// "+12.3 MiB", "-1 KiB".
std::string signed_bytes(double bytes);
// The diff command proposed for a capture ("leakwatch diff A B"), empty when not possible.
std::string diff_command(const Event& e);
// What to do next, in plain words (mrkdwn-free), for the event type.
std::string next_step(const Event& e);
// dashboard_url without a trailing slash.
std::string join_url(const std::string& base, const std::string& path);

}  // namespace leakwatch::alert::detail
