#pragma once
// Every subcommand family registers itself on the CLI11 app from its own file (explicit wiring from
// main.cpp, no static initialisers). A command's callback stores its process exit code in
// `exit_code`.
#include <CLI/CLI.hpp>

namespace leakwatch::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 78;  // EX_CONFIG: systemd's RestartPreventExitStatus=78

// Each family, with its subcommands and the file it lives in:
// check-config (cmd_config.cpp)
void register_config_commands(CLI::App& app, int& exit_code);
// sample (cmd_source.cpp)
void register_source_commands(CLI::App& app, int& exit_code);
// replay (cmd_detect.cpp)
void register_detect_commands(CLI::App& app, int& exit_code);
// capture; snapshots list, show, export, prune (cmd_capture.cpp; the S3 listing in cmd_s3list.cpp)
void register_capture_commands(CLI::App& app, int& exit_code);
// alert test (cmd_alert.cpp)
void register_alert_commands(CLI::App& app, int& exit_code);
// summary, diff, retainers (cmd_heapsnap.cpp)
void register_heapsnap_commands(CLI::App& app, int& exit_code);
// run, healthcheck (cmd_run.cpp; the daemon itself is leakwatch::daemon::Daemon, app.cpp)
void register_run_commands(CLI::App& app, int& exit_code);

}  // namespace leakwatch::cli
