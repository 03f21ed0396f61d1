// libFuzzer target: the configuration loader (YAML parsing, every section's reader, duration and
// size parsing, ${VAR} expansion) must never crash, hang or allocate without bound on any input.
// Secrets are not resolved, so no file or variable named by the input is read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "leakwatch/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace leakwatch::config;
  LoadOptions options;
  options.resolve_secrets = false;
  auto r =
      load_string(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml", options);
  // Every problem renders (file:line:column: key: message) without throwing.
  for (const auto& p : r.problems)
    (void)p.to_string();
  return 0;
}
