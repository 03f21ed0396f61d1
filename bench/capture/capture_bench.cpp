// Capture throughput and peak RSS while capturing large bodies from a local peer (the real Node.js
// heap-dump app in synthetic mode), with and without zstd. Target: RSS grows by at most 16 MiB
// whatever the size (the body is streamed to disk, never held in memory).
//
//   capture_bench [SIZE_MB...]      default: 100 1000
// Prints one line per run: size, compression, MB/s, stored size, peak RSS growth.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/core/fs.h"
#include "leakwatch/core/log.h"
#include "peers/heapdump-app/heapdump_app.h"
#include "rss.h"

using namespace leakwatch;

using bench::reset_hwm;
using bench::rss_kib;

int main(int argc, char** argv) {
  std::vector<long> sizes;
  for (int i = 1; i < argc; ++i)
    sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {100, 1000};
  spdlog::set_level(spdlog::level::warn);
  core::logger("capture")->set_level(spdlog::level::warn);

  leakwatch::testing::HeapdumpApp app({"--key", "bench-key"});
  if (!app.ok()) {
    std::fprintf(stderr, "cannot start the heapdump app: %s\n", app.error().c_str());
    return 1;
  }
  auto dir = std::filesystem::temp_directory_path() / "leakwatch-capture-bench";
  std::filesystem::remove_all(dir);
  archive::ArchiveSettings as;
  as.dir = dir.string();
  archive::Archive arch(as);
  if (!arch.open().ok()) return 1;
  core::SystemClock clock;

  std::printf("%-8s %-6s %10s %12s %16s\n", "size", "zstd", "MB/s", "stored", "rss_growth_MiB");
  for (long mb : sizes) {
    for (bool compress : {false, true}) {
      app.set_mode("synthetic", {{"bytes", std::to_string(mb * 1000 * 1000)}});
      capture::CaptureSettings s;
      s.url = app.url();
      s.key = core::Secret("bench-key", "bench");
      s.compress = compress;
      s.total_timeout = std::chrono::minutes(30);
      s.retries = 0;
      reset_hwm();
      auto [rss0, hwm0] = rss_kib();
      (void)hwm0;
      capture::CaptureRequest req;
      req.target = "bench";
      auto r = capture::capture_sync(s, arch, clock, req);
      auto [rss1, hwm1] = rss_kib();
      (void)rss1;
      if (!r.ok()) {
        std::fprintf(stderr, "capture failed: %s\n", r.error().to_string().c_str());
        return 1;
      }
      double mbps = static_cast<double>(r->size_bytes) / 1e6 / r->duration_seconds;
      std::printf("%-8s %-6s %10.1f %12s %16.1f\n", (std::to_string(mb) + "MB").c_str(),
                  compress ? "yes" : "no", mbps,
                  std::to_string(r->stored_bytes / 1000000).append("MB").c_str(),
                  static_cast<double>(hwm1 - rss0) / 1024.0);
      std::fflush(stdout);
      arch.remove(r->id);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
