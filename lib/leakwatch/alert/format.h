#pragma once
// Shared figure formatting for the sinks (internal to the alert module).
#include <optional>
#include <string>
#include <vector>

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
// A retainer path (outermost first, as in Grower::retainer_path) short enough for a chat line:
// the outermost step, then the `max_steps` - 1 steps nearest the instance, "…" for the middle;
// joined with " → ".
std::string short_path(const std::vector<std::string>& steps, std::size_t max_steps = 6);
// The S3 objects an alert names (CaptureFigures::s3_objects): the newest snapshot's, and, when the
// alert proposes a diff, the base's first. Empty without S3.
std::vector<const s3::ObjectLink*> shown_objects(const Event& e);
// What the alert says about an object's upload, in plain words: "uploaded", "upload pending: ...".
std::string upload_text(const s3::ObjectLink& o);
// "leakwatch diff s3://<base> s3://<new>" when the alert proposes a diff and both are, or will be,
// in S3 (neither is `not_uploaded`).
std::string s3_diff_command(const Event& e);
// dashboard_url without a trailing slash.
std::string join_url(const std::string& base, const std::string& path);

}  // namespace leakwatch::alert::detail
