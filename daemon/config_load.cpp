#include "config_load.h"

#include <cstdio>
#include <cstdlib>

#include "commands.h"

namespace leakwatch::cli {

std::optional<config::LoadResult> read_config(const std::string& file, bool embedded_default,
                                              std::string& origin) {
  if (!file.empty()) {
    origin = file;
    return config::load_file(file);
  }
  if (const char* yaml = std::getenv("LEAKWATCH_CONFIG_YAML"); yaml && *yaml) {
    origin = "$LEAKWATCH_CONFIG_YAML";
    return config::load_string(yaml, origin);
  }
  if (!embedded_default) return std::nullopt;
  origin = "<embedded default>";
  return config::load_string(config::embedded_default_yaml(), origin);
}

int report_config_problems(const config::LoadResult& r) {
  for (const auto& w : r.warnings)
    std::fprintf(stderr, "warning: %s\n", w.to_string().c_str());
  for (const auto& p : r.problems)
    std::fprintf(stderr, "error: %s\n", p.to_string().c_str());
  if (!r.problems.empty() || !r.config) {
    std::fprintf(stderr, "%zu problem%s found; configuration not valid\n", r.problems.size(),
                 r.problems.size() == 1 ? "" : "s");
    return kExitConfig;
  }
  return kExitOk;
}

std::optional<config::Config> load_config_file(const std::string& file,
                                               const config::LoadOptions& options) {
  auto r = config::load_file(file, options);
  if (report_config_problems(r) != kExitOk) return std::nullopt;
  return std::move(r.config);
}

}  // namespace leakwatch::cli
