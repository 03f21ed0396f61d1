#pragma once
// The whole configuration as typed, validated structs. `load_file` runs the pipeline
// YAML → structs (every problem collected with file:line:column and key path) → validation.
// All defaults live in the settings structs' initialisers and are documented in
// docs/configuration.md; config/leakwatch.example.yaml shows every key.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/settings.h"
#include "leakwatch/archive/settings.h"
#include "leakwatch/capture/settings.h"
#include "leakwatch/config/problem.h"
#include "leakwatch/core/log.h"
#include "leakwatch/core/secret.h"
#include "leakwatch/detect/settings.h"
#include "leakwatch/source/settings.h"

namespace leakwatch::config {

struct ServerSettings {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";  // loopback by default: snapshots hold user data
  core::Secret token;                     // bearer token for snapshot downloads and diffs
  std::uint64_t max_request_bytes = 64 * 1024;
  int max_connections = 64;
  // One client (on ECS awsvpc, the app shares loopback) cannot hold every connection.
  int max_connections_per_address = 32;
  std::vector<std::string> allowed_hosts;  // Host header names accepted beyond the listen address
  double rate_limit_per_second = 20;       // per client address, token bucket
  int rate_limit_burst = 40;
};

struct LogSettings {
  core::LogFormat format = core::LogFormat::text;
  std::string level = "info";  // trace, debug, info, warn, error
};

struct ResourceSettings {
  // What leakwatch itself may use, its diff child included. Unset: 75 % of leakwatch's own memory
  // cgroup limit when it has one, else 256 MiB (resolved at start, see engine/budget.h).
  std::optional<std::uint64_t> memory_budget;
};

struct Config {
  source::TargetSettings target;
  std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};
  std::string state_dir = "/var/lib/leakwatch/state";
  detect::DetectorSettings detection;
  capture::CaptureSettings capture;
  archive::ArchiveSettings archive;
  alert::AlertSettings alerts;
  ServerSettings server;
  LogSettings log;
  ResourceSettings resources;
};

struct LoadResult {
  std::optional<Config> config;      // set when there are no problems
  std::vector<Problem> problems;     // every problem, in file order
  std::vector<Problem> warnings;     // e.g. an inline secret
  std::map<std::string, bool> keys;  // every known key path, true where the file sets it
};

struct LoadOptions {
  // false: secrets are not read (their env variables and files need not exist); each holds a
  // placeholder. For commands that only browse (snapshots list/show/export, diff by archive id).
  bool resolve_secrets = true;
};

LoadResult load_file(const std::filesystem::path& path, const LoadOptions& options = {});
// For tests and the embedded demo config: `name` is what problems report as the file.
LoadResult load_string(const std::string& yaml, const std::string& name = "<config>",
                       const LoadOptions& options = {});

// The embedded default configuration (watches leakwatch's own memory cgroup).
const std::string& embedded_default_yaml();

}  // namespace leakwatch::config
