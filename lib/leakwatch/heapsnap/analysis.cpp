#include "leakwatch/heapsnap/analysis.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "leakwatch/core/utf8.h"

namespace leakwatch::heapsnap {

namespace {

constexpr std::size_t kMaxInterfaceNameLength = 120;
// Class names longer than this are cut when shown (DevTools' own names stay far below it).
constexpr std::size_t kMaxClassNameBytes = 512;

// A stable 64-bit FNV-1a hash of `s` in hex, to tell apart names that show the same.
std::string hex_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
constexpr std::size_t kMinObjectCountPerInterface = 2;
constexpr double kMinObjectProportionPerInterface = 1000.0;

// Length of a UTF-8 string in UTF-16 code units (JavaScript's String.length).
std::size_t js_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) == 0x80) continue;  // continuation byte
    n += (c >= 0xf0) ? 2 : 1;
  }
  return n;
}

// DevTools quotes property names holding , ' " { or } as JSON strings.
std::string format_property_name(std::string_view name) {
  if (name.find_first_of(",'\"{}") == std::string_view::npos) return std::string(name);
  return nlohmann::json(std::string(name))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Which string indexes read "Object" (one, in the snapshots V8 writes): the plain-object test
// then compares indexes instead of reading every object's name.
class PlainObjects {
 public:
  explicit PlainObjects(const HeapSnapshot& s) : s_(s) {
    for (std::uint32_t i = 0; i < s.string_count(); ++i)
      if (s.string_offsets[i + 1] - s.string_offsets[i] == 6 && s.str(i) == "Object")
        names_.push_back(i);
    if (names_.size() > 4) {  // a file that repeats strings: a table instead of a list
      table_.assign(s.string_count(), 0);
      for (std::uint32_t i : names_)
        table_[i] = 1;
    }
  }
  bool operator()(std::uint32_t v) const {
    if (s_.kind(v) != NodeKind::object) return false;
    const std::uint32_t name = s_.node_name[v];
    if (!table_.empty()) return table_[name] != 0;
    for (std::uint32_t i : names_)
      if (i == name) return true;
    return false;
  }

 private:
  const HeapSnapshot& s_;
  std::vector<std::uint32_t> names_;
  std::vector<std::uint8_t> table_;
};

// The sequence of a node's property-edge names (string indexes) as bytes: objects with the same
// sequence have the same shape, whatever is computed from their property names.
void property_key(const HeapSnapshot& s, std::uint32_t v, std::string& key) {
  key.clear();
  for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
    if (s.edge_kind(e) != EdgeKind::property) continue;
    const std::uint32_t name = s.edge_name[e];
    key.append(reinterpret_cast<const char*>(&name), sizeof name);
  }
}

