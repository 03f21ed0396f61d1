// leakwatch check-config [FILE]: every problem at once (file:line:column: key: message), exit 78;
// a short summary and exit 0 when valid. Without FILE it checks $LEAKWATCH_CONFIG_YAML, the way
// containers pass the configuration (exit 78 when that is not set either).
#include <cstdio>

#include "commands.h"
#include "config_load.h"
#include "config_summary.h"
#include "leakwatch/config/config.h"

namespace leakwatch::cli {

void register_config_commands(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("check-config", "Validate a configuration file and print every problem");
  static std::string file;
  cmd->add_option("FILE", file, "YAML configuration file (default: $LEAKWATCH_CONFIG_YAML)");
  cmd->callback([&exit_code] {
    std::string origin;
    auto r = read_config(file, false, origin);
    if (!r) {
      std::fprintf(stderr, "error: no configuration: give a FILE or set LEAKWATCH_CONFIG_YAML\n");
      exit_code = kExitConfig;
      return;
    }
    exit_code = report_config_problems(*r);
    if (exit_code == kExitOk) std::fputs(summarize_config(*r->config, origin).c_str(), stdout);
  });
}

}  // namespace leakwatch::cli
