#include "config_summary.h"

#include <fmt/format.h>

#include "leakwatch/core/units.h"

namespace leakwatch::cli {

std::string summarize_config(const config::Config& c, const std::string& file) {
  std::string s = fmt::format("{}: configuration is valid\n", file);
  s += fmt::format("  poll interval   {}\n",
                   core::format_duration_seconds(c.poll_interval.count() / 1000.0));
  s += fmt::format("  state dir       {}\n", c.state_dir);
  s += fmt::format("  detection       window {}..{}, confirm after {}\n",
                   core::format_duration(c.detection.min_window),
                   core::format_duration(c.detection.max_window),
                   core::format_duration(c.detection.confirm_window));
  s += fmt::format("  api             {}{}\n", c.server.enabled ? c.server.listen : "disabled",
                   c.server.token.empty()
                       ? " (no token: snapshot downloads disabled)"
                       : fmt::format(" (token from {})", c.server.token.origin()));
  return s;
}

}  // namespace leakwatch::cli