// Matches V8's WeakMap ephemeron edge names, as DevTools' pattern
// /^\d+ \/ part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @(\d+)\)$/
// does: "<n> / part of key (<k> @<id>) -> value (<v> @<id>) pair in WeakMap (table @<table id>)".
// The name ends with a single ')'. Returns the table id (nullopt also when it exceeds every node
// id, which no node can then match). Linear in the name's length, whatever the name holds.
std::optional<std::uint32_t> weakmap_table_id(std::string_view s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  // JavaScript's '.' matches no line terminator: \n, \r, U+2028, U+2029.
  if (s.find_first_of("\n\r") != std::string_view::npos ||
      s.find("\xe2\x80\xa8") != std::string_view::npos ||
      s.find("\xe2\x80\xa9") != std::string_view::npos)
    return std::nullopt;
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  constexpr std::string_view kPrefix = " / part of key (";
  if (s.substr(i, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::size_t mid_begin = i + kPrefix.size();
  // "<digits>)" at the very end of `part`: the position of the " @" before the digits.
  auto id_suffix = [](std::string_view part) -> std::optional<std::size_t> {
    if (part.empty() || part.back() != ')') return std::nullopt;
    std::size_t d = part.size() - 1;
    while (d > 0 && part[d - 1] >= '0' && part[d - 1] <= '9')
      --d;
    if (d == part.size() - 1 || d < 2 || part.substr(d - 2, 2) != " @") return std::nullopt;
    return d - 2;
  };
  constexpr std::string_view kTable = " pair in WeakMap (table @";
  if (s.back() != ')') return std::nullopt;
  std::size_t digits = s.size() - 1;
  while (digits > mid_begin && s[digits - 1] >= '0' && s[digits - 1] <= '9')
    --digits;
  if (digits == s.size() - 1 || digits < mid_begin + kTable.size() ||
      s.substr(digits - kTable.size(), kTable.size()) != kTable)
    return std::nullopt;
  std::string_view table = s.substr(digits, s.size() - 1 - digits);
  const std::string_view mid = s.substr(mid_begin, digits - kTable.size() - mid_begin);
  const auto value_id = id_suffix(mid);
  if (!value_id) return std::nullopt;
  constexpr std::string_view kValue = " -> value (";
  bool found = false;
  for (std::size_t p = mid.find(kValue);
       p != std::string_view::npos && p + kValue.size() <= *value_id; p = mid.find(kValue, p + 1)) {
    if (id_suffix(mid.substr(0, p))) {
      found = true;
      break;
    }
  }
  if (!found) return std::nullopt;
  while (table.size() > 1 && table.front() == '0')
    table.remove_prefix(1);
  if (table.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : table)
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > 0xffffffffull) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// Simple bit vector.
class Bits {
 public:
  explicit Bits(std::size_t n) : words_((n + 63) / 64, 0) {}
  void set(std::size_t i) { words_[i >> 6] |= (1ull << (i & 63)); }
  bool get(std::size_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }

 private:
  std::vector<std::uint64_t> words_;
};

bool has_user_roots(const HeapSnapshot& s) {
  for (std::uint32_t e = s.first_edge[s.root]; e < s.first_edge[s.root + 1]; ++e)
    if (s.kind(s.edge_to[e]) != NodeKind::synthetic) return true;
  return false;
}

// DevTools' "page object" flag: reachable (through non-weak edges) from the root's shortcut edges
// and from "(Document DOM trees)".
std::vector<std::uint8_t> page_owned(const HeapSnapshot& s) {
  const std::size_t n = s.node_count();
  std::vector<std::uint8_t> flag(n, 0);
  std::vector<std::uint32_t> stack;
  for (std::uint32_t e = s.first_edge[s.root]; e < s.first_edge[s.root + 1]; ++e) {
    EdgeKind k = s.edge_kind(e);
    std::uint32_t to = s.edge_to[e];
    if (k == EdgeKind::element) {
      if (!(s.kind(to) == NodeKind::synthetic && s.name(to) == "(Document DOM trees)")) continue;
    } else if (k != EdgeKind::shortcut) {
      continue;
    }
    stack.push_back(to);
    flag[to] = 1;
  }
  while (!stack.empty()) {
    std::uint32_t v = stack.back();
    stack.pop_back();
    for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
      std::uint32_t to = s.edge_to[e];
      if (flag[to] || s.edge_kind(e) == EdgeKind::weak) continue;
      flag[to] = 1;
      stack.push_back(to);
    }
  }
  return flag;
}

// DevTools' propagation of DOM link state through native (embedder) nodes: the nodes it marks
// detached get the name "Detached <name>". Returns a per-node flag (empty: none renamed).
std::vector<std::uint8_t> detached_renamed(const HeapSnapshot& s) {
  if (s.node_detachedness.empty()) return {};
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  std::vector<std::uint8_t> state(s.node_detachedness);
  std::vector<std::uint8_t> visited(n, 0), renamed(n, 0);
  std::vector<std::uint32_t> attached, detached;
  auto process = [&](std::uint32_t v, std::uint8_t st) {
    if (visited[v]) return;
    visited[v] = 1;
    if (s.kind(v) != NodeKind::native) return;
    state[v] = st;
    if (st == 1) {
      attached.push_back(v);
    } else if (st == 2) {
      renamed[v] = 1;
      detached.push_back(v);
    }
  };
  auto propagate = [&](std::uint32_t v, std::uint8_t st) {
    for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
      EdgeKind k = s.edge_kind(e);
      if (k == EdgeKind::hidden || k == EdgeKind::weak) continue;
      process(s.edge_to[e], st);
    }
  };
  for (std::uint32_t v = 0; v < n; ++v)
    if (state[v] != 0) process(v, state[v]);
  while (!attached.empty()) {
    std::uint32_t v = attached.back();
    attached.pop_back();
    propagate(v, 1);
  }
  while (!detached.empty()) {
    std::uint32_t v = detached.back();
    detached.pop_back();
    if (state[v] == 1) continue;
    propagate(v, 2);
  }
  return renamed;
}

std::string raw_name(const HeapSnapshot& s, const std::vector<std::uint8_t>& renamed,
                     std::uint32_t v) {
  if (!renamed.empty() && renamed[v]) return "Detached " + std::string(s.name(v));
  return std::string(s.name(v));
}

}  // namespace

