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

// The top growers, as indexes into `classes` (sorted by size delta): the classes the app's code
// creates first, then the internal categories.
std::vector<std::size_t> grower_order(const std::vector<ClassDiff>& classes,
                                      const DiffOptions& options) {
  std::vector<std::size_t> code, internal;
  for (std::size_t i = 0; i < classes.size() && code.size() < options.top_n; ++i) {
    if (classes[i].size_delta <= 0) break;
    (is_engine_internal(classes[i].name) ? internal : code).push_back(i);
  }
  for (std::size_t i : internal) {
    if (code.size() >= options.top_n) break;
    code.push_back(i);
  }
  return code;
}

// The classes that get retainer paths: the first retainer_paths_for of the top growers.
std::vector<std::string> path_classes(const std::vector<ClassDiff>& classes,
                                      const DiffOptions& options) {
  std::vector<std::string> out;
  for (std::size_t i : grower_order(classes, options)) {
    if (out.size() >= options.retainer_paths_for) break;
    out.push_back(classes[i].name);
  }
  return out;
}

// Paths kept per grower: the headline and the most common native one.
constexpr std::size_t kPathsPerGrower = 8;

// Groups the instances of each path class by retainer path (no retained sizes needed).
std::vector<RetainerGroups> group_paths(const HeapSnapshot& target, const TargetSide& t,
                                        const std::vector<std::uint32_t>& tree,
                                        const std::vector<std::string>& names) {
  RetainerOptions ro;
  ro.max_paths = kPathsPerGrower;
  std::vector<RetainerGroups> out;
  for (const auto& name : names)
    out.push_back(group_retainers(target, t.classes, t.self, tree, name, ro));
  return out;
}

// `groups` are the retainer groups of path_classes(report.classes, options), in that order.
void finish_report(DiffReport& report, const HeapSnapshot& target, const TargetSide& t,
                   const DiffOptions& options, std::vector<RetainerGroups> groups) {
  std::vector<std::uint32_t> js_tree;  // built when a grower is held through native objects
  std::unordered_map<std::string_view, const ClassSummary*> by_key;
  for (const auto& c : t.summary.classes)
    by_key.emplace(c.key, &c);
  for (std::size_t index : grower_order(report.classes, options)) {
    const ClassDiff& d = report.classes[index];
    Grower g;
    g.diff = d;
    g.internal = is_engine_internal(d.name);
    if (auto it = by_key.find(d.key); it != by_key.end()) {
      g.count = it->second->count;
      g.self_size = it->second->self_size;
      g.retained_size = it->second->retained_size;
    }
    const std::size_t i = report.top_growers.size();
    if (i < groups.size()) {
      RetainerReport r = finish_retainers(std::move(groups[i]), t.retained);
      if (!r.paths.empty()) g.top_path = r.paths.front();
      const RetainerPath* js = nullptr;
      const RetainerPath* native = nullptr;
      for (const auto& p : r.paths) {
        if (!p.through_native && js == nullptr) js = &p;
        if (p.through_native && native == nullptr) native = &p;
      }
      if (r.through_native > 0 && js != nullptr) {
        // Paths are sorted by instances: the most common one through JavaScript objects is the
        // headline, the most common native one its context.
        g.top_path = *js;
        if (native != nullptr) g.native_path = *native;
        g.native_instances = r.through_native;
      } else if (r.through_native > 0 && !r.paths.empty()) {
        // Every common shortest path passes native objects (open handles): a second search
        // that does not enter them finds the paths through JavaScript objects, if any.
        if (js_tree.empty()) js_tree = shortest_path_tree(target, true);
        RetainerOptions ro;
        ro.max_paths = 1;
        RetainerReport via_js =
            find_retainers(target, t.classes, t.self, t.retained, js_tree, d.name, ro);
        if (!via_js.paths.empty()) {
          g.top_path = via_js.paths.front();
          if (native != nullptr) g.native_path = *native;
          g.native_instances = r.through_native;
        }
      }
    }
    report.top_growers.push_back(std::move(g));
  }
  report.target_nodes = target.node_count();
  report.target_total_size = t.summary.total_size;
}

}  // namespace

bool is_engine_internal(std::string_view name) {
  if (name.size() >= 2 && name.front() == '(' && name.back() == ')') return true;
  return name.starts_with("system / ") || name.starts_with("Node / ");
}

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

namespace {

core::Result<DiffReport> diff_files_or_throw(const std::filesystem::path& base_path,
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

}  // namespace

core::Result<DiffReport> diff_files(const std::filesystem::path& base_path,
                                    const std::filesystem::path& target_path,
                                    const DiffOptions& options) {
  // The worker threads' exceptions are carried to this thread; none leaves it.
  try {
    return diff_files_or_throw(base_path, target_path, options);
  } catch (const std::bad_alloc&) {
    return core::make_error(core::Errc::too_large,
                            "not enough memory to compare the two snapshots");
  } catch (const std::exception& e) {
    return core::make_error(core::Errc::failed, std::string("the comparison failed: ") + e.what());
  }
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
          {"through_native", path.through_native},
          {"steps", std::move(steps)}};
}

nlohmann::json to_json(const RetainerReport& report) {
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& p : report.paths)
    paths.push_back(to_json(p));
  return {{"class", core::to_valid_utf8(report.class_name)},
          {"instances", report.instances},
          {"unreachable", report.unreachable},
          {"through_native", report.through_native},
          {"paths", std::move(paths)}};
}

namespace {
// "7,140": thousands separated, as people read counts.
std::string grouped(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

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
    j["internal"] = g.internal;
    if (g.top_path) j["retainer_path"] = to_json(*g.top_path);
    if (g.native_path) {
      j["native_holders"] = {{"instances", g.native_instances},
                             {"note", grouped(g.native_instances) + " held by open native handles"},
                             {"retainer_path", to_json(*g.native_path)}};
    }
    growers.push_back(std::move(j));
  }
  nlohmann::json headline = nullptr;
  if (!report.top_growers.empty() && !report.top_growers.front().internal)
    headline = report.top_growers.front().diff.name;
  return {{"classes", std::move(classes)},
          {"top_growers", std::move(growers)},
          {"headline", std::move(headline)},
          {"base_nodes", report.base_nodes},
          {"target_nodes", report.target_nodes},
          {"base_total_size", report.base_total_size},
          {"target_total_size", report.target_total_size}};
}

}  // namespace leakwatch::heapsnap
