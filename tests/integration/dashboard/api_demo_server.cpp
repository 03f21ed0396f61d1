// api_demo_server: the daemon's HTTP API and dashboard over recorded data, for the browser test,
// the load test and for looking at the dashboard by hand.
//
//   api_demo_server --archive DIR [--token T] [--listen 127.0.0.1:0] [--snapshot FILE]...
//                   [--rate-limit N]   (requests/s per client; 0 = off)
//                   [--identity NAME=VALUE]...   (the target's identity, core/identity.h names)
//
// Archives each --snapshot file (in order, as one capture series) into DIR through the real
// archive module, serves a fixed state (a leaking sawtooth over the last two hours, with markers)
// and prints "port=<port>" on stdout once listening. Stops on SIGTERM/SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "leakwatch/api/archive_store.h"
#include "leakwatch/api/router.h"
#include "leakwatch/api/state.h"
#include "leakwatch/http/server.h"

using namespace leakwatch;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// 121 samples, one a minute over two hours: a GC sawtooth whose floor rises 60 MiB/h.
engine::Status demo_state(core::TimePoint now, const std::vector<api::SnapshotInfo>& snaps) {
  engine::Status s;
  s.target = "web";
  s.source = "cgroup v2 /sys/fs/cgroup/demo/web (recorded demo data)";
  s.now = now;
  s.started_at = now - std::chrono::hours(2);
  s.last_sample_at = now;
  const double limit = 512 * kMiB;
  const int n = 121;
  for (int i = 0; i < n; ++i) {
    auto t = now - std::chrono::minutes(n - 1 - i);
    double floor = 180 * kMiB + i * (1.0 * kMiB);  // +1 MiB/min = 60 MiB/h
    double saw = (i % 8) * 12 * kMiB;
    engine::StatusSample x;
    x.time = t;
    x.usage_bytes = static_cast<std::uint64_t>(floor + saw + 25 * kMiB);
    x.working_set_bytes = static_cast<std::uint64_t>(floor + saw);
    x.limit_bytes = static_cast<std::uint64_t>(limit);
    s.samples.push_back(x);
    if (i % 8 == 0) s.floor.push_back({t, floor});
  }
  double floor_now = 180 * kMiB + (n - 1) * kMiB;
  s.trend = {{now - std::chrono::minutes(90), floor_now - 90 * kMiB}, {now, floor_now}};
  double peak_now = floor_now + 7 * 12 * kMiB;
  double seconds_to_limit = (limit - peak_now) / (60 * kMiB) * 3600;
  s.forecast = {{now, peak_now},
                {now + std::chrono::seconds(static_cast<long>(seconds_to_limit)), limit}};
  s.detector.state = "leak_suspected";
  s.detector.since = now - std::chrono::minutes(40);
  s.detector.explanation = "floor rising 60 MiB/h for 1h 30m; limit in ~" +
                           std::to_string(static_cast<int>(seconds_to_limit / 3600)) + "h " +
                           std::to_string(static_cast<int>(seconds_to_limit) % 3600 / 60) + "m";
  s.detector.slope_bytes_per_hour = 60 * kMiB;
  s.detector.forecast_seconds = seconds_to_limit;
  s.detector.confidence = 0.86;
  s.detector.window_seconds = 5400;
  s.detector.floor_bytes = static_cast<std::uint64_t>(floor_now);
  s.detector.peak_bytes = static_cast<std::uint64_t>(peak_now);
  // Markers: 1 restart, 1 OOM kill, 1 alert, one capture per archived snapshot.
  s.markers.push_back(
      {now - std::chrono::minutes(115), "oom_kill", "OOM kill (container restarted)", ""});
  s.markers.push_back({now - std::chrono::minutes(114), "restart", "target restarted", ""});
  s.markers.push_back({now - std::chrono::minutes(40), "alert", "leak alert sent to slack", ""});
  int k = 0;
  for (const auto& snap : snaps) {
    s.markers.push_back(
        {now - std::chrono::minutes(38 - 10 * k), "capture",
         "snapshot " + std::to_string(k + 1) + " of " + std::to_string(snaps.size()), snap.id});
    ++k;
  }
  s.counters.captures = {{"ok", snaps.size()}, {"skipped", 1}};
  s.counters.alerts = {{{"slack", "ok"}, 1}};
  s.counters.samples = n;
  s.build = {"0.1.0", "demo", "c++20"};
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string archive_dir;
  std::string token;
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> snapshots;
  double rate_limit = -1;  // -1: the config default
  core::TargetIdentity identity;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--archive")
      archive_dir = next();
    else if (a == "--token")
      token = next();
    else if (a == "--listen")
      listen = next();
    else if (a == "--snapshot")
      snapshots.push_back(next());
    else if (a == "--rate-limit")
      rate_limit = std::stod(next());
    else if (a == "--identity") {
      std::string kv = next();
      auto eq = kv.find('=');
      if (eq == std::string::npos || !identity.set(kv.substr(0, eq), kv.substr(eq + 1))) {
        std::fprintf(stderr, "--identity NAME=VALUE: unknown name in %s\n", kv.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: api_demo_server --archive DIR [--token T] [--listen H:P] [--snapshot "
                   "FILE]... [--rate-limit N (0 = off)] [--identity NAME=VALUE]...\n");
      return 2;
    }
  }
  if (archive_dir.empty()) {
    std::fprintf(stderr, "--archive DIR is required\n");
    return 2;
  }
  archive::ArchiveSettings as;
  as.dir = archive_dir;
  archive::Archive archive(as);
  if (auto r = archive.open(); !r) {
    std::fprintf(stderr, "archive: %s\n", r.error().to_string().c_str());
    return 1;
  }
  auto now = core::WallClock::now();
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    archive::Reason reason;
    reason.kind = "leak_series";
    reason.series_index = static_cast<int>(i + 1);
    reason.series_count = static_cast<int>(snapshots.size());
    auto started = now - std::chrono::minutes(38 - 10 * static_cast<int>(i));
    auto pending = archive.begin("web", started, reason, archive::Compression::none);
    if (!pending) {
      std::fprintf(stderr, "archive: %s\n", pending.error().to_string().c_str());
      return 1;
    }
    std::ifstream in(snapshots[i], std::ios::binary);
    std::string buf(1 << 16, '\0');
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
      if (auto st = (*pending)->write(
              std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
          !st) {
        std::fprintf(stderr, "archive: %s\n", st.error().to_string().c_str());
        return 1;
      }
    }
    archive::Metadata meta;
    meta.reason = reason;
    meta.started_at = started;
    meta.finished_at = started + std::chrono::seconds(2);
    meta.duration_seconds = 2;
    meta.source = "http://127.0.0.1:3000";
    if (auto c = (*pending)->commit(meta); !c) {
      std::fprintf(stderr, "archive: %s\n", c.error().to_string().c_str());
      return 1;
    }
  }

  api::ArchiveSnapshotStore store(as, "web");
  auto listed = store.list();
  if (!listed) {
    std::fprintf(stderr, "archive: %s\n", listed.error().to_string().c_str());
    return 1;
  }
  api::SharedState state;
  state.state() = demo_state(now, *listed);
  state.state().identity = identity;

  config::ServerSettings ss;
  ss.listen = listen;
  ss.token = core::Secret(token, "command line");
  if (rate_limit >= 0) ss.rate_limit_per_second = rate_limit;
  auto options = api::server_options(ss);
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().to_string().c_str());
    return 2;
  }
  auto ro = api::router_options(ss);
  boost::asio::io_context io;
  // Diffs run on a short-lived worker thread; the answer is posted back by the server.
  ro.offload = [](std::function<void()> job) { std::thread(std::move(job)).detach(); };
  api::Router router(ro, state, &store);
  http::Server server(io, *options, [&](const http::ServerRequest& req, http::Responder respond) {
    router.handle(req, std::move(respond));
  });
  if (auto st = server.start(); !st) {
    std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.stop();
    io.stop();
  });
  std::printf("port=%u\n", server.port());
  std::fflush(stdout);
  io.run();
  return 0;
}
