#pragma once
// A V8 heap snapshot (.heapsnapshot) held in compact column arrays: memory proportional to the
// graph, not to the JSON text. Produced by the streaming parser in parser.h; read-only afterwards.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::heapsnap {

// Node kinds DevTools distinguishes (from snapshot.meta.node_types[type]).
enum class NodeKind : std::uint8_t {
  hidden,
  array,
  string,
  object,
  code,
  closure,
  regexp,
  number,
  native,
  synthetic,
  concatenated_string,
  sliced_string,
  symbol,
  bigint,
  object_shape,
  other,  // a type this version does not know: class name "(<type>)"
};

enum class EdgeKind : std::uint8_t {
  context,
  element,
  property,
  internal,
  hidden,
  shortcut,
  weak,
  other
};

struct Location {
  std::uint32_t node = 0;  // node ordinal
  std::uint32_t script_id = 0;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct HeapSnapshot {
  // The strings table: string i is string_data[string_offsets[i], string_offsets[i+1]).
  std::string string_data;
  std::vector<std::uint64_t> string_offsets{0};

  // Node columns, indexed by node ordinal.
  std::vector<std::uint8_t> node_type;  // index into node_type_names / node_type_kinds
  std::vector<std::uint32_t> node_name;
  std::vector<std::uint32_t> node_id;
  std::vector<std::uint32_t> node_self_size;
  // size node_count()+1; the edges of node n are [first_edge[n], first_edge[n+1])
  std::vector<std::uint32_t> first_edge;
  // DOM link state per node: 0 unknown, 1 attached, 2 detached (empty when the field is absent)
  std::vector<std::uint8_t> node_detachedness;

  // Edge columns, indexed by edge ordinal.
  std::vector<std::uint8_t> edge_type;   // index into edge_type_names / edge_type_kinds
  std::vector<std::uint32_t> edge_name;  // string index, or the element/hidden index
  std::vector<std::uint32_t> edge_to;    // target node ordinal

  std::vector<std::string> node_type_names;
  std::vector<NodeKind> node_type_kinds;
  std::vector<std::string> edge_type_names;
  std::vector<EdgeKind> edge_type_kinds;

  std::vector<Location> locations;  // sorted by node ordinal, one per node at most
  std::uint32_t root = 0;           // root node ordinal (snapshot.root_index, default 0)
  std::uint64_t extra_native_bytes = 0;

  std::size_t node_count() const { return node_id.size(); }
  std::size_t edge_count() const { return edge_to.size(); }
  std::size_t string_count() const { return string_offsets.size() - 1; }

  std::string_view str(std::uint32_t index) const {
    return std::string_view(string_data)
        .substr(string_offsets[index], string_offsets[index + 1] - string_offsets[index]);
  }
  NodeKind kind(std::uint32_t node) const { return node_type_kinds[node_type[node]]; }
  EdgeKind edge_kind(std::uint32_t edge) const { return edge_type_kinds[edge_type[edge]]; }
  std::string_view name(std::uint32_t node) const { return str(node_name[node]); }
  // Element and hidden edges carry an index, the others a string.
  bool edge_has_string_name(std::uint32_t edge) const {
    EdgeKind k = edge_kind(edge);
    return k != EdgeKind::element && k != EdgeKind::hidden;
  }
  const Location* location(std::uint32_t node) const;

  // Approximate heap memory held by this object (for logs and the benchmark).
  std::size_t memory_bytes() const;
};

}  // namespace leakwatch::heapsnap
