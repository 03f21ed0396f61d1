// leakwatch check-config FILE: every problem at once (file:line:column: key: message), exit 78;
// a short summary and exit 0 when valid.
#include <cstdio>

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
  cmd->add_option("FILE", file, "YAML configuration file")->required();
  cmd->callback([&exit_code] {
    auto r = config::load_file(file);
    exit_code = report_config_problems(r);
    if (exit_code == kExitOk) std::fputs(summarize_config(*r.config, file).c_str(), stdout);
  });
}

}  // namespace leakwatch::cli
