#include "config_summary.h"

#include <fmt/format.h>

#include "leakwatch/core/units.h"

namespace leakwatch::cli {

std::string summarize_config(const config::Config& c, const std::string& file) {
  std::string s = fmt::format("{}: configuration is valid\n", file);
  std::string what;
  switch (c.target.source) {
    case source::SourceKind::cgroup:
      what = c.target.cgroup_path.empty() ? "cgroup (leakwatch's own)"
                                          : "cgroup " + c.target.cgroup_path;
      break;
    case source::SourceKind::ecs:
      what = "ECS task metadata v4, container " + c.target.ecs_container;
      break;
    case source::SourceKind::procfs:
      what = c.target.pid ? "procfs pid " + std::to_string(*c.target.pid)
                          : "procfs pid file " + c.target.pid_file;
      break;
  }
  s += fmt::format("  target          {} via {}\n", c.target.name, what);
  s += fmt::format("  poll interval   {}\n",
                   core::format_duration_seconds(c.poll_interval.count() / 1000.0));
  s += fmt::format("  state dir       {}\n", c.state_dir);
  s += fmt::format("  detection       window {}..{}, confirm after {}\n",
                   core::format_duration(c.detection.min_window),
                   core::format_duration(c.detection.max_window),
                   core::format_duration(c.detection.confirm_window));
  if (c.capture.method == capture::Method::inspector) {
    s += fmt::format("  capture         inspector at {}{}\n", c.capture.inspector.url,
                     c.capture.inspector.activate == capture::InspectorSettings::Activate::sigusr1
                         ? " (opened with SIGUSR1 when closed)"
                         : "");
  } else if (c.capture.method == capture::Method::signal) {
    s +=
        fmt::format("  capture         signal {} (--heapsnapshot-signal)\n", c.capture.signal.name);
  } else if (c.capture.url.empty()) {
    s += "  capture         disabled (no capture.url)\n";
  } else {
    auto origin = c.capture.url.substr(0, c.capture.url.find('/', c.capture.url.find("://") + 3));
    s += fmt::format(
        "  capture         {} (key from {}), series of {} every {}, cooldown {}, daily cap {}\n",
        origin, c.capture.key.origin(), c.capture.series_count,
        core::format_duration(c.capture.series_spacing), core::format_duration(c.capture.cooldown),
        c.capture.daily_cap);
  }
  s += fmt::format("  archive         {} (keep {} per target, {} total, {})\n", c.archive.dir,
                   c.archive.max_per_target,
                   core::format_bytes(static_cast<double>(c.archive.max_total_bytes)),
                   core::format_duration(c.archive.max_age));
  s += fmt::format("  alerts          {} slack, {} webhook, {} alertmanager sink(s)\n",
                   c.alerts.slack.size(), c.alerts.webhooks.size(), c.alerts.alertmanager.size());
  s += fmt::format("  api             {}{}\n", c.server.enabled ? c.server.listen : "disabled",
                   c.server.token.empty()
                       ? " (no token: snapshot downloads disabled)"
                       : fmt::format(" (token from {})", c.server.token.origin()));
  return s;
}

}  // namespace leakwatch::cli
