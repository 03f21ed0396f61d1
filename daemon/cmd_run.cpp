// leakwatch run: the daemon. leakwatch healthcheck: the container health probe (no curl in the
// image).
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "app.h"
#include "commands.h"
#include "leakwatch/http/client.h"

namespace leakwatch::cli {

namespace {

// Docker and Podman leave a marker file; ECS, Kubernetes, systemd-nspawn and Podman set variables.
std::string container_hint() {
  for (const char* v : {"ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI",
                        "KUBERNETES_SERVICE_HOST", "container"}) {
    if (const char* x = std::getenv(v); x && *x) return std::string("$") + v + " is set";
  }
  std::error_code ec;
  for (const char* f : {"/.dockerenv", "/run/.containerenv"}) {
    if (std::filesystem::exists(f, ec)) return std::string(f) + " exists";
  }
  return {};
}

}  // namespace

void register_run_commands(CLI::App& app, int& exit_code) {
  static RunOptions opts;
  static std::string listen, log_format;
  auto* run = app.add_subcommand("run", "Run the watchdog daemon");
  run->add_option(
      "--config,-c", opts.config_file,
      "YAML configuration file (default: $LEAKWATCH_CONFIG_YAML, else the embedded default; "
      "in a container one of the two is required)");
  run->add_option("--listen", listen, "Override server.listen (ADDRESS:PORT)");
  run->add_option("--log-format", log_format, "Override log.format")
      ->check(CLI::IsMember({"text", "json"}));
  run->callback([&exit_code] {
    if (!listen.empty()) opts.listen_override = listen;
    if (!log_format.empty()) opts.log_format_override = log_format;
    // In a container the embedded default would watch leakwatch's own cgroup and report nothing
    // useful: a missing LEAKWATCH_CONFIG_YAML is a deployment mistake, so say it and stop.
    const char* yaml = std::getenv("LEAKWATCH_CONFIG_YAML");
    if (opts.config_file.empty() && (!yaml || !*yaml)) {
      if (auto hint = container_hint(); !hint.empty()) {
        std::fprintf(stderr,
                     "error: no configuration: pass --config FILE or set LEAKWATCH_CONFIG_YAML "
                     "(running in a container: %s, so the embedded default, which would watch "
                     "leakwatch's own cgroup, is not used)\n",
                     hint.c_str());
        exit_code = kExitConfig;
        return;
      }
    }
    exit_code = run_daemon(opts);
  });

  static std::string url = "http://127.0.0.1:9464/healthz";
  auto* hc = app.add_subcommand("healthcheck",
                                "Exit 0 when the daemon's /healthz answers 200 (for HEALTHCHECK)");
  hc->add_option("--url", url, "Health endpoint");
  hc->callback([&exit_code] {
    auto u = http::Url::parse(url);
    if (!u.ok()) {
      std::fprintf(stderr, "healthcheck: %s\n", u.error().message.c_str());
      exit_code = kExitUsage;
      return;
    }
    http::Request req;
    req.url = *u;
    req.connect_timeout = std::chrono::seconds(2);
    req.total_timeout = std::chrono::seconds(3);
    auto r = http::fetch_sync(req);
    if (!r.ok() || r->status != 200) {
      std::fprintf(
          stderr, "healthcheck: %s\n",
          r.ok() ? ("status " + std::to_string(r->status)).c_str() : r.error().message.c_str());
      exit_code = kExitFailure;
      return;
    }
    std::puts("ok");
    exit_code = kExitOk;
  });
}

}  // namespace leakwatch::cli
