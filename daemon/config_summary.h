#pragma once
#include <string>

#include "leakwatch/config/config.h"

namespace leakwatch::cli {

// A few lines a person reads after check-config: what is watched, how, where things go.
// Never includes secret values (only where they come from).
std::string summarize_config(const config::Config& c, const std::string& file);

}  // namespace leakwatch::cli
