// leakwatch summary | diff | retainers — DevTools' Summary and Comparison views on the command
// line.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "leakwatch/heapsnap/report.h"

namespace leakwatch::cli {

namespace {

std::string human_bytes(double v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double a = v < 0 ? -v : v;
  while (a >= 1024 && u < 4) {
    a /= 1024;
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string clip(const std::string& s, std::size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 3) + "...";
}

struct Options {
  std::string snapshot;
  std::string base;
  std::string target;
  std::string class_name;
  bool json = false;
  std::size_t limit = 40;
  std::size_t paths = 5;
};

int print_error(const core::Error& e) {
  std::cerr << "leakwatch: " << e.message << "\n";
  return e.code == "parse" || e.code == "not_found" || e.code == "io" ? kExitFailure : kExitFailure;
}

int run_summary(const Options& o) {
  auto r = heapsnap::summarize_file(o.snapshot);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump() << "\n";
    return kExitOk;
  }
  const auto& s = *r;
  std::printf("%zu nodes, %llu edges, total %s\n\n", static_cast<std::size_t>(s.node_count),
              static_cast<unsigned long long>(s.edge_count),
              human_bytes(static_cast<double>(s.total_size)).c_str());
  std::printf("%-50s %10s %14s %14s\n", "Constructor", "Count", "Shallow size", "Retained size");
  std::size_t shown = 0;
  for (const auto& c : s.classes) {
    if (o.limit && shown++ >= o.limit) break;
    std::printf("%-50s %10llu %14s %14s\n", clip(c.name, 50).c_str(),
                static_cast<unsigned long long>(c.count),
                human_bytes(static_cast<double>(c.self_size)).c_str(),
                human_bytes(static_cast<double>(c.retained_size)).c_str());
  }
  if (o.limit && s.classes.size() > o.limit)
    std::printf("… %zu more classes (--limit 0 shows all)\n", s.classes.size() - o.limit);
  return kExitOk;
}

int run_diff(const Options& o) {
  heapsnap::DiffOptions d;
  d.top_n = 10;
  d.retainer_paths_for = 1;
  auto r = heapsnap::diff_files(o.base, o.target, d);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump() << "\n";
    return kExitOk;
  }
  const auto& rep = *r;
  std::printf("%-44s %8s %8s %8s %12s %12s %12s\n", "Constructor", "# New", "# Deleted", "# Delta",
              "Alloc. Size", "Freed Size", "Size Delta");
  std::size_t shown = 0;
  for (const auto& c : rep.classes) {
    if (o.limit && shown++ >= o.limit) break;
    std::string delta =
        (c.size_delta > 0 ? "+" : "") + human_bytes(static_cast<double>(c.size_delta));
    std::printf("%-44s %8llu %8llu %+8lld %12s %12s %12s\n", clip(c.name, 44).c_str(),
                static_cast<unsigned long long>(c.new_count),
                static_cast<unsigned long long>(c.deleted_count),
                static_cast<long long>(c.delta_count),
                human_bytes(static_cast<double>(c.alloc_size)).c_str(),
                human_bytes(static_cast<double>(c.freed_size)).c_str(), delta.c_str());
  }
  if (o.limit && rep.classes.size() > o.limit)
    std::printf("… %zu more classes (--limit 0 shows all)\n", rep.classes.size() - o.limit);
  if (!rep.top_growers.empty() && rep.top_growers.front().top_path) {
    const auto& g = rep.top_growers.front();
    std::printf("\nTop grower: %s (+%s, %llu instances, retained %s)\n  %s  (%llu instances)\n",
                g.diff.name.c_str(), human_bytes(static_cast<double>(g.diff.size_delta)).c_str(),
                static_cast<unsigned long long>(g.count),
                human_bytes(static_cast<double>(g.retained_size)).c_str(), g.top_path->text.c_str(),
                static_cast<unsigned long long>(g.top_path->instances));
  }
  return kExitOk;
}

int run_retainers(const Options& o) {
  heapsnap::RetainerOptions ro;
  ro.max_paths = o.paths;
  auto r = heapsnap::retainers_file(o.snapshot, o.class_name, ro);
  if (!r.ok()) return print_error(r.error());
  if (o.json) {
    std::cout << heapsnap::to_json(*r).dump() << "\n";
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
    std::printf("%8llu instances, retained %s\n    %s\n",
                static_cast<unsigned long long>(p.instances),
                human_bytes(static_cast<double>(p.retained_size)).c_str(), p.text.c_str());
  }
  return kExitOk;
}

}  // namespace

void register_heapsnap_commands(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<Options>();

  auto* summary =
      app.add_subcommand("summary", "DevTools' Summary view of a heap snapshot (plain or zstd)");
  summary->add_option("SNAPSHOT", opts->snapshot, "a .heapsnapshot file")->required();
  summary->add_flag("--json", opts->json, "print one JSON object with a \"classes\" array");
  summary->add_option("--limit", opts->limit, "rows in the table (0: all)")->capture_default_str();
  summary->callback([opts, &exit_code] { exit_code = run_summary(*opts); });

  auto* diff = app.add_subcommand("diff", "DevTools' Comparison view of BASE -> TARGET");
  diff->add_option("BASE", opts->base, "the earlier snapshot")->required();
  diff->add_option("TARGET", opts->target, "the later snapshot")->required();
  diff->add_flag("--json", opts->json, "print one JSON object with a \"classes\" array");
  diff->add_option("--limit", opts->limit, "rows in the table (0: all)")->capture_default_str();
  diff->callback([opts, &exit_code] { exit_code = run_diff(*opts); });

  auto* ret = app.add_subcommand("retainers", "shortest retainer paths of a class's instances");
  ret->add_option("SNAPSHOT", opts->snapshot, "a .heapsnapshot file")->required();
  ret->add_option("--class", opts->class_name, "class name as shown by summary")->required();
  ret->add_option("--paths", opts->paths, "distinct paths to show")->capture_default_str();
  ret->add_flag("--json", opts->json, "print one JSON object");
  ret->callback([opts, &exit_code] { exit_code = run_retainers(*opts); });
}

}  // namespace leakwatch::cli
