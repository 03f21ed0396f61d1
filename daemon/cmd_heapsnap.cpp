// leakwatch summary | diff | retainers — DevTools' Summary and Comparison views on the command
// line.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "commands.h"
#include "config_load.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/config/config.h"
#include "leakwatch/core/units.h"
#include "leakwatch/core/utf8.h"
#include "leakwatch/heapsnap/report.h"
#include "leakwatch/s3/client.h"
#include "leakwatch/s3/fleet.h"
#include "leakwatch/s3/identity.h"
#include "leakwatch/s3/uploader.h"

namespace leakwatch::cli {

namespace {

// Cut on a character boundary: the names come from the heap and may be any UTF-8.
std::string clip(const std::string& s, std::size_t width) {
  if (s.size() <= width) return s;
  return std::string(core::utf8_prefix(s, width - 3)) + "...";
}

struct Options {
  std::string config_file;  // --config: its archive.dir is where ids are looked up
  std::string archive_dir;  // --archive: overrides the config's archive.dir
  std::string snapshot;
  std::string base;
  std::string target;
  std::string class_name;
  bool json = false;
  std::size_t limit = 40;
  std::size_t paths = 5;
  std::size_t retainer_paths = 3;  // diff: top growers that get retainer paths
};

int print_error(const core::Error& e) {
  std::cerr << "leakwatch: " << e.message << "\n";
  return kExitFailure;
}

constexpr const char* kDefaultArchiveDir = "/var/lib/leakwatch/archive";

// Edit distance, to suggest the archive ids nearest to a mistyped one.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Turns SNAPSHOT arguments into files: an existing file is taken as is; anything else that looks
// like an archive id ("<target>/<stem>", as `leakwatch snapshots list` prints) is looked up in the
// archive given by --archive, else by --config's archive.dir, else /var/lib/leakwatch/archive when
// it exists. The configuration is read only when an id has to be resolved.
class SnapshotResolver {
 public:
  // s3://bucket/key: streamed into a private temporary directory, removed at exit. Region from
  // $AWS_REGION/$AWS_DEFAULT_REGION, endpoint from $AWS_ENDPOINT_URL_S3/$AWS_ENDPOINT_URL (as the
  // AWS CLI), credentials from the usual chain.
  std::optional<std::filesystem::path> download(const std::string& url) {
    auto loc = s3::parse_s3_url(url);
    if (!loc.ok() || loc->second.empty()) {
      fail(kExitUsage, "expected s3://bucket/key, got " + url);
      return std::nullopt;
    }
    s3::Client client(s3::cli_client_options(loc->first),
                      std::make_shared<s3::CredentialsProvider>());
    if (s3_tmp_.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "leakwatch-s3-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) {
        fail(kExitFailure, "cannot create a temporary directory");
        return std::nullopt;
      }
      s3_tmp_ = tmpl;
    }
    std::string base = s3::key_segment(loc->second.substr(loc->second.rfind('/') + 1));
    auto dest = s3_tmp_ / (std::to_string(++s3_count_) + "-" + base);
    std::ofstream out(dest, std::ios::binary);
    auto got = client.get_object(loc->second, [&](std::string_view chunk) -> core::Status {
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      if (!out) return core::make_error(core::Errc::io, "cannot write " + dest.string());
      return core::ok_status();
    });
    out.close();
    if (!got.ok()) {
      fail(kExitFailure, "cannot read " + url + ": " + got.error().to_string());
      return std::nullopt;
    }
    return dest;
  }

  explicit SnapshotResolver(const Options& o) : o_(o) {}
  ~SnapshotResolver() {
    std::error_code ec;
    if (!s3_tmp_.empty()) std::filesystem::remove_all(s3_tmp_, ec);
  }
  SnapshotResolver(const SnapshotResolver&) = delete;
  SnapshotResolver& operator=(const SnapshotResolver&) = delete;