std::vector<InterfaceDefinition> infer_interfaces(const HeapSnapshot& s) {
  struct Candidate {
    std::string name;
    std::vector<std::string> properties;
    std::size_t count = 0;
  };
  std::vector<Candidate> candidates;
  std::unordered_map<std::string, std::size_t> by_name;
  std::size_t total = 0;
  const std::size_t n = s.node_count();
  const PlainObjects is_plain_object(s);
  // What naming needs from a property name, computed once per string index so that a long name
  // shared by many shapes is read once, not once per shape: its formatted length and an id
  // shared by every index with the same text.
  constexpr std::uint32_t kUnknown = 0xffffffffu, kProto = 0xfffffffeu;
  struct PropertyInfo {
    std::uint32_t text = kUnknown;  // canonical string index, or kProto for "__proto__"
    std::uint32_t length = 0;       // formatted length in UTF-16 units
  };
  std::vector<PropertyInfo> info;
  std::unordered_map<std::string_view, std::uint32_t> text_id;
  auto property = [&](std::uint32_t si) -> const PropertyInfo& {
    if (info.empty()) info.resize(s.string_count());
    PropertyInfo& p = info[si];
    if (p.text != kUnknown) return p;
    const std::string_view text = s.str(si);
    if (text == "__proto__") {
      p.text = kProto;
      return p;
    }
    p.text = text_id.emplace(text, si).first->second;
    p.length = static_cast<std::uint32_t>(
        std::min<std::size_t>(js_length(format_property_name(text)), 0x7fffffff));
    return p;
  };
  // Candidate per property sequence (kNoCandidate: no property to name), and per sequence of
  // the properties the name shows, so that a name is built once per distinct name.
  constexpr std::size_t kNoCandidate = ~std::size_t{0};
  std::unordered_map<std::string, std::size_t> by_shape, by_shown;
  std::string key, shown;
  std::vector<std::uint32_t> props;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (!is_plain_object(v)) continue;
    ++total;
    property_key(s, v, key);
    if (auto known = by_shape.find(key); known != by_shape.end()) {
      if (known->second != kNoCandidate) ++candidates[known->second].count;
      continue;
    }
    std::size_t name_len = 1;  // in UTF-16 units
    props.clear();
    shown.clear();
    for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
      if (s.edge_kind(e) != EdgeKind::property) continue;
      const PropertyInfo& p = property(s.edge_name[e]);
      if (p.text == kProto) continue;
      if (name_len > 1 && name_len + p.length > kMaxInterfaceNameLength) break;
      if (name_len != 1) name_len += 2;
      name_len += p.length;
      props.push_back(s.edge_name[e]);
      shown.append(reinterpret_cast<const char*>(&p.text), sizeof p.text);
    }
    if (props.empty()) {
      by_shape.emplace(key, kNoCandidate);
      continue;
    }
    std::size_t c;
    if (auto it = by_shown.find(shown); it != by_shown.end()) {
      c = it->second;
      ++candidates[c].count;
    } else {
      std::string name = "{";
      for (std::size_t i = 0; i < props.size(); ++i) {
        if (i) name += ", ";
        name += format_property_name(s.str(props[i]));
      }
      name += "}";
      if (auto named = by_name.find(name); named != by_name.end()) {
        c = named->second;
        ++candidates[c].count;
      } else {
        c = candidates.size();
        std::vector<std::string> properties;
        for (std::uint32_t si : props)
          properties.emplace_back(s.str(si));
        by_name.emplace(name, c);
        candidates.push_back(Candidate{std::move(name), std::move(properties), 1});
      }
      by_shown.emplace(shown, c);
    }
    by_shape.emplace(key, c);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.count > b.count; });
  const double min_count = std::max(static_cast<double>(kMinObjectCountPerInterface),
                                    static_cast<double>(total) / kMinObjectProportionPerInterface);
  std::vector<InterfaceDefinition> out;
  for (auto& c : candidates) {
    if (static_cast<double>(c.count) < min_count) break;
    out.push_back(InterfaceDefinition{std::move(c.name), std::move(c.properties)});
  }
  return out;
}

namespace {

// The property tree DevTools uses to match plain objects against interface definitions. Property
// names are compared through ranks among the definitions' sorted property names, computed once per
// string index of the snapshot: 2i+1 for the i-th name itself, 2i for names between the (i-1)-th
// and the i-th. Sorting ranks orders names as sorting the names does (names that match no
// definition and share a rank are interchangeable here), so matching a shape reads no string.
class InterfaceMatcher {
 public:
  InterfaceMatcher(const HeapSnapshot& s, const std::vector<InterfaceDefinition>& defs) : s_(s) {
    for (const auto& d : defs)
      for (const auto& p : d.properties)
        names_.push_back(p);
    std::sort(names_.begin(), names_.end());
    names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
    nodes_.emplace_back();
    std::vector<std::uint32_t> props;
    for (std::size_t d = 0; d < defs.size(); ++d) {
      props.clear();
      for (const auto& p : defs[d].properties)
        props.push_back(rank_of(p));
      std::sort(props.begin(), props.end());
      std::size_t cur = 0;
      for (std::uint32_t p : props) {
        auto it = nodes_[cur].next.find(p);
        if (it == nodes_[cur].next.end()) {
          std::size_t idx = nodes_.size();
          nodes_[cur].next.emplace(p, idx);
          nodes_.emplace_back();
          cur = idx;
        } else {
          cur = it->second;
        }
      }
      if (nodes_[cur].match < 0) {
        nodes_[cur].match = static_cast<int>(d);
        nodes_[cur].match_props = props.size();
      }
    }
  }

  // The rank of the snapshot's string `si`.
  std::uint32_t rank(std::uint32_t si) {
    if (ranks_.empty()) ranks_.assign(s_.string_count(), kUnset);
    std::uint32_t& r = ranks_[si];
    if (r == kUnset) r = rank_of(s_.str(si));
    return r;
  }

