#include "leakwatch/heapsnap/report.h"

#include <algorithm>
#include <exception>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>

#include "leakwatch/core/utf8.h"

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

// Dominators, retained sizes and the Summary of the target.
void finish_target(const HeapSnapshot& target, TargetSide& t) {
  Dominators dom = compute_dominators(target, t.self);
  t.summary = summarize(target, t.classes, t.self, dom);
  t.retained = std::move(dom.retained);
}

TargetSide analyze_target(const HeapSnapshot& target) {
  TargetSide t;
  t.interfaces = infer_interfaces(target);
  t.classes = classify(target, t.interfaces);
  t.self = shallow_sizes(target);
  finish_target(target, t);
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

// The classes that get a retainer path: the first retainer_paths_for of the top growers.
std::vector<std::string> path_classes(const std::vector<ClassDiff>& classes,
                                      const DiffOptions& options) {
  std::vector<std::string> out;
  const std::size_t want = std::min(options.top_n, options.retainer_paths_for);
  for (const auto& d : classes) {
    if (out.size() >= want || d.size_delta <= 0) break;
    out.push_back(d.name);
  }
  return out;
}

// Groups the instances of each path class by retainer path (no retained sizes needed).
std::vector<RetainerGroups> group_paths(const HeapSnapshot& target, const TargetSide& t,
                                        const std::vector<std::uint32_t>& tree,
                                        const std::vector<std::string>& names) {
  RetainerOptions ro;
  ro.max_paths = 1;
  std::vector<RetainerGroups> out;
  for (const auto& name : names)
    out.push_back(group_retainers(target, t.classes, t.self, tree, name, ro));
  return out;
}

// `groups` are the retainer groups of path_classes(report.classes, options), in that order.
void finish_report(DiffReport& report, const HeapSnapshot& target, const TargetSide& t,
                   const DiffOptions& options, std::vector<RetainerGroups> groups) {
  std::unordered_map<std::string_view, const ClassSummary*> by_key;
  for (const auto& c : t.summary.classes)
    by_key.emplace(c.key, &c);
  for (const auto& d : report.classes) {
    if (report.top_growers.size() >= options.top_n || d.size_delta <= 0) break;
    Grower g;
    g.diff = d;
    if (auto it = by_key.find(d.key); it != by_key.end()) {
      g.count = it->second->count;
      g.self_size = it->second->self_size;
      g.retained_size = it->second->retained_size;
    }
    const std::size_t i = report.top_growers.size();
    if (i < groups.size()) {
      RetainerReport r = finish_retainers(std::move(groups[i]), t.retained);
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
  const std::vector<std::string> names = path_classes(report.classes, options);
  std::vector<std::uint32_t> tree;
  if (!names.empty()) tree = shortest_path_tree(target);
  finish_report(report, target, t, options, group_paths(target, t, tree, names));
  return report;
}

core::Result<DiffReport> diff_files(const std::filesystem::path& base_path,
                                    const std::filesystem::path& target_path,
                                    const DiffOptions& options) {
  // The two files are parsed and classified on two threads. The target's interface definitions
  // name the base's plain objects too, so the base thread waits for them (they are known right
  // after the target is parsed). The base graph is dropped as soon as its class members are
  // known; the target's dominator tree is then computed while a helper thread builds the
  // shortest-path tree for the retainer paths. No shared state besides what is passed here.
  struct BaseSide {
    std::optional<core::Error> error;
    std::vector<ClassMembers> members;
    std::uint64_t nodes = 0;
    std::uint64_t total = 0;
    std::exception_ptr exception;
  } base_side;
  std::promise<const std::vector<InterfaceDefinition>*> interfaces_promise;
  std::future<const std::vector<InterfaceDefinition>*> interfaces_future =
      interfaces_promise.get_future();
  std::thread base_thread([&] {
    try {
      auto base = load_file(base_path);
      if (!base.ok()) {
        base_side.error = base.error();
        return;
      }
      base_side.nodes = base->node_count();
      std::vector<std::uint32_t> self = shallow_sizes(*base);
      for (auto v : self)
        base_side.total += v;
      const std::vector<InterfaceDefinition>* interfaces = interfaces_future.get();
      if (interfaces == nullptr) return;  // the target failed; its error is reported
      Classification classes = classify(*base, *interfaces);
      base_side.members = class_members(*base, classes, self);
    } catch (...) {
      base_side.exception = std::current_exception();
    }
  });
  struct Joiner {
    std::thread& t;
    std::promise<const std::vector<InterfaceDefinition>*>& p;
    bool published = false;
    ~Joiner() {
      if (!published) p.set_value(nullptr);
      if (t.joinable()) t.join();
    }
  } joiner{base_thread, interfaces_promise};

  auto target = load_file(target_path);
  if (!target.ok()) return target.error();
  TargetSide t;
  t.interfaces = infer_interfaces(*target);
  interfaces_promise.set_value(&t.interfaces);
  joiner.published = true;
  t.classes = classify(*target, t.interfaces);
  t.self = shallow_sizes(*target);
  DiffReport report;
  {
    std::vector<ClassMembers> tm = class_members(*target, t.classes, t.self);
    base_thread.join();
    if (base_side.exception) std::rethrow_exception(base_side.exception);
    if (base_side.error) return *base_side.error;
    report.base_nodes = base_side.nodes;
    report.base_total_size = base_side.total;
    report.classes = compare(base_side.members, tm);
    std::vector<ClassMembers>().swap(base_side.members);
  }
  // The retainer paths need only the shortest-path tree: a helper thread builds it and groups the
  // top growers' instances by path while this thread computes the dominator tree; the retained
  // sizes are added to the groups afterwards.
  const std::vector<std::string> names = path_classes(report.classes, options);
  std::vector<std::uint32_t> tree;
  std::vector<RetainerGroups> groups;
  std::exception_ptr tree_exception;
  std::thread tree_thread;
  if (!names.empty()) {
    tree_thread = std::thread([&] {
      try {
        tree = shortest_path_tree(*target);
        groups = group_paths(*target, t, tree, names);
      } catch (...) {
        tree_exception = std::current_exception();
      }
    });
  }
  try {
    finish_target(*target, t);
  } catch (...) {
    if (tree_thread.joinable()) tree_thread.join();
    throw;
  }
  if (tree_thread.joinable()) tree_thread.join();
  if (tree_exception) std::rethrow_exception(tree_exception);
  finish_report(report, *target, t, options, std::move(groups));
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
  return {{"class", core::to_valid_utf8(report.class_name)},
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