  // The file to read, or the exit code after printing why there is none.
  std::optional<std::filesystem::path> resolve(const std::string& arg) {
    std::error_code ec;
    if (arg.rfind("s3://", 0) == 0) return download(arg);
    if (std::filesystem::is_regular_file(arg, ec)) return std::filesystem::path(arg);
    if (!archive::Archive::split_id(arg).ok()) {
      // Not an id: let the parser report the missing or unreadable file.
      return std::filesystem::path(arg);
    }
    if (!load_settings()) return std::nullopt;
    if (!settings_) {
      fail(kExitFailure, "no such file: " + arg +
                             " (to read it as an archive id, give --archive DIR or --config FILE;"
                             " the default archive " +
                             std::string(kDefaultArchiveDir) + " does not exist)");
      return std::nullopt;
    }
    archive::Archive arch(*settings_);
    auto path = arch.path_of(arg);
    if (path.ok()) return *path;
    if (path.error().code != core::Errc::not_found) {
      fail(kExitFailure, path.error().message);
      return std::nullopt;
    }
    std::string msg =
        "no such file, and no snapshot with id " + arg + " in the archive " + settings_->dir;
    auto entries = arch.list();
    if (entries.ok() && !entries->empty()) {
      std::vector<std::pair<std::size_t, std::string>> near;
      for (const auto& m : *entries)
        near.emplace_back(edit_distance(arg, m.id), m.id);
      std::stable_sort(near.begin(), near.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      msg += "; nearest ids:";
      for (std::size_t i = 0; i < near.size() && i < 5; ++i)
        msg += "\n  " + near[i].second;
    } else {
      msg += " (the archive holds no snapshots)";
    }
    fail(kExitFailure, msg);
    return std::nullopt;
  }

  int exit_code() const { return exit_code_; }

 private:
  void fail(int code, const std::string& msg) {
    std::cerr << "leakwatch: " << msg << "\n";
    exit_code_ = code;
  }

  // Fills settings_ (or leaves it empty when there is no archive to look in). False on a
  // configuration error (already printed).
  bool load_settings() {
    if (loaded_) return exit_code_ == kExitOk;
    loaded_ = true;
    archive::ArchiveSettings settings;
    bool have = false;
    if (!o_.config_file.empty()) {
      auto loaded = load_config_file(o_.config_file, config::LoadOptions{.resolve_secrets = false});
      if (!loaded) {
        exit_code_ = kExitConfig;
        return false;
      }
      settings = loaded->archive;
      have = true;
    }
    if (!o_.archive_dir.empty()) {
      settings.dir = o_.archive_dir;
      have = true;
    }
    std::error_code ec;
    if (!have && std::filesystem::is_directory(kDefaultArchiveDir, ec)) {
      settings.dir = kDefaultArchiveDir;
      have = true;
    }
    if (have) settings_ = settings;
    return true;
  }

  const Options& o_;
  std::filesystem::path s3_tmp_;
  int s3_count_ = 0;
  bool loaded_ = false;
  int exit_code_ = kExitOk;
  std::optional<archive::ArchiveSettings> settings_;
};

int run_summary(const Options& o) {
  SnapshotResolver resolver(o);
  auto file = resolver.resolve(o.snapshot);
  if (!file) return resolver.exit_code();
  auto r = heapsnap::summarize_file(*file);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace)
              << "\n";
    return kExitOk;
  }
  const auto& s = *r;
  std::printf("%zu nodes, %llu edges, total %s\n\n", static_cast<std::size_t>(s.node_count),
              static_cast<unsigned long long>(s.edge_count),
              core::format_bytes(static_cast<double>(s.total_size), 1).c_str());
  std::printf("%-50s %10s %14s %14s\n", "Constructor", "Count", "Shallow size", "Retained size");
  std::size_t shown = 0;
  for (const auto& c : s.classes) {
    if (o.limit && shown++ >= o.limit) break;
    std::printf("%-50s %10llu %14s %14s\n", clip(c.name, 50).c_str(),
                static_cast<unsigned long long>(c.count),
                core::format_bytes(static_cast<double>(c.self_size), 1).c_str(),
                core::format_bytes(static_cast<double>(c.retained_size), 1).c_str());
  }
  if (o.limit && s.classes.size() > o.limit)
    std::printf("… %zu more classes (--limit 0 shows all)\n", s.classes.size() - o.limit);
  return kExitOk;
}

int run_diff(const Options& o) {
  heapsnap::DiffOptions d;
  d.top_n = 10;
  d.retainer_paths_for = o.retainer_paths;
  SnapshotResolver resolver(o);
  auto base = resolver.resolve(o.base);
  if (!base) return resolver.exit_code();
  auto target = resolver.resolve(o.target);
  if (!target) return resolver.exit_code();
  auto r = heapsnap::diff_files(*base, *target, d);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace)
              << "\n";
    return kExitOk;
  }
  const auto& rep = *r;
  std::printf("%-44s %8s %8s %8s %12s %12s %12s\n", "Constructor", "# New", "# Deleted", "# Delta",
              "Alloc. Size", "Freed Size", "Size Delta");
  std::size_t shown = 0;
  for (const auto& c : rep.classes) {
    if (o.limit && shown++ >= o.limit) break;
    std::string delta =
        (c.size_delta > 0 ? "+" : "") + core::format_bytes(static_cast<double>(c.size_delta), 1);
    std::printf("%-44s %8llu %8llu %+8lld %12s %12s %12s\n", clip(c.name, 44).c_str(),
                static_cast<unsigned long long>(c.new_count),
                static_cast<unsigned long long>(c.deleted_count),
                static_cast<long long>(c.delta_count),
                core::format_bytes(static_cast<double>(c.alloc_size), 1).c_str(),
                core::format_bytes(static_cast<double>(c.freed_size), 1).c_str(), delta.c_str());
  }
  if (o.limit && rep.classes.size() > o.limit)
    std::printf("… %zu more classes (--limit 0 shows all)\n", rep.classes.size() - o.limit);
  // The growers the app's code creates come first (V8's and Node's categories after them).
  bool first = true;
  for (const auto& g : rep.top_growers) {
    if (!g.top_path) continue;
    std::printf("\n%s: %s (+%s, %llu instances, retained %s)\n  %s  (%llu instances)\n",
                first ? "Top grower" : "Grower", g.diff.name.c_str(),
                core::format_bytes(static_cast<double>(g.diff.size_delta), 1).c_str(),
                static_cast<unsigned long long>(g.count),
                core::format_bytes(static_cast<double>(g.retained_size), 1).c_str(),
                g.top_path->text.c_str(), static_cast<unsigned long long>(g.top_path->instances));
    if (g.native_path)
      std::printf("  %llu held by open native handles: %s\n",
                  static_cast<unsigned long long>(g.native_instances), g.native_path->text.c_str());
    first = false;
  }
  return kExitOk;
}

