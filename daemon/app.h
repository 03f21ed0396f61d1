#pragma once
// The composition root of `leakwatch run`: builds every object from a validated Config, wires them
// with plain calls, and owns the signal handling (SIGTERM/SIGINT graceful stop, SIGHUP reload) and
// the systemd notifications.
#include <optional>
#include <string>

namespace leakwatch::cli {

struct RunOptions {
  std::string config_file;  // empty: $LEAKWATCH_CONFIG_YAML, else the embedded default
  std::optional<std::string> listen_override;      // --listen
  std::optional<std::string> log_format_override;  // --log-format
};

// Runs the daemon until a stop signal; returns the process exit code.
int run_daemon(const RunOptions& options);

}  // namespace leakwatch::cli