  // Returns the index of the best definition for the (sorted) property ranks, or -1.
  int match(const std::vector<std::uint32_t>& sorted_props) {
    int best = -1;
    std::size_t best_props = 0;
    auto better = [&](const Node& nd) {
      if (nd.match < 0) return;
      if (best < 0 || nd.match_props > best_props ||
          (nd.match_props == best_props && nd.match < best)) {
        best = nd.match;
        best_props = nd.match_props;
      }
    };
    better(nodes_[0]);
    states_.assign(1, 0);
    for (std::uint32_t p : sorted_props) {
      std::size_t count = states_.size();
      for (std::size_t i = 0; i < count; ++i) {
        std::size_t st = states_[i];
        const Node& nd = nodes_[st];
        if (nd.next.empty() || p >= nd.next.rbegin()->first) removed_.push_back(st);
        auto it = nd.next.find(p);
        if (it != nd.next.end()) {
          if (std::find(states_.begin(), states_.end(), it->second) == states_.end())
            states_.push_back(it->second);
          better(nodes_[it->second]);
        }
      }
      if (!removed_.empty()) {
        std::erase_if(states_, [&](std::size_t st) {
          return std::find(removed_.begin(), removed_.end(), st) != removed_.end();
        });
        removed_.clear();
      }
      if (states_.empty()) break;
    }
    return best;
  }

 private:
  static constexpr std::uint32_t kUnset = 0xffffffffu;
  struct Node {
    std::map<std::uint32_t, std::size_t> next;
    int match = -1;
    std::size_t match_props = 0;
  };
  std::uint32_t rank_of(std::string_view p) const {
    auto it = std::lower_bound(names_.begin(), names_.end(), p,
                               [](const std::string& a, std::string_view b) { return a < b; });
    const auto i = static_cast<std::uint32_t>(it - names_.begin());
    return (it != names_.end() && *it == p) ? 2 * i + 1 : 2 * i;
  }
  const HeapSnapshot& s_;
  std::vector<std::string> names_;
  std::vector<std::uint32_t> ranks_;
  std::vector<Node> nodes_;
  std::vector<std::size_t> states_;
  std::vector<std::size_t> removed_;
};

struct LocKey {
  std::uint32_t script, line, column, klass;
  bool operator==(const LocKey&) const = default;
};
struct LocKeyHash {
  std::size_t operator()(const LocKey& k) const {
    std::uint64_t h = k.script * 0x9e3779b97f4a7c15ull;
    h ^= (k.line + 0x632be59bd9b4e019ull) + (h << 6) + (h >> 2);
    h ^= (k.column + 0x85ebca6bull) + (h << 6) + (h >> 2);
    h ^= (k.klass + 0xc2b2ae35ull) + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
  }
};

}  // namespace

Classification classify(const HeapSnapshot& s, const std::vector<InterfaceDefinition>& interfaces) {
  Classification out;
  const std::size_t n = s.node_count();
  out.class_of = std::vector<std::uint32_t>(n);
  // Class names first (a "name id" per distinct display name), then keys with locations.
  // Names are shown valid and cut (kMaxClassNameBytes); a name that had to be changed is told
  // apart in its key by a hash of the original, so distinct classes stay distinct. Each class
  // then holds a name of bounded size, however long and however shared the original is.
  std::unordered_map<std::string, std::uint32_t> name_ids;
  std::vector<std::string> names;      // per name id, as shown
  std::vector<std::string> key_names;  // per name id, as written in keys
  auto name_id = [&](std::string name) -> std::uint32_t {
    auto it = name_ids.find(name);
    if (it != name_ids.end()) return it->second;
    std::uint32_t id = static_cast<std::uint32_t>(names.size());
    std::string shown = core::display_text(name, kMaxClassNameBytes);
    std::string keyed = shown;
    if (shown != name) keyed += "#" + hex_hash(name);
    names.push_back(std::move(shown));
    key_names.push_back(std::move(keyed));
    name_ids.emplace(std::move(name), id);
    return id;
  };
  std::vector<std::uint32_t> type_name(s.node_type_names.size(), UINT32_MAX);
  std::vector<std::uint32_t> string_name, string_name_detached;
  const std::vector<std::uint8_t> renamed = detached_renamed(s);
  std::vector<std::uint32_t> interface_name(interfaces.size(), UINT32_MAX);
  InterfaceMatcher matcher(s, interfaces);
  std::vector<std::uint32_t> props;
  const PlainObjects is_plain_object(s);
  // The matched interface per property sequence (the match depends on the names only).
  std::unordered_map<std::string, int> match_of_shape;
  std::string key;

  std::vector<std::uint32_t> node_name_id(n);
  for (std::uint32_t v = 0; v < n; ++v) {
    std::uint32_t t = s.node_type[v];
    std::uint32_t id;
    switch (s.node_type_kinds[t]) {
      case NodeKind::object:
      case NodeKind::native: {
        if (!interfaces.empty() && is_plain_object(v)) {
          property_key(s, v, key);
          auto known = match_of_shape.find(key);
          if (known == match_of_shape.end()) {
            props.clear();
            for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e)
              if (s.edge_kind(e) == EdgeKind::property)
                props.push_back(matcher.rank(s.edge_name[e]));
            std::sort(props.begin(), props.end());
            known = match_of_shape.emplace(key, matcher.match(props)).first;
          }
          const int m = known->second;
          if (m >= 0) {
            if (interface_name[m] == UINT32_MAX) interface_name[m] = name_id(interfaces[m].name);
            id = interface_name[m];
            break;
          }
        }
        std::uint32_t si = s.node_name[v];
        const bool det = !renamed.empty() && renamed[v];
        std::vector<std::uint32_t>& cache = det ? string_name_detached : string_name;
        if (cache.empty()) cache.assign(s.string_count(), UINT32_MAX);
        if (cache[si] == UINT32_MAX) {
          std::string name = raw_name(s, renamed, v);
          if (name.starts_with('<')) {
            std::size_t sp = name.find(' ');
            if (sp != std::string::npos) name = name.substr(0, sp) + ">";
          } else if (name.starts_with("Detached <")) {
            std::size_t sp = name.find(' ', 10);
            if (sp != std::string::npos) name = name.substr(0, sp) + ">";
          }
          cache[si] = name_id(std::move(name));
        }
        id = cache[si];
        break;
      }
      default: {
        if (type_name[t] == UINT32_MAX) {
          std::string name;
          switch (s.node_type_kinds[t]) {
            case NodeKind::hidden:
              name = "(system)";
              break;
            case NodeKind::code:
              name = "(compiled code)";
              break;
            case NodeKind::closure:
              name = "Function";
              break;
            case NodeKind::regexp:
              name = "RegExp";
              break;
            default:
              name = "(" + s.node_type_names[t] + ")";
              break;
          }
          type_name[t] = name_id(std::move(name));
        }
        id = type_name[t];
        break;
      }
    }
    node_name_id[v] = id;
  }
  // Keys: ",name" per name id; objects with a location get "script,line,col,name".
  std::vector<std::uint32_t> plain_class(names.size(), UINT32_MAX);
  std::unordered_map<LocKey, std::uint32_t, LocKeyHash> loc_class;
  std::unordered_map<std::string, std::uint32_t> key_class;  // public keys are unique
  auto class_for_key = [&](std::string key, const std::string& name) {
    auto it = key_class.find(key);
    if (it != key_class.end()) return it->second;
    std::uint32_t c = static_cast<std::uint32_t>(out.keys.size());
    out.keys.push_back(key);
    out.names.push_back(name);
    key_class.emplace(std::move(key), c);
    return c;
  };
  auto loc_it = s.locations.begin();
  for (std::uint32_t v = 0; v < n; ++v) {
    while (loc_it != s.locations.end() && loc_it->node < v)
      ++loc_it;
    std::uint32_t nid = node_name_id[v];
    const Location* loc = (loc_it != s.locations.end() && loc_it->node == v) ? &*loc_it : nullptr;
    if (loc != nullptr && s.kind(v) == NodeKind::object) {
      LocKey k{loc->script_id, loc->line, loc->column, nid};
      auto it = loc_class.find(k);
      if (it == loc_class.end()) {
        std::string key = std::to_string(loc->script_id) + "," + std::to_string(loc->line) + "," +
                          std::to_string(loc->column) + "," + key_names[nid];
        it = loc_class.emplace(k, class_for_key(std::move(key), names[nid])).first;
      }
      out.class_of[v] = it->second;
    } else {
      if (plain_class[nid] == UINT32_MAX)
        plain_class[nid] = class_for_key("," + key_names[nid], names[nid]);
      out.class_of[v] = plain_class[nid];
    }
  }
  return out;
}

