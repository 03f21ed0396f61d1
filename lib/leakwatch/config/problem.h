#pragma once
// One configuration problem or warning, as every command prints it: file:line:column: key: message.
// Kept apart from reader.h so that including config.h does not pull in yaml-cpp.
#include <string>

namespace leakwatch::config {

struct Problem {
  std::string file;
  int line = 0;          // 1-based; 0 = whole file
  int column = 0;        // 1-based
  std::string key_path;  // e.g. "capture.cooldown" or "alerts.slack[0].webhook_url"
  std::string message;
  std::string to_string() const;
};

}  // namespace leakwatch::config
