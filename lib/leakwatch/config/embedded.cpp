#include "leakwatch/config/config.h"

namespace leakwatch::config {

// The configuration `leakwatch run` uses without --config: watch leakwatch's own memory cgroup and
// print what it sees. Kept valid by a test.
const std::string& embedded_default_yaml() {
  static const std::string yaml =
      R"(# leakwatch embedded default: watch this process's own memory cgroup
poll_interval: 2s
state_dir: /tmp/leakwatch-state
server:
  listen: 127.0.0.1:9464
log:
  format: text
  level: debug   # prints every sample
)";
  return yaml;
}

}  // namespace leakwatch::config
