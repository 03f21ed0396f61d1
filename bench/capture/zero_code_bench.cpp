// One app, two capture methods: captures the same running Node.js app through its heap-dump route
// (capture.method http) and through its inspector (capture.method inspector), one after the
// other, with the daemon's capture code in this process, and reports for each the wall time, the
// snapshot size and this process's peak RSS growth during the capture (VmHWM after minus VmRSS
// before). Target: at most 16 MiB of growth whatever the heap (chunks are streamed to the archive,
// never held). run_500mb.sh starts the ~500 MB app and runs this.
//
//   zero_code_bench --http URL --key-env NAME --inspector URL [--order http,inspector]
//                   [--archive DIR] [--keep]
// Prints one line per capture and one JSON line per capture ("{"method":...}"). Exit 1 on a failed
// capture.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/core/log.h"
#include "rss.h"

using namespace leakwatch;

int main(int argc, char** argv) {
  std::string http_url, key_env, inspector_url, order = "http,inspector";
  std::string dir = (std::filesystem::temp_directory_path() / "leakwatch-zero-code-bench").string();
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--http")
      http_url = next();
    else if (a == "--key-env")
      key_env = next();
    else if (a == "--inspector")
      inspector_url = next();
    else if (a == "--order")
      order = next();
    else if (a == "--archive")
      dir = next();
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr, "zero_code_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const char* key = key_env.empty() ? nullptr : std::getenv(key_env.c_str());
  // Progress lines (event=capture_progress) on stderr show that the capture is alive.
  core::logger("capture")->set_level(spdlog::level::info);

  std::filesystem::remove_all(dir);
  archive::ArchiveSettings as;
  as.dir = dir;
  archive::Archive arch(as);
  if (!arch.open().ok()) return 1;
  core::SystemClock clock;

  std::printf("%-10s %12s %12s %10s %16s %18s\n", "method", "snapshot_MB", "stored_MB", "seconds",
              "rss_before_MiB", "rss_growth_MiB");
  std::stringstream methods(order);
  std::string method;
  int rc = 0;
  while (std::getline(methods, method, ',')) {
    capture::CaptureSettings s;
    s.compress = true;
    s.retries = 0;
    s.idle_timeout = std::chrono::minutes(30);  // V8 builds a big snapshot for minutes in silence
    s.total_timeout = std::chrono::minutes(90);
    if (method == "http") {
      if (http_url.empty() || !key) {
        std::fprintf(stderr, "zero_code_bench: http needs --http and --key-env (set)\n");
        return 2;
      }
      s.method = capture::Method::http;
      s.url = http_url;
      s.key = core::Secret(key, "env " + key_env);
    } else if (method == "inspector") {
      if (inspector_url.empty()) {
        std::fprintf(stderr, "zero_code_bench: inspector needs --inspector\n");
        return 2;
      }
      s.method = capture::Method::inspector;
      s.inspector.url = inspector_url;
    } else {
      std::fprintf(stderr, "zero_code_bench: unknown method %s\n", method.c_str());
      return 2;
    }
    bench::reset_hwm();
    auto [rss0, hwm0] = bench::rss_kib();
    (void)hwm0;
    capture::CaptureRequest req;
    req.target = "bench";
    auto t0 = std::chrono::steady_clock::now();
    auto r = capture::capture_sync(s, arch, clock, req);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto [rss1, hwm1] = bench::rss_kib();
    (void)rss1;
    if (!r.ok()) {
      std::fprintf(stderr, "%s capture failed after %.1fs: %s\n", method.c_str(), seconds,
                   r.error().to_string().c_str());
      rc = 1;
      continue;
    }
    double growth = static_cast<double>(hwm1 - rss0) / 1024.0;
    std::printf("%-10s %12.1f %12.1f %10.1f %16.1f %18.1f\n", method.c_str(),
                static_cast<double>(r->size_bytes) / 1e6,
                static_cast<double>(r->stored_bytes) / 1e6, seconds,
                static_cast<double>(rss0) / 1024.0, growth);
    nlohmann::json j = {
        {"method", method},   {"snapshot_bytes", r->size_bytes}, {"stored_bytes", r->stored_bytes},
        {"seconds", seconds}, {"rss_before_kib", rss0},          {"rss_growth_kib", hwm1 - rss0}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    if (!keep) arch.remove(r->id);
  }
  if (!keep) std::filesystem::remove_all(dir);
  return rc;
}
