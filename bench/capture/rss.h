#pragma once
// This process's memory as the kernel counts it, for the capture benches: current RSS (VmRSS) and
// its high-water mark (VmHWM) in KiB, and a reset of the mark, so that a capture's peak growth is
// VmHWM after it minus VmRSS before it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "leakwatch/core/fs.h"

namespace leakwatch::bench {

inline std::pair<long, long> rss_kib() {
  auto s = core::read_file("/proc/self/status");
  if (!s.ok()) return {0, 0};
  auto field = [&](const char* name) {
    auto p = s->find(name);
    return p == std::string::npos ? 0L
                                  : std::strtol(s->c_str() + p + std::strlen(name), nullptr, 10);
  };
  return {field("VmRSS:"), field("VmHWM:")};
}

inline void reset_hwm() {
  // Writing 5 to clear_refs resets the peak RSS (Linux >= 4.0).
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

}  // namespace leakwatch::bench
