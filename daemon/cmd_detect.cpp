#include "commands.h"

namespace leakwatch::cli {

void register_detect_commands(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}

}  // namespace leakwatch::cli
