#include "leakwatch/heapsnap/retainers.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <unordered_map>

#include "leakwatch/core/utf8.h"

namespace leakwatch::heapsnap {

namespace {

constexpr std::uint32_t kNone = 0xffffffffu;
// Node and edge names in paths are cut to this many bytes, on a character boundary.
constexpr std::size_t kMaxNameBytes = 80;

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
      return n.empty() ? std::string("Function") : core::display_text(n, kMaxNameBytes) + "()";
    }
    case NodeKind::hidden:
    case NodeKind::synthetic:
    case NodeKind::array:
    case NodeKind::code: {
      std::string_view n = s.name(v);
      if (n.empty()) return c.names[c.class_of[v]];
      return core::display_text(n, kMaxNameBytes);
    }
    default:
      return c.names[c.class_of[v]];
  }
}

std::string edge_text(const HeapSnapshot& s, std::uint32_t e, bool aggregate_indexes) {
  EdgeKind k = s.edge_kind(e);
  std::string name;
  if (s.edge_has_string_name(e)) {
    name = core::display_text(s.str(s.edge_name[e]), kMaxNameBytes);
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

namespace {

// A small open-addressing map from 64-bit keys to 32-bit values (keys never equal ~0).
class FlatMap {
 public:
  FlatMap() : slots_(64, Slot{kEmpty, 0}) {}
  // Returns the value for key, inserting make() when absent.
  template <typename Make>
  std::uint32_t get_or(std::uint64_t key, Make&& make) {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return slots_[i].value;
      if (slots_[i].key == kEmpty) {
        std::uint32_t value = make();
        slots_[i] = Slot{key, value};
        if (++size_ * 2 > slots_.size()) grow();
        return value;
      }
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = ~0ull;
  struct Slot {
    std::uint64_t key;
    std::uint32_t value;
  };
  static std::size_t hash(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2, Slot{kEmpty, 0});
    old.swap(slots_);
    std::size_t mask = slots_.size() - 1;
    for (const Slot& sl : old) {
      if (sl.key == kEmpty) continue;
      std::size_t i = hash(sl.key) & mask;
      while (slots_[i].key != kEmpty)
        i = (i + 1) & mask;
      slots_[i] = sl;
    }
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

// Interns the pieces of retainer paths as small integers so that a class with millions of
// instances is aggregated without building a string per instance: texts (holder names and edge
// texts), steps (holder text, edge text) and chains (step, rest of the chain) — a trie of shared
// suffixes, memoized per node, so each node's way up to the root is walked once.
class PathInterner {
 public:
  PathInterner(const HeapSnapshot& s, const Classification& c,
               const std::vector<std::uint32_t>& via)
      : s_(s),
        c_(c),
        via_(via),
        memo_(s.node_count(), kUnset),
        class_text_(c.class_count(), kUnset),
        block_source_((s.edge_count() >> kBlockShift) + 1, 0) {
    chains_.push_back(Chain{0, 0, 0});  // id 0: the empty chain (reached the root)
    // The source node of every 64th edge, so that finding an edge's source is a short search in
    // a cache-resident index instead of a binary search over all nodes.
    const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
    for (std::uint32_t v = 0; v < n; ++v) {
      const std::uint64_t b0 =
          (static_cast<std::uint64_t>(s.first_edge[v]) + kBlock - 1) >> kBlockShift;
      for (std::uint64_t b = b0; (b << kBlockShift) < s.first_edge[v + 1]; ++b)
        block_source_[b] = v;
    }
  }

  std::uint32_t node_text(std::uint32_t v) {
    std::uint64_t token;
    switch (s_.kind(v)) {
      case NodeKind::closure:
        token = (1ull << 32) | s_.node_name[v];
        break;
      case NodeKind::hidden:
      case NodeKind::synthetic:
      case NodeKind::array:
      case NodeKind::code:
        token = s_.name(v).empty() ? c_.class_of[v] : ((2ull << 32) | s_.node_name[v]);
        break;
      default:
        token = c_.class_of[v];
        break;
    }
    if (token < class_text_.size()) {
      std::uint32_t& cached = class_text_[token];
      if (cached == kUnset) cached = intern_text(display_name(s_, c_, v));
      return cached;
    }
    return node_text_.get_or(token, [&] { return intern_text(display_name(s_, c_, v)); });
  }

  // The chain of steps from node x up to the root (0 when x hangs directly below the root).
  std::uint32_t chain(std::uint32_t x) {
    // Walk up to a memoized node (or the top), then fill in on the way back.
    pending_.clear();
    std::uint32_t cur = x;
    std::uint32_t top = 0;
    for (;;) {
      if (memo_[cur] != kUnset) {
        top = memo_[cur];
        break;
      }
      std::uint32_t e = via_[cur];
      if (e == kNone) {
        memo_[cur] = 0;
        break;
      }
      std::uint32_t holder = source_of(e);
      if (holder == s_.root) {
        memo_[cur] = 0;
        break;
      }
      pending_.emplace_back(cur, holder);
      cur = holder;
    }
    for (std::size_t i = pending_.size(); i-- > 0;) {
      const auto [node, holder] = pending_[i];
      std::uint32_t step = intern_step(node_text(holder), edge_text_id(via_[node]));
      top = intern_chain(step, top);
      memo_[node] = top;
    }
    return memo_[x];
  }

  std::uint32_t depth(std::uint32_t chain) const { return chains_[chain].depth; }
  // Steps of a chain, from the instance outwards, at most `max` of them.
  std::vector<std::uint32_t> steps(std::uint32_t chain, std::size_t max) const {
    std::vector<std::uint32_t> out;
    while (chain != 0 && out.size() < max) {
      out.push_back(chains_[chain].step);
      chain = chains_[chain].rest;
    }
    return out;
  }
  const std::string& text(std::uint32_t id) const { return texts_[id]; }
  std::uint32_t step_holder(std::uint32_t step) const { return steps_[step].first; }
  std::uint32_t step_edge(std::uint32_t step) const { return steps_[step].second; }

 private:
  static constexpr std::uint32_t kUnset = 0xffffffffu;
  static constexpr unsigned kBlockShift = 6;
  static constexpr std::uint64_t kBlock = 1ull << kBlockShift;
  struct Chain {
    std::uint32_t step, rest, depth;
  };

  std::uint32_t source_of(std::uint32_t e) const {
    // The source is the last node whose first edge is <= e, at or after the block's source.
    const std::uint32_t lo = block_source_[e >> kBlockShift];
    const std::uint64_t next = (static_cast<std::uint64_t>(e >> kBlockShift) + 1) << kBlockShift;
    const std::uint32_t hi = next < s_.edge_count() ? block_source_[(e >> kBlockShift) + 1] + 1
                                                    : static_cast<std::uint32_t>(s_.node_count());
    auto it = std::upper_bound(s_.first_edge.begin() + lo, s_.first_edge.begin() + hi, e);
    return static_cast<std::uint32_t>(it - s_.first_edge.begin() - 1);
  }
  std::uint32_t intern_text(std::string text) {
    auto it = text_ids_.find(text);
    if (it != text_ids_.end()) return it->second;
    std::uint32_t id = static_cast<std::uint32_t>(texts_.size());
    texts_.push_back(text);
    text_ids_.emplace(std::move(text), id);
    return id;
  }
  std::uint32_t edge_text_id(std::uint32_t e) {
    std::uint64_t key = (static_cast<std::uint64_t>(s_.edge_type[e]) << 32) |
                        (s_.edge_has_string_name(e) ? s_.edge_name[e] : 0xffffffffu);
    return edge_text_.get_or(key, [&] { return intern_text(edge_text(s_, e, true)); });
  }
  std::uint32_t intern_step(std::uint32_t holder, std::uint32_t edge) {
    std::uint64_t key = (static_cast<std::uint64_t>(holder) << 32) | edge;
    return step_ids_.get_or(key, [&] {
      steps_.emplace_back(holder, edge);
      return static_cast<std::uint32_t>(steps_.size() - 1);
    });
  }
  std::uint32_t intern_chain(std::uint32_t step, std::uint32_t rest) {
    std::uint64_t key = (static_cast<std::uint64_t>(step) << 32) | rest;
    return chain_ids_.get_or(key, [&] {
      chains_.push_back(Chain{step, rest, chains_[rest].depth + 1});
      return static_cast<std::uint32_t>(chains_.size() - 1);
    });
  }

  const HeapSnapshot& s_;
  const Classification& c_;
  const std::vector<std::uint32_t>& via_;
  std::vector<std::uint32_t> memo_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pending_;  // (node, holder)
  std::vector<std::uint32_t> class_text_;
  std::vector<std::uint32_t> block_source_;
  std::vector<std::string> texts_;
  std::unordered_map<std::string, std::uint32_t> text_ids_;
  FlatMap node_text_, edge_text_, step_ids_, chain_ids_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> steps_;
  std::vector<Chain> chains_;
};

}  // namespace

namespace {

// A path is identified by (instance text, chain) — or, when cut at max_depth, by its first
// max_depth steps.
struct Agg {
  std::uint32_t instance_text = 0;
  std::uint32_t chain = 0;
  bool cut = false;
  std::uint64_t instances = 0, self_size = 0, retained_size = 0;
};

}  // namespace

struct RetainerGroups::Impl {
  explicit Impl(const RetainerOptions& opts) : options(opts) {}
  RetainerOptions options;
  RetainerReport report;
  std::optional<PathInterner> interner;
  std::vector<Agg> aggs;
  // Each reachable instance and its group, for the retained sizes added when finishing.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> members;  // (node, agg)
};

RetainerGroups::RetainerGroups() = default;
RetainerGroups::~RetainerGroups() = default;
RetainerGroups::RetainerGroups(RetainerGroups&&) noexcept = default;
RetainerGroups& RetainerGroups::operator=(RetainerGroups&&) noexcept = default;

RetainerGroups group_retainers(const HeapSnapshot& s, const Classification& c,
                               const std::vector<std::uint32_t>& self_size,
                               const std::vector<std::uint32_t>& via, std::string_view class_name,
                               const RetainerOptions& options) {
  RetainerGroups groups;
  groups.impl_ = std::make_unique<RetainerGroups::Impl>(options);
  RetainerGroups::Impl& g = *groups.impl_;
  g.report.class_name = std::string(class_name);
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  std::vector<bool> in_class(c.class_count(), false);
  bool any = false;
  for (std::size_t k = 0; k < c.class_count(); ++k)
    any |= in_class[k] = c.names[k] == class_name;
  if (!any) return groups;
  PathInterner& interner = g.interner.emplace(s, c, via);
  FlatMap by_chain;
  std::map<std::vector<std::uint32_t>, std::size_t> by_cut;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (!in_class[c.class_of[v]] || self_size[v] == 0) continue;
    ++g.report.instances;
    if (via[v] == kNone && v != s.root) {
      ++g.report.unreachable;
      continue;
    }
    const std::uint32_t text = interner.node_text(v);
    const std::uint32_t chain = interner.chain(v);
    std::uint32_t idx;
    if (interner.depth(chain) <= options.max_depth) {
      std::uint64_t key = (static_cast<std::uint64_t>(text) << 32) | chain;
      idx = by_chain.get_or(key, [&] {
        g.aggs.push_back(Agg{text, chain, false});
        return static_cast<std::uint32_t>(g.aggs.size() - 1);
      });
    } else {
      std::vector<std::uint32_t> key = interner.steps(chain, options.max_depth);
      key.push_back(text);
      auto [it, fresh] = by_cut.emplace(std::move(key), g.aggs.size());
      if (fresh) g.aggs.push_back(Agg{text, chain, true});
      idx = static_cast<std::uint32_t>(it->second);
    }
    Agg& a = g.aggs[idx];
    ++a.instances;
    a.self_size += self_size[v];
    g.members.emplace_back(v, idx);
  }
  return groups;
}

RetainerReport finish_retainers(RetainerGroups groups, const std::vector<std::uint64_t>& retained) {
  if (!groups.impl_) return {};
  RetainerGroups::Impl& g = *groups.impl_;
  RetainerReport report = std::move(g.report);
  if (!g.interner || g.options.max_paths == 0) return report;
  if (!retained.empty())
    for (const auto& [v, idx] : g.members)
      g.aggs[idx].retained_size += retained[v];
  // Only the groups that can make the top max_paths become paths (with texts): those ordered
  // before the max_paths-th by instances and retained size, and those tied with it (the texts
  // break the ties).
  auto before = [&](std::uint32_t a, std::uint32_t b) {
    const Agg& x = g.aggs[a];
    const Agg& y = g.aggs[b];
    if (x.instances != y.instances) return x.instances > y.instances;
    return x.retained_size > y.retained_size;
  };
  std::vector<std::uint32_t> order(g.aggs.size());
  for (std::uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  if (order.size() > g.options.max_paths) {
    const std::size_t last = g.options.max_paths - 1;
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(last), order.end(),
                     before);
    const std::uint32_t boundary = order[last];
    std::erase_if(order, [&](std::uint32_t i) { return before(boundary, i); });
  }
  PathInterner& interner = *g.interner;
  std::vector<RetainerPath> paths;
  paths.reserve(order.size());
  for (std::uint32_t i : order) {
    const Agg& a = g.aggs[i];
    RetainerPath path;
    path.text = interner.text(a.instance_text);
    for (std::uint32_t step : interner.steps(a.chain, g.options.max_depth)) {
      RetainerStep rs{interner.text(interner.step_holder(step)),
                      interner.text(interner.step_edge(step))};
      path.text += " ← " + rs.holder + rs.edge;
      path.steps.push_back(std::move(rs));
    }
    if (a.cut) path.text += " ← …";
    path.instances = a.instances;
    path.self_size = a.self_size;
    path.retained_size = a.retained_size;
    paths.push_back(std::move(path));
  }
  std::sort(paths.begin(), paths.end(), [](const RetainerPath& a, const RetainerPath& b) {
    if (a.instances != b.instances) return a.instances > b.instances;
    if (a.retained_size != b.retained_size) return a.retained_size > b.retained_size;
    return a.text < b.text;
  });
  if (paths.size() > g.options.max_paths) paths.resize(g.options.max_paths);
  report.paths = std::move(paths);
  return report;
}

RetainerReport find_retainers(const HeapSnapshot& s, const Classification& c,
                              const std::vector<std::uint32_t>& self_size,
                              const std::vector<std::uint64_t>& retained,
                              const std::vector<std::uint32_t>& via, std::string_view class_name,
                              const RetainerOptions& options) {
  return finish_retainers(group_retainers(s, c, self_size, via, class_name, options), retained);
}

}  // namespace leakwatch::heapsnap