std::vector<std::uint32_t> shallow_sizes(const HeapSnapshot& s) {
  std::vector<std::uint32_t> size(s.node_self_size);
  if (!has_user_roots(s)) return size;
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  const std::vector<std::uint8_t> renamed = detached_renamed(s);
  constexpr std::uint32_t kUnvisited = 0xffffffff;
  constexpr std::uint32_t kMultiple = 0xfffffffe;
  std::vector<std::uint32_t> owner(n);
  std::vector<std::uint32_t> work;
  work.reserve(n);
  for (std::uint32_t v = 0; v < n; ++v) {
    NodeKind k = s.kind(v);
    if (k == NodeKind::hidden || k == NodeKind::array ||
        (k == NodeKind::native && s.name(v) == "system / ExternalStringData" &&
         !(renamed.size() && renamed[v]))) {
      owner[v] = kUnvisited;
    } else {
      owner[v] = v;
      work.push_back(v);
    }
  }
  while (!work.empty()) {
    std::uint32_t v = work.back();
    work.pop_back();
    std::uint32_t own = owner[v];
    for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
      if (s.edge_kind(e) == EdgeKind::weak) continue;
      std::uint32_t t = s.edge_to[e];
      std::uint32_t cur = owner[t];
      if (cur == kUnvisited) {
        owner[t] = own;
        work.push_back(t);
      } else if (cur == t || cur == own || cur == kMultiple) {
        // nothing to change
      } else {
        owner[t] = kMultiple;
        work.push_back(t);
      }
    }
  }
  for (std::uint32_t v = 0; v < n; ++v) {
    std::uint32_t own = owner[v];
    if (own == kUnvisited || own == kMultiple || own == v) continue;
    if (s.kind(own) == NodeKind::synthetic || own == s.root) continue;
    size[own] += size[v];
    size[v] = 0;
  }
  return size;
}

