// leakwatch check-config [FILE]: every problem at once (file:line:column: key: message), exit 78;
// a short summary and exit 0 when valid. Without FILE it checks $LEAKWATCH_CONFIG_YAML, the way
// containers pass the configuration (exit 78 when that is not set either).
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "config_summary.h"
#include "leakwatch/config/config.h"

namespace leakwatch::cli {

int report_config_problems(const config::LoadResult& r) {
  for (const auto& w : r.warnings)
    std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
  for (const auto& p : r.problems)
    std::fprintf(stderr, "error: %s\n", p.to_string().c_str());
  if (!r.problems.empty()) {
    std::fprintf(stderr, "%zu problem%s found; configuration not valid\n", r.problems.size(),
                 r.problems.size() == 1 ? "" : "s");
    return kExitConfig;
  }
  return kExitOk;
}

void register_config_commands(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("check-config", "Validate a configuration file and print every problem");
  static std::string file;
  cmd->add_option("FILE", file, "YAML configuration file (default: $LEAKWATCH_CONFIG_YAML)");
  cmd->callback([&exit_code] {
    config::LoadResult r;
    std::string origin = file;
    if (!file.empty()) {
      r = config::load_file(file);
    } else if (const char* yaml = std::getenv("LEAKWATCH_CONFIG_YAML"); yaml && *yaml) {
      origin = "$LEAKWATCH_CONFIG_YAML";
      r = config::load_string(yaml, origin);
    } else {
      std::fprintf(stderr, "error: no configuration: give a FILE or set LEAKWATCH_CONFIG_YAML\n");
      exit_code = kExitConfig;
      return;
    }
    exit_code = report_config_problems(r);
    if (exit_code == kExitOk) std::fputs(summarize_config(*r.config, origin).c_str(), stdout);
  });
}

}  // namespace leakwatch::cli
