#pragma once
// Generators of hostile heap snapshots: small files that made earlier versions quadratic in time
// or memory. Used by the budget test (hostile_test.cpp) and to write the fuzzer's corpus.
#include <cstddef>
#include <string>
#include <vector>

namespace leakwatch::heapsnap::hostile {

// A snapshot written straight as text. Node fields: type name id self_size edge_count
// trace_node_id; types as V8 writes them (3 object, 9 synthetic); edge types 2 property,
// 3 internal.
class Writer {
 public:
  // Returns the string index of `s` (no de-duplication: the caller decides).
  std::size_t str(std::string s) {
    strings_.push_back(std::move(s));
    return strings_.size() - 1;
  }
  std::size_t node(int type, std::size_t name, std::size_t self_size) {
    nodes_.push_back(Node{type, name, 2 * nodes_.size() + 1, self_size, {}});
    return nodes_.size() - 1;
  }
  void edge(std::size_t from, int type, std::size_t name, std::size_t to) {
    nodes_[from].edges.push_back(Edge{type, name, to});
  }
  void location(std::size_t node, std::size_t script, std::size_t line, std::size_t column) {
    locations_ += (locations_.empty() ? "" : ",") + std::to_string(node * 6) + "," +
                  std::to_string(script) + "," + std::to_string(line) + "," +
                  std::to_string(column);
  }
  std::string json() const {
    std::string out =
        R"({"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id"],)"
        R"("node_types":[["hidden","array","string","object","code","closure","regexp","number","native",)"
        R"("synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string",)"
        R"("number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],)"
        R"("edge_types":[["context","element","property","internal","hidden","shortcut","weak"],)"
        R"("string_or_number","node"],"location_fields":["object_index","script_id","line","column"]},)";
    std::size_t edges = 0;
    for (const auto& n : nodes_)
      edges += n.edges.size();
    out += "\"node_count\":" + std::to_string(nodes_.size()) +
           ",\"edge_count\":" + std::to_string(edges) + "},\"nodes\":[";
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      out += (i ? ",\n" : "") + std::to_string(n.type) + "," + std::to_string(n.name) + "," +
             std::to_string(n.id) + "," + std::to_string(n.size) + "," +
             std::to_string(n.edges.size()) + ",0";
    }
    out += "],\"edges\":[";
    bool first = true;
    for (const auto& n : nodes_) {
      for (const auto& e : n.edges) {
        out += (first ? "" : ",\n") + std::to_string(e.type) + "," + std::to_string(e.name) + "," +
               std::to_string(e.to * 6);
        first = false;
      }
    }
    out += "],\"locations\":[" + locations_ + "],\"strings\":[";
    for (std::size_t i = 0; i < strings_.size(); ++i)
      out += (i ? ",\n\"" : "\"") + strings_[i] + "\"";  // strings are written as JSON already
    out += "]}";
    return out;
  }

 private:
  struct Edge {
    int type;
    std::size_t name, to;
  };
  struct Node {
    int type;
    std::size_t name, id, size;
    std::vector<Edge> edges;
  };
  std::vector<std::string> strings_;
  std::vector<Node> nodes_;
  std::string locations_;
};

// The root and a user root ("global") that holds every other object through property edges.
inline std::size_t add_roots(Writer& w) {
  w.node(9, w.str(""), 0);
  std::size_t global = w.node(3, w.str("global"), 16);
  w.edge(0, 5, w.str("global"), global);
  return global;
}

// `count` objects sharing one class name of `name_bytes` bytes, each with its own constructor
// location: one class per location. A class key that copies the name is count * name_bytes.
inline std::string shared_long_class_name(std::size_t count, std::size_t name_bytes) {
  Writer w;
  const std::size_t global = add_roots(w);
  const std::size_t name = w.str(std::string(name_bytes, 'C'));
  const std::size_t slot = w.str("slot");
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t v = w.node(3, name, 32);
    w.edge(global, 3, slot, v);
    w.location(v, 1, i, 7);
  }
  return w.json();
}

// `count` plain objects, each with its own shape: two long property names (`name_bytes` each,
// sharing all but their last byte) and one distinct short one; a few common shapes make interface
// definitions, so every shape goes through naming and matching. Naming or matching that reads
// the long names once per shape is count * name_bytes.
inline std::string many_shapes_long_names(std::size_t count, std::size_t name_bytes) {
  Writer w;
  const std::size_t global = add_roots(w);
  const std::size_t object = w.str("Object");
  const std::size_t slot = w.str("slot");
  const std::string prefix(name_bytes - 1, 'p');
  const std::size_t long1 = w.str(prefix + "1"), long2 = w.str(prefix + "2");
  const std::size_t a = w.str("a"), b = w.str("b");
  const std::size_t common = 16 + count / 500;
  for (std::size_t i = 0; i < common; ++i) {
    std::size_t v = w.node(3, object, 24);
    w.edge(global, 3, slot, v);
    w.edge(v, 2, a, 0);
    w.edge(v, 2, b, 0);
  }
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t v = w.node(3, object, 24);
    w.edge(global, 3, slot, v);
    w.edge(v, 2, long1, 0);
    w.edge(v, 2, long2, 0);
    w.edge(v, 2, w.str("k" + std::to_string(i)), 0);
  }
  return w.json();
}

// Class names and property names that are not valid UTF-8 (a lone surrogate escape, raw 0xFF
// bytes) and a 42-character Japanese property name on the path from the roots.
inline std::string hostile_text(std::size_t copies) {
  Writer w;
  const std::size_t global = add_roots(w);
  std::string jp;
  for (int i = 0; i < 42; ++i)
    jp += (i % 2) ? "鍵" : "値";
  const std::size_t holder = w.node(3, w.str("Holder"), 32);
  w.edge(global, 2, w.str(jp), holder);
  const std::size_t bad[] = {w.str("Bad\\uD800Name"), w.str("Raw\xff\xfeName"),
                             w.str("\\uDFFF\\uD800\xc3")};
  const std::size_t items = w.str("items\xff");
  for (std::size_t i = 0; i < copies; ++i) {
    std::size_t v = w.node(3, bad[i % 3], 40);
    w.edge(holder, 2, i % 2 ? items : w.str(jp + std::to_string(i)), v);
  }
  return w.json();
}

// `count` internal edges whose names look like WeakMap ephemeron names of `name_bytes` bytes, with
// " -> value (" repeated after keys that end in no " @<id>)": a matcher that looks back through
// the whole name at each " -> value (" is name_bytes squared per name.
inline std::string long_weakmap_names(std::size_t count, std::size_t name_bytes) {
  Writer w;
  const std::size_t global = add_roots(w);
  const std::string piece = "k) -> value (";
  std::string middle;
  while (middle.size() < name_bytes)
    middle += piece;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t v = w.node(3, w.str("Value"), 32);
    w.edge(global, 3,
           w.str(std::to_string(i + 1) + " / part of key (" + middle +
                 "v @2) pair in WeakMap (table @3)"),
           v);
  }
  return w.json();
}

}  // namespace leakwatch::heapsnap::hostile