Dominators compute_dominators(const HeapSnapshot& s, const std::vector<std::uint32_t>& self_size) {
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  const std::size_t m = s.edge_count();
  const std::uint32_t root = s.root;

  // 1. Essential edges, and the number of essential predecessors of each vertex (vertices are
  //    numbered 1..n: node ordinal + 1; 0 is "none").
  const std::size_t len = static_cast<std::size_t>(n) + 1;
  std::vector<std::uint32_t> pred_count(len);  // per vertex
  std::size_t essential_count = 0;
  Bits essential(m);
  {
    std::vector<std::uint8_t> page = page_owned(s);
    const bool any_page = std::find(page.begin(), page.end(), 1) != page.end();
    // WeakMap table edges: decided once per edge name.
    std::vector<std::uint8_t> weakmap_state(s.string_count(),
                                            0);  // 0 unknown, 1 not weakmap, 2 weakmap
    std::unordered_map<std::uint32_t, std::uint32_t> weakmap_table;
    for (std::uint32_t v = 0; v < n; ++v) {
      const bool from_root = v == root;
      const bool v_page = page[v] != 0;
      for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e) {
        EdgeKind k = s.edge_kind(e);
        if (k == EdgeKind::weak) continue;
        if (k == EdgeKind::internal) {
          std::uint32_t name = s.edge_name[e];
          if (weakmap_state[name] == 0) {
            auto table = weakmap_table_id(s.str(name));
            weakmap_state[name] = table ? 2 : 1;
            if (table) weakmap_table.emplace(name, *table);
          }
          if (weakmap_state[name] == 2 && weakmap_table[name] == s.node_id[v]) continue;
        }
        std::uint32_t to = s.edge_to[e];
        if (to == v) continue;
        if (!from_root) {
          if (k == EdgeKind::shortcut) continue;
          if (any_page && page[to] && !v_page) continue;
        }
        essential.set(e);
        ++pred_count[to + 1];
        ++essential_count;
      }
    }
  }

  // 2. Depth-first numbering from the root. DFS order, orphan handling and the treatment of
  //    unreachable nodes follow DevTools so the trees are identical.
  std::vector<std::uint32_t> vertex(len);  // DFS number -> vertex
  std::vector<std::uint32_t> num(len);     // vertex -> DFS number
  std::vector<std::uint32_t> parent(len);  // vertex -> vertex
  std::vector<std::uint32_t> next_edge(len);
  const std::uint32_t r = root + 1;
  std::uint32_t count = 0;
  Dominators out;
  {
    auto dfs = [&](std::uint32_t start) {
      next_edge[start - 1] = s.first_edge[start - 1];
      std::uint32_t v = start;
      while (v != 0) {
        if (num[v] == 0) {
          num[v] = ++count;
          vertex[count] = v;
        }
        std::uint32_t v_next = parent[v];
        const std::uint32_t vo = v - 1;
        const std::uint32_t end = s.first_edge[vo + 1];
        for (; next_edge[vo] < end; ++next_edge[vo]) {
          std::uint32_t e = next_edge[vo];
          if (!essential.get(e)) continue;
          std::uint32_t w = s.edge_to[e] + 1;
          if (num[w] == 0) {
            parent[w] = v;
            next_edge[w - 1] = s.first_edge[w - 1];
            v_next = w;
            break;
          }
        }
        v = v_next;
      }
    };
    dfs(r);
    // Everything the first DFS reached is reachable from the root through essential edges.
    out.unreachable = n - count;
    if (count < n) {
      for (std::uint32_t v = 1; v <= n; ++v) {
        if (num[v] == 0 && pred_count[v] == 0) {  // only weak retainers
          parent[v] = r;
          dfs(v);
        }
      }
    }
    if (count < n) {
      for (std::uint32_t v = 1; v <= n; ++v) {
        if (num[v] == 0) {
          parent[v] = r;
          num[v] = ++count;
          vertex[count] = v;
        }
      }
    }
  }

  // 3. Lengauer–Tarjan (simple eval/link) on the DFS numbers: every array below is indexed by DFS
  //    number and holds DFS numbers, so the main loop (DFS numbers descending) reads its vertex's
  //    data and predecessor list sequentially. The computation is the one on vertices, renamed.
  //    Working arrays are scoped so that only `vertex`, `dom` and `parent` (whose storage becomes
  //    the labels, then the result's idom) outlive the algorithm.
  std::vector<std::uint32_t> dom(len);
  {
    // Predecessors over essential edges, by DFS number, in the order of their source ordinals.
    std::vector<std::uint32_t> first_pred(len + 1);
    for (std::uint32_t i = 1; i <= count; ++i)
      first_pred[i + 1] = first_pred[i] + pred_count[vertex[i]];
    std::vector<std::uint32_t> preds(essential_count);
    {
      std::vector<std::uint32_t>& fill = pred_count;  // reused: counts are no longer needed
      for (std::uint32_t v = 1; v <= n; ++v)
        fill[v] = first_pred[num[v]];
      for (std::uint32_t v = 0; v < n; ++v) {
        const std::uint32_t from = num[v + 1];
        for (std::uint32_t e = s.first_edge[v]; e < s.first_edge[v + 1]; ++e)
          if (essential.get(e)) preds[fill[s.edge_to[e] + 1]++] = from;
      }
    }
    // parent, semi, label and ancestor by DFS number, in the storage of arrays no longer needed
    // (fresh pages cost more than the copies).
    std::vector<std::uint32_t> par = std::move(next_edge);
    par[0] = par[1] = 0;
    for (std::uint32_t i = 2; i <= count; ++i)
      par[i] = num[parent[vertex[i]]];
    std::vector<std::uint32_t>& semi = num;
    std::vector<std::uint32_t>& label = parent;
    std::vector<std::uint32_t> ancestor = std::move(pred_count);  // was the fill positions
    std::fill(ancestor.begin(), ancestor.end(), 0);
    for (std::uint32_t i = 0; i <= count; ++i)
      semi[i] = label[i] = i;
    std::vector<std::uint32_t> stack;
    auto compress = [&](std::uint32_t v) {
      stack.clear();
      while (ancestor[ancestor[v]] != 0) {
        stack.push_back(v);
        v = ancestor[v];
      }
      while (!stack.empty()) {
        std::uint32_t w = stack.back();
        stack.pop_back();
        if (semi[label[ancestor[w]]] < semi[label[w]]) label[w] = label[ancestor[w]];
        ancestor[w] = ancestor[ancestor[w]];
      }
    };
    auto eval = [&](std::uint32_t v) {
      if (ancestor[v] == 0) return v;
      compress(v);
      return label[v];
    };
    // Buckets as intrusive lists: each vertex sits in at most one bucket at a time.
    std::vector<std::uint32_t> bucket_head(len), bucket_next(len);
    constexpr std::uint32_t kRootNumber = 1;
    for (std::uint32_t w = count; w >= 2; --w) {
      const std::uint32_t p_begin = first_pred[w], p_end = first_pred[w + 1];
      for (std::uint32_t p = p_begin; p < p_end; ++p) {
        std::uint32_t u = eval(preds[p]);
        if (semi[u] < semi[w]) semi[w] = semi[u];
      }
      if (p_begin == p_end) semi[w] = semi[kRootNumber];  // an orphan
      const std::uint32_t b = semi[w];
      bucket_next[w] = bucket_head[b];
      bucket_head[b] = w;
      const std::uint32_t pw = par[w];
      ancestor[w] = pw;  // link
      for (std::uint32_t v = bucket_head[pw]; v != 0;) {
        std::uint32_t nx = bucket_next[v];
        std::uint32_t u = eval(v);
        dom[v] = semi[u] < semi[v] ? u : pw;
        v = nx;
      }
      bucket_head[pw] = 0;
    }
    dom[0] = dom[kRootNumber] = kRootNumber;
    for (std::uint32_t w = 2; w <= count; ++w)
      if (dom[w] != semi[w]) dom[w] = dom[dom[w]];
  }
  std::vector<std::uint32_t>().swap(num);
  // Back to node ordinals (into the storage of the labels).
  out.idom = std::move(parent);
  out.idom.resize(n);
  for (std::uint32_t i = 1; i <= count; ++i)
    out.idom[vertex[i] - 1] = vertex[dom[i]] - 1;
  std::vector<std::uint32_t>().swap(dom);
  out.retained = std::vector<std::uint64_t>(n);
  for (std::uint32_t v = 0; v < n; ++v)
    out.retained[v] = self_size[v];
  for (std::uint32_t i = count; i > 1; --i) {
    std::uint32_t v = vertex[i] - 1;
    out.retained[out.idom[v]] += out.retained[v];
  }
  return out;
}

