// `leakwatch capture` (one snapshot now, with the daemon's guard rails) and
// `leakwatch snapshots list|show|export|prune` (browse the archive).
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/capture/policy.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/secret_file.h"
#include "leakwatch/core/units.h"
#include "leakwatch/source/source.h"
#include "s3_list.h"

namespace leakwatch::cli {

namespace {

struct CommonOptions {
  std::string config_file;
  std::string archive_dir;
  std::string target;
};

struct CaptureOptions {
  CommonOptions common;
  std::string url;
  std::string header;
  std::string key_env;
  std::string key_file;
  std::string ca_file;
  bool force = false;
  bool no_compress = false;
  bool json = false;
};

// What a command needs from the configuration (or from flags alone).
struct Loaded {
  std::optional<config::Config> config;
  archive::ArchiveSettings archive;
  capture::CaptureSettings capture;
  std::string target = "app";
};

void print_err(const char* cmd, const std::string& msg) {
  std::fprintf(stderr, "leakwatch %s: %s\n", cmd, msg.c_str());
}

// Returns an exit code on failure.
std::optional<int> load(const char* cmd, const CommonOptions& o, Loaded& out, bool need_archive) {
  if (!o.config_file.empty()) {
    auto loaded =
        load_config_file(o.config_file, config::LoadOptions{.resolve_secrets = !need_archive});
    if (!loaded) return kExitConfig;
    out.config = loaded;
    out.archive = loaded->archive;
    out.capture = loaded->capture;
    out.target = loaded->target.name;
  } else if (need_archive && o.archive_dir.empty()) {
    print_err(cmd, "give --config FILE or --archive DIR");
    return kExitUsage;
  }
  if (!o.archive_dir.empty()) out.archive.dir = o.archive_dir;
  if (!o.target.empty()) out.target = o.target;
  return std::nullopt;
}

std::string when(core::TimePoint t) {
  return core::format_utc(t);
}

int run_capture(const CaptureOptions& o) {
  const char* cmd = "capture";
  Loaded l;
  if (auto rc = load(cmd, o.common, l, false)) return *rc;
  auto& s = l.capture;
  if (!o.url.empty()) s.url = o.url;
  if (!o.header.empty()) s.header = o.header;
  if (!o.ca_file.empty()) s.ca_file = o.ca_file;
  if (o.no_compress) s.compress = false;
  if (!o.key_env.empty()) {
    const char* v = std::getenv(o.key_env.c_str());
    if (!v || !*v) {
      print_err(cmd, "environment variable " + o.key_env + " (--key-env) is not set");
      return kExitConfig;
    }
    s.key = core::Secret(v, "env " + o.key_env);
  }
  if (!o.key_file.empty()) {
    auto k = core::read_secret_file(o.key_file);
    if (!k.ok()) {
      print_err(cmd, "--key-file: " + k.error().message);
      return kExitConfig;
    }
    s.key = std::move(*k);
  }
  if (s.method == capture::Method::http && s.url.empty()) {
    print_err(cmd, "no heap-dump URL: set capture.url in the configuration or pass --url");
    return kExitUsage;
  }
  if (s.method == capture::Method::http && s.key.empty()) {
    print_err(cmd,
              "no heap-dump key: set capture.key in the configuration or pass --key-env NAME / "
              "--key-file PATH");
    return kExitConfig;
  }
  if (!l.config && o.common.archive_dir.empty()) {
    print_err(cmd, "give --config FILE or --archive DIR (where to store the snapshot)");
    return kExitUsage;
  }

  archive::Archive arch(l.archive);
  auto opened = arch.open();
  if (!opened.ok()) {
    print_err(cmd, opened.error().message);
    return kExitFailure;
  }

  core::SystemClock clock;
  // The memory figure for the headroom check.
  std::optional<core::Sample> sample;
  if (l.config) {
    boost::asio::io_context io;
    auto src = source::make_source(io, l.config->target, clock);
    if (!src.ok()) {
      std::fprintf(stderr, "warning: cannot read the target's memory: %s\n",
                   src.error().to_string().c_str());
    } else {
      auto r = source::read_sync(io, **src);
      if (r.ok())
        sample = *r;
      else
        std::fprintf(stderr, "warning: cannot read the target's memory (%s): %s\n",
                     (*src)->describe().c_str(), r.error().to_string().c_str());
    }
  }

  // Same guard rails as the daemon, seeded with the captures already in the archive.
  capture::GuardRails rails(s);
  if (auto past = arch.list(archive::Archive::sanitize_target(l.target)); past.ok())
    for (const auto& m : *past)
      rails.note_past_capture(m.started_at);
  auto verdict = rails.check(clock.now(), sample, o.force);
  if (!verdict.allowed) {
    print_err(cmd, "capture skipped (" + std::string(capture::to_string(verdict.code)) +
                       "): " + verdict.message);
    if (verdict.code == capture::Refusal::headroom || verdict.code == capture::Refusal::no_sample)
      std::fprintf(stderr, "use --force to capture anyway (the app may be OOM-killed)\n");
    return kExitFailure;
  }
  if (!verdict.override_warning.empty())
    std::fprintf(stderr, "WARNING: %s\n", verdict.override_warning.c_str());

  capture::CaptureRequest req;
  req.target = l.target;
  req.reason.kind = "manual";
  req.sample = sample;
  req.forced = !verdict.override_warning.empty();
  auto r = capture::capture_sync(s, arch, clock, req);
  if (!r.ok()) {
    print_err(cmd, "failed (" + r.error().code_text() + "): " + r.error().message);
    return kExitFailure;
  }
  const auto& m = *r;
  if (o.json) {
    std::printf("%s\n",
                m.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf(
        "captured %s\n  file: %s\n  size: %s (%s stored, %s)\n  sha256: %s\n  took: %.1fs\n",
        m.id.c_str(), (std::filesystem::path(l.archive.dir) / m.target / m.file).c_str(),
        core::format_bytes(static_cast<double>(m.size_bytes)).c_str(),
        core::format_bytes(static_cast<double>(m.stored_bytes)).c_str(),
        archive::to_string(m.compression), m.sha256.c_str(), m.duration_seconds);
  }
  return kExitOk;
}

struct SnapOptions {
  CommonOptions common;
  std::string id;
  std::string output;
  bool json = false;
  bool dry_run = false;
  std::string cluster, family, task;  // list --archive s3://…: filters
};

int run_list(const SnapOptions& o) {
  if (o.common.archive_dir.rfind("s3://", 0) == 0)
    return run_s3_list(
        {o.common.archive_dir, o.cluster, o.family, o.task, o.common.target, o.json});
  Loaded l;
  if (auto rc = load("snapshots list", o.common, l, true)) return *rc;
  archive::Archive arch(l.archive);
  std::vector<std::string> problems;
  auto entries = arch.list(o.common.target, &problems);
  if (!entries.ok()) {
    print_err("snapshots list", entries.error().message);
    return kExitFailure;
  }
  for (const auto& p : problems)
    std::fprintf(stderr, "warning: %s\n", p.c_str());
  if (o.json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& m : *entries)
      a.push_back(m.to_json());
    std::printf("%s\n", a.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  if (entries->empty()) {
    std::printf("no snapshots in %s\n", l.archive.dir.c_str());
    return kExitOk;
  }
  std::printf("%-48s %-20s %-22s %10s %10s\n", "ID", "TAKEN (UTC)", "REASON", "SIZE", "STORED");
  std::uint64_t total = 0;
  for (const auto& m : *entries) {
    std::printf("%-48s %-20s %-22s %10s %10s\n", m.id.c_str(), when(m.started_at).c_str(),
                m.reason.describe().c_str(),
                core::format_bytes(static_cast<double>(m.size_bytes)).c_str(),
                core::format_bytes(static_cast<double>(m.stored_bytes)).c_str());
    total += m.stored_bytes;
  }
  std::printf("%zu snapshot(s), %s on disk\n", entries->size(),
              core::format_bytes(static_cast<double>(total)).c_str());
  return kExitOk;
}

bool is_s3(const SnapOptions& o) {
  return o.id.rfind("s3://", 0) == 0 || o.common.archive_dir.rfind("s3://", 0) == 0;
}

int run_show(const SnapOptions& o) {
  if (is_s3(o)) return run_s3_show({o.id, o.common.archive_dir, {}});
  Loaded l;
  if (auto rc = load("snapshots show", o.common, l, true)) return *rc;
  archive::Archive arch(l.archive);
  auto m = arch.get(o.id);
  if (!m.ok()) {
    print_err("snapshots show", m.error().message);
    return m.error().code == core::Errc::invalid_id ? kExitUsage : kExitFailure;
  }
  auto j = m->to_json();
  j["path"] = (std::filesystem::path(l.archive.dir) / m->target / m->file).string();
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return kExitOk;
}

int run_export(const SnapOptions& o) {
  const char* cmd = "snapshots export";
  if (is_s3(o)) return run_s3_export({o.id, o.common.archive_dir, o.output});
  Loaded l;
  if (auto rc = load(cmd, o.common, l, true)) return *rc;
  archive::Archive arch(l.archive);
  auto m = arch.get(o.id);
  if (!m.ok()) {
    print_err(cmd, m.error().message);
    return m.error().code == core::Errc::invalid_id ? kExitUsage : kExitFailure;
  }
  if (o.output == "-") {
    auto reader = arch.open_reader(o.id, true);
    if (!reader.ok()) {
      print_err(cmd, reader.error().message);
      return kExitFailure;
    }
    std::string buf;
    for (;;) {
      auto st = (*reader)->read(buf);
      if (!st.ok()) {
        print_err(cmd, st.error().message);
        return kExitFailure;
      }
      if (buf.empty()) break;
      if (std::fwrite(buf.data(), 1, buf.size(), stdout) != buf.size()) {
        print_err(cmd, "cannot write to stdout");
        return kExitFailure;
      }
    }
    std::fflush(stdout);
    return kExitOk;
  }
  std::string out = o.output;
  if (out.empty()) out = o.id.substr(o.id.find('/') + 1) + ".heapsnapshot";
  auto st = arch.export_to(o.id, out);
  if (!st.ok()) {
    print_err(cmd, st.error().message);
    return kExitFailure;
  }
  std::printf("wrote %s (%s, SHA-256 verified)\n", out.c_str(),
              core::format_bytes(static_cast<double>(m->size_bytes)).c_str());
  return kExitOk;
}

int run_prune(const SnapOptions& o) {
  const char* cmd = "snapshots prune";
  Loaded l;
  if (auto rc = load(cmd, o.common, l, true)) return *rc;
  archive::Archive arch(l.archive);
  core::SystemClock clock;
  if (o.dry_run) {
    auto entries = arch.list();
    if (!entries.ok()) {
      print_err(cmd, entries.error().message);
      return kExitFailure;
    }
    auto plan = archive::plan_retention(*entries, l.archive, clock.now());
    for (const auto& r : plan)
      std::printf("would remove %s (%s, rule %s)\n", r.id.c_str(),
                  core::format_bytes(static_cast<double>(r.stored_bytes)).c_str(), r.rule.c_str());
    std::printf("%zu snapshot(s) would be removed\n", plan.size());
    return kExitOk;
  }
  auto cleaned = arch.open();
  if (!cleaned.ok()) {
    print_err(cmd, cleaned.error().message);
    return kExitFailure;
  }
  auto r = arch.prune(clock.now());
  if (!r.ok()) {
    print_err(cmd, r.error().message);
    return kExitFailure;
  }
  for (const auto& x : r->removed)
    std::printf("removed %s (%s, rule %s)\n", x.id.c_str(),
                core::format_bytes(static_cast<double>(x.stored_bytes)).c_str(), x.rule.c_str());
  std::printf("%zu snapshot(s) removed, %s freed", r->removed.size(),
              core::format_bytes(static_cast<double>(r->freed_bytes)).c_str());
  if (cleaned->partial_removed)
    std::printf("; %d crash leftover(s) cleaned", cleaned->partial_removed);
  std::printf("\n");
  return kExitOk;
}

void add_common(CLI::App* c, CommonOptions& o) {
  c->add_option("--config", o.config_file,
                "configuration file (archive, capture and target settings)");
  c->add_option("--archive", o.archive_dir,
                "archive directory (overrides archive.dir); for list, show and export also "
                "s3://bucket/prefix");
  c->add_option("--target", o.target,
                "target name (archive folder; default: target.name from the config)");
}

}  // namespace

void register_capture_commands(CLI::App& app, int& exit_code) {
  auto copts = std::make_shared<CaptureOptions>();
  auto* cap = app.add_subcommand(
      "capture", "take one heap snapshot now, with the same guard rails as the daemon");
  add_common(cap, copts->common);
  cap->add_flag("--force", copts->force,
                "capture even without enough memory headroom (the app may be OOM-killed)");
  cap->add_option("--url", copts->url, "heap-dump endpoint URL (overrides capture.url)");
  cap->add_option("--header", copts->header, "header carrying the key (default x-key)");
  cap->add_option("--key-env", copts->key_env, "read the key from this environment variable");
  cap->add_option("--key-file", copts->key_file, "read the key from this file");
  cap->add_option("--ca-file", copts->ca_file,
                  "PEM CA bundle for an https:// endpoint with a private CA");
  cap->add_flag("--no-compress", copts->no_compress, "store the snapshot uncompressed");
  cap->add_flag("--json", copts->json, "print the capture's metadata as JSON");
  cap->callback([copts, &exit_code] { exit_code = run_capture(*copts); });

  auto* snaps = app.add_subcommand("snapshots", "browse the snapshot archive");
  snaps->require_subcommand(1);
  auto sopts = std::make_shared<SnapOptions>();

  auto* list = snaps->add_subcommand("list", "list archived snapshots with sizes and reasons");
  add_common(list, sopts->common);
  list->add_flag("--json", sopts->json, "print the metadata of every snapshot as a JSON array");
  // With --archive s3://bucket/prefix: the fleet's snapshots, grouped by cluster, family, task and
  // target (--target filters too).
  list->add_option("--cluster", sopts->cluster, "with --archive s3://…: only this ECS cluster");
  list->add_option("--family", sopts->family, "with --archive s3://…: only this task family");
  list->add_option("--task", sopts->task, "with --archive s3://…: only this task id");
  list->callback([sopts, &exit_code] { exit_code = run_list(*sopts); });

  auto* show = snaps->add_subcommand("show", "print one snapshot's metadata");
  add_common(show, sopts->common);
  show->add_option("ID", sopts->id,
                   "snapshot id (<target>/<stem>, see `snapshots list`; or s3://bucket/key)")
      ->required();
  show->callback([sopts, &exit_code] { exit_code = run_show(*sopts); });

  auto* exp = snaps->add_subcommand(
      "export", "write a plain .heapsnapshot (decompressed) that DevTools opens");
  add_common(exp, sopts->common);
  exp->add_option("ID", sopts->id, "snapshot id (<target>/<stem>; or s3://bucket/key)")->required();
  exp->add_option("-o,--output", sopts->output,
                  "output file (default ./<stem>.heapsnapshot; - for stdout)");
  exp->callback([sopts, &exit_code] { exit_code = run_export(*sopts); });

  auto* prune =
      snaps->add_subcommand("prune", "apply the retention rules now (and clean crash leftovers)");
  add_common(prune, sopts->common);
  prune->add_flag("--dry-run", sopts->dry_run, "only print what would be removed");
  prune->callback([sopts, &exit_code] { exit_code = run_prune(*sopts); });
}

}  // namespace leakwatch::cli
