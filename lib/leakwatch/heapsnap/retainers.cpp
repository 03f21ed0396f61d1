#include "leakwatch/heapsnap/retainers.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace leakwatch::heapsnap {

namespace {

constexpr std::uint32_t kNone = 0xffffffffu;

bool is_user_root(const HeapSnapshot& s, std::uint32_t v) {
  return s.kind(v) != NodeKind::synthetic || s.name(v) == "(Document DOM trees)";
}

// DevTools' distance filter: skip edges known to give misleading short paths.
bool follow(const HeapSnapshot& s, std::uint32_t from, std::uint32_t e) {
  EdgeKind k = s.edge_kind(e);
  if (k == EdgeKind::weak) return false;
  NodeKind nk = s.kind(from);
  if (nk == NodeKind::hidden && s.edge_has_string_name(e) &&
      s.str(s.edge_name[e]) == "sloppy_function_map" && s.name(from) == "system / NativeContext")
    return false;
  if (nk == NodeKind::array && s.name(from) == "(map descriptors)") {
    std::uint64_t index = 0;
    if (s.edge_has_string_name(e)) {
      std::string_view name = s.str(s.edge_name[e]);
      auto r = std::from_chars(name.data(), name.data() + name.size(), index);
      if (r.ec != std::errc()) return true;  // parseInt gives NaN: NaN < 2 is false, NaN % 3 !== 1
    } else {
      index = s.edge_name[e];
    }
    return index < 2 || index % 3 != 1;
  }
  return true;
}

std::string display_name(const HeapSnapshot& s, const Classification& c, std::uint32_t v) {
  switch (s.kind(v)) {
    case NodeKind::object:
    case NodeKind::native:
      return c.names[c.class_of[v]];
    case NodeKind::closure: {
      std::string_view n = s.name(v);
      return n.empty() ? std::string("Function") : std::string(n) + "()";
    }
    case NodeKind::hidden:
    case NodeKind::synthetic:
    case NodeKind::array:
    case NodeKind::code: {
      std::string_view n = s.name(v);
      if (n.empty()) return c.names[c.class_of[v]];
      return std::string(n.substr(0, 80));
    }
    default:
      return c.names[c.class_of[v]];
  }
}

std::string edge_text(const HeapSnapshot& s, std::uint32_t e, bool aggregate_indexes) {
  EdgeKind k = s.edge_kind(e);
  std::string name;
  if (s.edge_has_string_name(e)) {
    name = std::string(s.str(s.edge_name[e]).substr(0, 80));
  } else {
    name = aggregate_indexes ? std::string() : std::to_string(s.edge_name[e]);
  }
  switch (k) {
    case EdgeKind::context:
      return "->" + name;
    case EdgeKind::element:
      return "[" + name + "]";
    case EdgeKind::weak:
      return "[[" + name + "]]";
    case EdgeKind::property:
    case EdgeKind::shortcut:
      if (!name.empty() &&
          std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return aggregate_indexes ? "[]" : "[" + name + "]";
      return name.find(' ') == std::string::npos ? "." + name : "[\"" + name + "\"]";
    case EdgeKind::internal:
    case EdgeKind::hidden:
      return "{" + name + "}";
    default:
      return "?" + name + "?";
  }
}

}  // namespace

std::vector<std::uint32_t> shortest_path_tree(const HeapSnapshot& s) {
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  std::vector<std::uint32_t> via(n, kNone);
  std::vector<std::uint8_t> seen(n, 0);
  std::vector<std::uint32_t> queue;
  queue.reserve(n);
  // User roots first (distance 1), then everything else from the root, as DevTools does.
  seen[s.root] = 1;
  for (std::uint32_t e = s.first_edge[s.root]; e < s.first_edge[s.root + 1]; ++e) {
    std::uint32_t to = s.edge_to[e];
    if (seen[to] || !is_user_root(s, to)) continue;
    seen[to] = 1;
    via[to] = e;
    queue.push_back(to);
  }
  auto bfs = [&](std::size_t head) {
    for (; head < queue.size(); ++head) {
      std::uint32_t v = queue[head];
      for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
        std::uint32_t to = s.edge_to[e];
        if (seen[to] || !follow(s, v, e)) continue;
        seen[to] = 1;
        via[to] = e;
        queue.push_back(to);
      }
    }
  };
  bfs(0);
  std::size_t head = queue.size();
  queue.push_back(s.root);
  bfs(head);
  return via;
}

RetainerReport find_retainers(const HeapSnapshot& s, const Classification& c,
                              const std::vector<std::uint32_t>& self_size,
                              const std::vector<std::uint64_t>& retained,
                              const std::vector<std::uint32_t>& via, std::string_view class_name,
                              const RetainerOptions& options) {
  RetainerReport report;
  report.class_name = std::string(class_name);
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  // Edge ordinal -> source node: found by binary search on first_edge.
  auto source_of = [&](std::uint32_t e) {
    auto it = std::upper_bound(s.first_edge.begin(), s.first_edge.end(), e);
    return static_cast<std::uint32_t>(it - s.first_edge.begin() - 1);
  };
  std::vector<bool> in_class(c.class_count(), false);
  for (std::size_t k = 0; k < c.class_count(); ++k)
    in_class[k] = c.names[k] == class_name;
  std::unordered_map<std::string, std::size_t> by_text;
  std::vector<RetainerPath> paths;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (!in_class[c.class_of[v]] || self_size[v] == 0) continue;
    ++report.instances;
    if (via[v] == kNone && v != s.root) {
      ++report.unreachable;
      continue;
    }
    RetainerPath path;
    std::string text = display_name(s, c, v);
    std::uint32_t cur = v;
    std::size_t depth = 0;
    while (via[cur] != kNone) {
      std::uint32_t e = via[cur];
      std::uint32_t holder = source_of(e);
      if (holder == s.root) break;
      if (depth == options.max_depth) {
        text += " ← …";
        break;
      }
      RetainerStep step{display_name(s, c, holder), edge_text(s, e, true)};
      text += " ← " + step.holder + step.edge;
      path.steps.push_back(std::move(step));
      cur = holder;
      ++depth;
    }
    auto it = by_text.find(text);
    std::size_t idx;
    if (it == by_text.end()) {
      idx = paths.size();
      path.text = text;
      paths.push_back(std::move(path));
      by_text.emplace(std::move(text), idx);
    } else {
      idx = it->second;
    }
    ++paths[idx].instances;
    paths[idx].self_size += self_size[v];
    if (!retained.empty()) paths[idx].retained_size += retained[v];
  }
  std::sort(paths.begin(), paths.end(), [](const RetainerPath& a, const RetainerPath& b) {
    if (a.instances != b.instances) return a.instances > b.instances;
    if (a.retained_size != b.retained_size) return a.retained_size > b.retained_size;
    return a.text < b.text;
  });
  if (paths.size() > options.max_paths) paths.resize(options.max_paths);
  report.paths = std::move(paths);
  return report;
}

}  // namespace leakwatch::heapsnap
