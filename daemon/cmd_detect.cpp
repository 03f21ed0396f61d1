// `leakwatch replay TRACE.csv [--config FILE]`: run the detector over a recorded trace, exactly as
// the daemon would, and print one JSON line per state change (DESIGN.md, fixed).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/config/config.h"
#include "leakwatch/detect/replay.h"

namespace leakwatch::cli {
namespace {

int run_replay(const std::string& trace_path, const std::string& config_path) {
  detect::DetectorSettings settings;
  if (!config_path.empty()) {
    // Only the detection section counts: secrets of the deployment need not resolve here.
    auto loaded = load_config_file(config_path, config::LoadOptions{.resolve_secrets = false});
    if (!loaded) return kExitConfig;
    settings = loaded->detection;
  }
  if (auto problems = detect::validate(settings); !problems.empty()) {
    for (const auto& p : problems)
      std::fprintf(stderr, "detection: %s\n", p.c_str());
    return kExitConfig;
  }
  std::ifstream in(trace_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open trace file\n", trace_path.c_str());
    return kExitFailure;
  }
  auto done = detect::replay(in, settings, std::cout);
  if (!done) {
    std::fprintf(stderr, "%s: %s\n", trace_path.c_str(), done.error().message.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void register_detect_commands(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "replay",
      "Run the leak detector over a recorded CSV trace; prints one JSON line per state change");
  auto trace = std::make_shared<std::string>();
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("trace", *trace,
                  "CSV with header: timestamp,usage_bytes[,limit_bytes][,working_set_bytes]")
      ->required();
  cmd->add_option("--config", *config_path,
                  "leakwatch YAML config (its detection: section is used)");
  cmd->callback([trace, config_path, &exit_code] { exit_code = run_replay(*trace, *config_path); });
}

}  // namespace leakwatch::cli