Summary summarize(const HeapSnapshot& s, const Classification& classes,
                  const std::vector<std::uint32_t>& self_size, const Dominators& dom) {
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  const std::size_t nc = classes.class_count();
  std::vector<ClassSummary> agg(nc);
  std::vector<std::uint8_t> present(nc, 0);
  for (std::uint32_t v = 0; v < n; ++v) {
    if (self_size[v] == 0) continue;
    std::uint32_t c = classes.class_of[v];
    present[c] = 1;
    ++agg[c].count;
    agg[c].self_size += self_size[v];
  }
  // Retained size of a class: sum over its top-most instances in the dominator tree.
  std::vector<std::uint32_t> first_child(std::size_t{n} + 1);
  std::vector<std::uint32_t> children(n > 0 ? n - 1 : 0);
  for (std::uint32_t v = 0; v < n; ++v)
    if (v != s.root) ++first_child[dom.idom[v] + 1];
  for (std::uint32_t v = 0; v < n; ++v)
    first_child[v + 1] += first_child[v];
  {
    std::vector<std::uint32_t> fill(first_child.begin(), first_child.end() - 1);
    for (std::uint32_t v = 0; v < n; ++v)
      if (v != s.root) children[fill[dom.idom[v]]++] = v;
  }
  std::vector<std::uint32_t> inside(nc, 0);
  std::vector<std::uint32_t> stack{s.root};
  constexpr std::uint32_t kExit = 0x80000000u;
  while (!stack.empty()) {
    std::uint32_t item = stack.back();
    stack.pop_back();
    if (item & kExit) {
      --inside[classes.class_of[item & ~kExit]];
      continue;
    }
    std::uint32_t v = item;
    std::uint32_t c = classes.class_of[v];
    bool has_children = first_child[v] != first_child[v + 1];
    if (inside[c] == 0 && self_size[v] != 0) {
      agg[c].retained_size += dom.retained[v];
      if (has_children) {
        ++inside[c];
        stack.push_back(v | kExit);
      }
    }
    for (std::uint32_t i = first_child[v]; i < first_child[v + 1]; ++i)
      stack.push_back(children[i]);
  }
  Summary out;
  out.node_count = n;
  out.edge_count = s.edge_count();
  out.total_size = dom.retained[s.root] + s.extra_native_bytes;
  for (std::size_t c = 0; c < nc; ++c) {
    if (!present[c]) continue;
    agg[c].key = classes.keys[c];
    agg[c].name = classes.names[c];
    out.classes.push_back(std::move(agg[c]));
  }
  std::sort(out.classes.begin(), out.classes.end(),
            [](const ClassSummary& a, const ClassSummary& b) {
              if (a.retained_size != b.retained_size) return a.retained_size > b.retained_size;
              if (a.self_size != b.self_size) return a.self_size > b.self_size;
              return a.key < b.key;
            });
  return out;
}

