// leakwatch: argv only. Everything else lives in lib/ and the per-family command files.
#include <sys/prctl.h>

#include <cstdio>

#include "commands.h"
#include "leakwatch/core/log.h"

int main(int argc, char** argv) {
  // A core dump would write the heap-dump key, the API token and webhook secrets to disk; not
  // dumpable also keeps other processes of the same user out of /proc/<pid>/mem.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  CLI::App app{"leakwatch: container memory watchdog for garbage-collected services", "leakwatch"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "leakwatch " LEAKWATCH_VERSION " (" LEAKWATCH_GIT_REVISION ")");
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
