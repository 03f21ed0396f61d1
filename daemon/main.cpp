// leakwatch: argv only. Everything else lives in lib/ and the per-family command files.
#include <cstdio>

#include "commands.h"
#include "leakwatch/core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"leakwatch: container memory watchdog for garbage-collected services", "leakwatch"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "leakwatch 0.1.0");
  int exit_code = leakwatch::cli::kExitOk;

  leakwatch::cli::register_run_commands(app, exit_code);
  leakwatch::cli::register_config_commands(app, exit_code);
  leakwatch::cli::register_source_commands(app, exit_code);
  leakwatch::cli::register_detect_commands(app, exit_code);
  leakwatch::cli::register_capture_commands(app, exit_code);
  leakwatch::cli::register_alert_commands(app, exit_code);
  leakwatch::cli::register_heapsnap_commands(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : leakwatch::cli::kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return leakwatch::cli::kExitUsage;
  }
  return exit_code;
}