Summary summarize(const HeapSnapshot& s) {
  auto classes = classify(s, infer_interfaces(s));
  auto self = shallow_sizes(s);
  auto dom = compute_dominators(s, self);
  return summarize(s, classes, self, dom);
}

std::vector<ClassMembers> class_members(const HeapSnapshot& s, const Classification& classes,
                                        const std::vector<std::uint32_t>& self_size) {
  const std::size_t nc = classes.class_count();
  std::vector<ClassMembers> out(nc);
  std::vector<std::uint32_t> counts(nc, 0);
  const std::uint32_t n = static_cast<std::uint32_t>(s.node_count());
  for (std::uint32_t v = 0; v < n; ++v)
    if (self_size[v] != 0) ++counts[classes.class_of[v]];
  for (std::size_t c = 0; c < nc; ++c) {
    out[c].key = classes.keys[c];
    out[c].name = classes.names[c];
    out[c].ids.reserve(counts[c]);
    out[c].sizes.reserve(counts[c]);
  }
  for (std::uint32_t v = 0; v < n; ++v) {
    if (self_size[v] == 0) continue;
    auto& m = out[classes.class_of[v]];
    m.ids.push_back(s.node_id[v]);
    m.sizes.push_back(self_size[v]);
  }
  std::vector<std::uint32_t> order;
  for (auto& m : out) {
    if (std::is_sorted(m.ids.begin(), m.ids.end())) continue;
    order.resize(m.ids.size());
    for (std::uint32_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return m.ids[a] < m.ids[b]; });
    std::vector<std::uint32_t> ids(order.size()), sizes(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      ids[i] = m.ids[order[i]];
      sizes[i] = m.sizes[order[i]];
    }
    m.ids = std::move(ids);
    m.sizes = std::move(sizes);
  }
  std::erase_if(out, [](const ClassMembers& m) { return m.ids.empty(); });
  return out;
}

std::vector<ClassDiff> compare(const std::vector<ClassMembers>& base,
                               const std::vector<ClassMembers>& target) {
  std::unordered_map<std::string_view, const ClassMembers*> target_by_key;
  for (const auto& t : target)
    target_by_key.emplace(t.key, &t);
  static const ClassMembers kEmpty;
  std::vector<ClassDiff> out;
  auto diff_one = [&](const ClassMembers& b, const ClassMembers& t, const std::string& key,
                      const std::string& name) {
    ClassDiff d;
    d.key = key;
    d.name = name;
    std::size_t i = 0, j = 0;
    while (i < b.ids.size() && j < t.ids.size()) {
      if (b.ids[i] < t.ids[j]) {
        ++d.deleted_count;
        d.freed_size += b.sizes[i++];
      } else if (b.ids[i] > t.ids[j]) {
        ++d.new_count;
        d.alloc_size += t.sizes[j++];
      } else {
        ++i;
        ++j;
      }
    }
    for (; i < b.ids.size(); ++i) {
      ++d.deleted_count;
      d.freed_size += b.sizes[i];
    }
    for (; j < t.ids.size(); ++j) {
      ++d.new_count;
      d.alloc_size += t.sizes[j];
    }
    if (d.new_count == 0 && d.deleted_count == 0) return;
    d.delta_count =
        static_cast<std::int64_t>(d.new_count) - static_cast<std::int64_t>(d.deleted_count);
    d.size_delta =
        static_cast<std::int64_t>(d.alloc_size) - static_cast<std::int64_t>(d.freed_size);
    out.push_back(std::move(d));
  };
  std::unordered_map<std::string_view, bool> in_base;
  for (const auto& b : base) {
    in_base.emplace(b.key, true);
    auto it = target_by_key.find(b.key);
    if (it != target_by_key.end())
      diff_one(b, *it->second, b.key, it->second->name);
    else
      diff_one(b, kEmpty, b.key, b.name);
  }
  for (const auto& t : target)
    if (!in_base.count(t.key)) diff_one(kEmpty, t, t.key, t.name);
  std::sort(out.begin(), out.end(), [](const ClassDiff& a, const ClassDiff& b) {
    if (a.size_delta != b.size_delta) return a.size_delta > b.size_delta;
    if (a.delta_count != b.delta_count) return a.delta_count > b.delta_count;
    return a.key < b.key;
  });
  return out;
}

}  // namespace leakwatch::heapsnap
