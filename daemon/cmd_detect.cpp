// `leakwatch replay TRACE.csv [--config FILE]`: run the detector over a recorded trace, exactly as
// the daemon would, and print one JSON line per state change (DESIGN.md, fixed).
#include <cstdio>
#include <fstream>
#include <string>

#include "commands.h"
#include "leakwatch/config/config.h"
#include "leakwatch/detect/detector.h"
#include "leakwatch/detect/trace_csv.h"

namespace leakwatch::cli {
namespace {

int run_replay(const std::string& trace_path, const std::string& config_path) {
  detect::DetectorSettings settings;
  if (!config_path.empty()) {
    auto loaded = config::load_file(config_path);
    if (!loaded.config) {
      for (const auto& p : loaded.problems)
        std::fprintf(stderr, "%s\n", p.to_string().c_str());
      if (loaded.problems.empty())
        std::fprintf(stderr, "%s: invalid configuration\n", config_path.c_str());
      return kExitConfig;
    }
    settings = loaded.config->detection;
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
  auto reader = detect::TraceReader::open(in);
  if (!reader) {
    std::fprintf(stderr, "%s: %s\n", trace_path.c_str(), reader.error().message.c_str());
    return kExitFailure;
  }
  detect::Detector detector(settings);
  core::Sample sample;
  bool first = true;
  std::string out;
  while (true) {
    auto more = reader->next(sample);
    if (!more) {
      std::fflush(stdout);
      std::fprintf(stderr, "%s: %s\n", trace_path.c_str(), more.error().message.c_str());
      return kExitFailure;
    }
    if (!*more) break;
    const detect::Decision d = detector.observe(sample);
    // One line per state change; a restart or OOM kill is reported too (with the current state),
    // since the detector starts a new epoch of history there.
    if (first || d.changed || d.restarted) {
      nlohmann::json j = d.to_json();
      j["t"] = core::to_unix_seconds(sample.time);
      out = j.dump();
      out.push_back('\n');
      std::fwrite(out.data(), 1, out.size(), stdout);
      first = false;
    }
  }
  std::fflush(stdout);
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
