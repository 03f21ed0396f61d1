#pragma once
#include <string>

#include "leakwatch/config/config.h"

namespace leakwatch::cli {

// A few lines a person reads after check-config: what is watched, how, where things go.
// Never includes secret values (only where they come from).
std::string summarize_config(const config::Config& c, const std::string& file);
// Prints warnings and problems to stderr; returns kExitConfig when there are problems.
int report_config_problems(const config::LoadResult& r);

}  // namespace leakwatch::cli
