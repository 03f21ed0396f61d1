// `leakwatch sample`: read one memory sample of the configured target and print it as JSON, so a
// deployment can be checked ("does leakwatch see what I expect?").
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/units.h"
#include "leakwatch/source/sample_json.h"
#include "leakwatch/source/source.h"

namespace leakwatch::cli {

namespace {

struct SampleOptions {
  std::string config_file;
  std::string cgroup;
  int pid = 0;
  std::string pid_file;
  std::string ecs_uri;
  std::string container;
  std::string root;
  std::string timeout;
};

int run_sample(const SampleOptions& o) {
  source::TargetSettings target;
  if (!o.config_file.empty()) {
    // Only the target counts: secrets of the deployment need not resolve here.
    auto loaded = load_config_file(o.config_file, config::LoadOptions{.resolve_secrets = false});
    if (!loaded) return kExitConfig;
    target = loaded->target;
  }
  // Flags override the configuration (or stand alone without one).
  if (!o.cgroup.empty()) {
    target.source = source::SourceKind::cgroup;
    target.cgroup_path = o.cgroup == "self" ? "" : o.cgroup;
  }
  if (o.pid > 0 || !o.pid_file.empty()) {
    target.source = source::SourceKind::procfs;
    if (o.pid > 0) target.pid = o.pid;
    target.pid_file = o.pid_file;
  }
  if (!o.ecs_uri.empty() || !o.container.empty()) {
    target.source = source::SourceKind::ecs;
    if (!o.ecs_uri.empty()) target.ecs_metadata_uri = o.ecs_uri;
    if (!o.container.empty()) target.ecs_container = o.container;
  }
  if (!o.root.empty()) target.root = o.root;
  if (!o.timeout.empty()) {
    auto d = core::parse_duration(o.timeout);
    if (!d) {
      std::fprintf(stderr, "leakwatch sample: --timeout: %s\n", d.error().message.c_str());
      return kExitUsage;
    }
    target.ecs_timeout = *d;
  }

  boost::asio::io_context io;
  core::SystemClock clock;
  auto src = source::make_source(io, target, clock);
  if (!src) {
    std::fprintf(stderr, "leakwatch sample: %s\n", src.error().to_string().c_str());
    return src.error().code == core::Errc::config ? kExitConfig : kExitFailure;
  }
  auto sample = source::read_sync(io, **src);
  if (!sample) {
    std::fprintf(stderr, "leakwatch sample: %s: %s\n", (*src)->describe().c_str(),
                 sample.error().to_string().c_str());
    return kExitFailure;
  }
  auto j = source::sample_to_json(*sample);
  j["target"] = target.name;
  j["source"] = (*src)->describe();
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return kExitOk;
}

}  // namespace

void register_source_commands(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<SampleOptions>();
  auto* cmd = app.add_subcommand(
      "sample", "Print the current memory sample of the target as JSON (deployment check)");
  cmd->add_option("--config,-c", opts->config_file, "configuration file (its target: section)");
  cmd->add_option("--cgroup", opts->cgroup,
                  "read this cgroup directory instead (v1 or v2; \"self\" = own cgroup)");
  cmd->add_option("--pid", opts->pid, "read /proc/PID instead");
  cmd->add_option("--pid-file", opts->pid_file, "read the process whose pid is in this file");
  cmd->add_option(
      "--ecs-uri", opts->ecs_uri,
      "ECS task metadata endpoint v4 base URL (default $ECS_CONTAINER_METADATA_URI_V4)");
  cmd->add_option("--container", opts->container, "ECS container name (selects source ecs)");
  cmd->add_option("--root", opts->root, "filesystem root for /proc and /sys (default /)");
  cmd->add_option("--timeout", opts->timeout, "ECS request time limit, e.g. 5s");
  cmd->callback([opts, &exit_code] { exit_code = run_sample(*opts); });
}

}  // namespace leakwatch::cli
