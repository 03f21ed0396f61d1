#include "leakwatch/heapsnap/report.h"

#include <algorithm>
#include <unordered_map>

namespace leakwatch::heapsnap {

namespace {

// What the Comparison needs from the target, plus what the report adds (retained sizes, paths).
struct TargetSide {
  std::vector<InterfaceDefinition> interfaces;
  Classification classes;
  std::vector<std::uint32_t> self;
  std::vector<std::uint64_t> retained;
  Summary summary;
};

TargetSide analyze_target(const HeapSnapshot& target) {
  TargetSide t;
  t.interfaces = infer_interfaces(target);
  t.classes = classify(target, t.interfaces);
  t.self = shallow_sizes(target);
  Dominators dom = compute_dominators(target, t.self);
  t.summary = summarize(target, t.classes, t.self, dom);
  t.retained = std::move(dom.retained);
  return t;
}

// The base is classified with the target's interface definitions, as DevTools does.
std::vector<ClassMembers> base_members(const HeapSnapshot& base,
                                       const std::vector<InterfaceDefinition>& interfaces,
                                       std::uint64_t& total) {
  Classification classes = classify(base, interfaces);
  std::vector<std::uint32_t> self = shallow_sizes(base);
  total = 0;
  for (auto v : self)
    total += v;
  return class_members(base, classes, self);
}

void finish_report(DiffReport& report, const HeapSnapshot& target, const TargetSide& t,
                   const DiffOptions& options) {
  std::unordered_map<std::string_view, const ClassSummary*> by_key;
  for (const auto& c : t.summary.classes)
    by_key.emplace(c.key, &c);
  std::vector<std::uint32_t> tree;
  for (const auto& d : report.classes) {
    if (report.top_growers.size() >= options.top_n || d.size_delta <= 0) break;
    Grower g;
    g.diff = d;
    if (auto it = by_key.find(d.key); it != by_key.end()) {
      g.count = it->second->count;
      g.self_size = it->second->self_size;
      g.retained_size = it->second->retained_size;
    }
    if (report.top_growers.size() < options.retainer_paths_for) {
      if (tree.empty()) tree = shortest_path_tree(target);
      RetainerOptions ro;
      ro.max_paths = 1;
      RetainerReport r = find_retainers(target, t.classes, t.self, t.retained, tree, d.name, ro);
      if (!r.paths.empty()) g.top_path = r.paths.front();
    }
    report.top_growers.push_back(std::move(g));
  }
  report.target_nodes = target.node_count();
  report.target_total_size = t.summary.total_size;
}

}  // namespace

core::Result<Summary> summarize_file(const std::filesystem::path& path) {
  auto snap = load_file(path);
  if (!snap.ok()) return snap.error();
  return summarize(*snap);
}

core::Result<RetainerReport> retainers_file(const std::filesystem::path& path,
                                            const std::string& class_name,
                                            const RetainerOptions& options) {
  auto snap = load_file(path);
  if (!snap.ok()) return snap.error();
  const HeapSnapshot& s = *snap;
  Classification classes = classify(s, infer_interfaces(s));
  std::vector<std::uint32_t> self = shallow_sizes(s);
  std::vector<std::uint64_t> retained = compute_dominators(s, self).retained;
  std::vector<std::uint32_t> tree = shortest_path_tree(s);
  return find_retainers(s, classes, self, retained, tree, class_name, options);
}

DiffReport diff_snapshots(const HeapSnapshot& base, const HeapSnapshot& target,
                          const DiffOptions& options) {
  DiffReport report;
  TargetSide t = analyze_target(target);
  std::uint64_t base_total = 0;
  std::vector<ClassMembers> bm = base_members(base, t.interfaces, base_total);
  report.classes = compare(bm, class_members(target, t.classes, t.self));
  report.base_nodes = base.node_count();
  report.base_total_size = base_total;
  finish_report(report, target, t, options);
  return report;
}

core::Result<DiffReport> diff_files(const std::filesystem::path& base_path,
                                    const std::filesystem::path& target_path,
                                    const DiffOptions& options) {
  // Target first: its interface definitions name the base's plain objects too. Only one raw graph
  // besides the target's is alive at a time; the base graph is dropped once its classes are known.
  auto target = load_file(target_path);
  if (!target.ok()) return target.error();
  TargetSide t = analyze_target(*target);
  std::vector<ClassMembers> tm = class_members(*target, t.classes, t.self);
  DiffReport report;
  {
    auto base = load_file(base_path);
    if (!base.ok()) return base.error();
    std::uint64_t base_total = 0;
    std::vector<ClassMembers> bm = base_members(*base, t.interfaces, base_total);
    report.base_nodes = base->node_count();
    report.base_total_size = base_total;
    report.classes = compare(bm, tm);
  }
  finish_report(report, *target, t, options);
  return report;
}

nlohmann::json to_json(const Summary& summary) {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : summary.classes) {
    classes.push_back({{"name", c.name},
                       {"count", c.count},
                       {"self_size", c.self_size},
                       {"retained_size", c.retained_size},
                       {"key", c.key}});
  }
  return {{"classes", std::move(classes)},
          {"node_count", summary.node_count},
          {"edge_count", summary.edge_count},
          {"total_size", summary.total_size}};
}

nlohmann::json to_json(const RetainerPath& path) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : path.steps)
    steps.push_back({{"holder", s.holder}, {"edge", s.edge}});
  return {{"text", path.text},
          {"instances", path.instances},
          {"self_size", path.self_size},
          {"retained_size", path.retained_size},
          {"steps", std::move(steps)}};
}

nlohmann::json to_json(const RetainerReport& report) {
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& p : report.paths)
    paths.push_back(to_json(p));
  return {{"class", report.class_name},
          {"instances", report.instances},
          {"unreachable", report.unreachable},
          {"paths", std::move(paths)}};
}

namespace {
nlohmann::json diff_entry(const ClassDiff& d) {
  return {{"name", d.name},
          {"new_count", d.new_count},
          {"deleted_count", d.deleted_count},
          {"delta_count", d.delta_count},
          {"alloc_size", d.alloc_size},
          {"freed_size", d.freed_size},
          {"size_delta", d.size_delta},
          {"key", d.key}};
}
}  // namespace

nlohmann::json to_json(const DiffReport& report) {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& d : report.classes)
    classes.push_back(diff_entry(d));
  nlohmann::json growers = nlohmann::json::array();
  for (const auto& g : report.top_growers) {
    nlohmann::json j = diff_entry(g.diff);
    j["count"] = g.count;
    j["self_size"] = g.self_size;
    j["retained_size"] = g.retained_size;
    if (g.top_path) j["retainer_path"] = to_json(*g.top_path);
    growers.push_back(std::move(j));
  }
  return {{"classes", std::move(classes)},
          {"top_growers", std::move(growers)},
          {"base_nodes", report.base_nodes},
          {"target_nodes", report.target_nodes},
          {"base_total_size", report.base_total_size},
          {"target_total_size", report.target_total_size}};
}

}  // namespace leakwatch::heapsnap