int run_retainers(const Options& o) {
  heapsnap::RetainerOptions ro;
  ro.max_paths = o.paths;
  SnapshotResolver resolver(o);
  auto file = resolver.resolve(o.snapshot);
  if (!file) return resolver.exit_code();
  auto r = heapsnap::retainers_file(*file, o.class_name, ro);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace)
              << "\n";
    return kExitOk;
  }
  const auto& rep = *r;
  if (rep.instances == 0) {
    std::printf("no instances of class \"%s\"\n", rep.class_name.c_str());
    return kExitOk;
  }
  std::printf("%llu instances of %s (%llu unreachable from the GC roots)\n\n",
              static_cast<unsigned long long>(rep.instances), rep.class_name.c_str(),
              static_cast<unsigned long long>(rep.unreachable));
  for (const auto& p : rep.paths) {
    std::printf(
        "%8llu instances, retained %s\n    %s\n", static_cast<unsigned long long>(p.instances),
        core::format_bytes(static_cast<double>(p.retained_size), 1).c_str(), p.text.c_str());
  }
  return kExitOk;
}

}  // namespace

void register_heapsnap_commands(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<Options>();

  auto* summary =
      app.add_subcommand("summary", "DevTools' Summary view of a heap snapshot (plain or zstd)");
  auto add_source_options = [&](CLI::App* cmd) {
    cmd->add_option("--config", opts->config_file,
                    "configuration file: archive ids are looked up in its archive.dir");
    cmd->add_option("--archive", opts->archive_dir,
                    "archive directory for archive ids (default: the config's archive.dir, else " +
                        std::string(kDefaultArchiveDir) + " when it exists)");
  };
  const std::string snapshot_help =
      "a .heapsnapshot file (plain or zstd) or an archive id such as "
      "web/20261124T080000Z-leak-series-1of3";
  summary->add_option("SNAPSHOT", opts->snapshot, snapshot_help)->required();
  add_source_options(summary);
  summary->add_flag("--json", opts->json, "print one JSON object with a \"classes\" array");
  summary->add_option("--limit", opts->limit, "rows in the table (0: all)")->capture_default_str();
  summary->callback([opts, &exit_code] { exit_code = run_summary(*opts); });

  auto* diff = app.add_subcommand("diff", "DevTools' Comparison view of BASE -> TARGET");
  diff->add_option("BASE", opts->base, "the earlier snapshot (file or archive id)")->required();
  diff->add_option("TARGET", opts->target, "the later snapshot (file or archive id)")->required();
  add_source_options(diff);
  diff->add_flag("--json", opts->json, "print one JSON object with a \"classes\" array");
  diff->add_option("--limit", opts->limit, "rows in the table (0: all)")->capture_default_str();
  diff->add_option("--retainer-paths", opts->retainer_paths,
                   "top growers (those the app's code creates first) that get retainer paths")
      ->capture_default_str();
  diff->callback([opts, &exit_code] { exit_code = run_diff(*opts); });

  auto* ret = app.add_subcommand("retainers", "shortest retainer paths of a class's instances");
  ret->add_option("SNAPSHOT", opts->snapshot, snapshot_help)->required();
  add_source_options(ret);
  ret->add_option("--class", opts->class_name, "class name as shown by summary")->required();
  ret->add_option("--paths", opts->paths, "distinct paths to show")->capture_default_str();
  ret->add_flag("--json", opts->json, "print one JSON object");
  ret->callback([opts, &exit_code] { exit_code = run_retainers(*opts); });
}

}  // namespace leakwatch::cli
