#pragma once
// Logging: spdlog, one named logger per module, key=value messages, a bounded async queue that
// drops rather than blocks, optional JSON lines. No std::cerr in lib/.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace leakwatch::core {

enum class LogFormat { text, json };

struct LogOptions {
  LogFormat format = LogFormat::text;
  spdlog::level::level_enum level = spdlog::level::info;
  bool async = false;  // the daemon uses a bounded async queue (overrun drops the oldest)
};

// Configures the sink shared by all module loggers (stderr). Safe to call again (SIGHUP).
void init_logging(const LogOptions& options);

// The logger of a module ("source", "detect", "capture", ...), created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace leakwatch::core
