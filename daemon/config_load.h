#pragma once
// How every command reads its configuration and prints what is wrong with it: one place, so that
// `run`, `check-config` and the tools name problems the same way (file:line:column: key: message,
// then a count) and exit 78.
#include <optional>
#include <string>

#include "leakwatch/config/config.h"

namespace leakwatch::cli {

// The configuration a command was given: `file`, else $LEAKWATCH_CONFIG_YAML, else the embedded
// default when `embedded_default` is true. `origin` names where it came from. Nothing to read
// (no file, no variable, no default) gives nullopt.
std::optional<config::LoadResult> read_config(const std::string& file, bool embedded_default,
                                              std::string& origin);

// Prints warnings and problems to stderr; returns kExitConfig when there are problems.
int report_config_problems(const config::LoadResult& r);

// Loads `file` and prints its warnings and problems: the configuration, or nullopt when it has
// problems (then the caller exits kExitConfig).
std::optional<config::Config> load_config_file(const std::string& file,
                                               const config::LoadOptions& options = {});

}  // namespace leakwatch::cli
