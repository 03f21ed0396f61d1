#pragma once
// DevTools' views of one or two heap snapshots, computed with DevTools' own rules (read from the
// public heap_snapshot_worker source, re-implemented): class names and keys, shallow-size
// attribution of internal arrays to their owners, GC-root and weak-edge rules for the dominator
// tree (Lengauer–Tarjan), per-class retained sizes (top-most instances only), and the Comparison
// view (objects matched by node id). Pure: no I/O, no globals; safe on any thread.
#include <cstdint>
#include <string>
#include <vector>

#include "leakwatch/heapsnap/snapshot.h"

namespace leakwatch::heapsnap {

// A named shape for plain objects ("{a, b}"), inferred from the most common property lists.
struct InterfaceDefinition {
  std::string name;
  std::vector<std::string> properties;
};

std::vector<InterfaceDefinition> infer_interfaces(const HeapSnapshot& snap);

// Every node's class. `keys` are DevTools' public class keys ("<script>,<line>,<col>,<name>" for
// objects with a constructor location, ",<name>" otherwise): they match classes across snapshots.
struct Classification {
  std::vector<std::uint32_t> class_of;  // per node
  std::vector<std::string> keys;        // per class
  std::vector<std::string> names;       // per class
  std::size_t class_count() const { return keys.size(); }
};

Classification classify(const HeapSnapshot& snap,
                        const std::vector<InterfaceDefinition>& interfaces);

// Shallow sizes as DevTools shows them: internal arrays and hidden objects owned by exactly one
// object are counted in that object's size (only when the snapshot has user roots).
std::vector<std::uint32_t> shallow_sizes(const HeapSnapshot& snap);

struct Dominators {
  std::vector<std::uint32_t> idom;      // immediate dominator per node (the root dominates itself)
  std::vector<std::uint64_t> retained;  // retained size per node
  std::uint64_t unreachable = 0;        // nodes not reachable from the root through essential edges
};

// Dominator tree over DevTools' "essential" edges (no weak edges, no self edges, no shortcuts
// except from the root, no edge from a non-page object into the page-owned graph, WeakMap values
// retained by their key rather than the table).
Dominators compute_dominators(const HeapSnapshot& snap,
                              const std::vector<std::uint32_t>& self_size);

struct ClassSummary {
  std::string key;
  std::string name;
  std::uint64_t count = 0;
  std::uint64_t self_size = 0;
  std::uint64_t retained_size = 0;
};

struct Summary {
  std::vector<ClassSummary> classes;  // sorted by retained size, then self size, descending
  std::uint64_t node_count = 0;
  std::uint64_t edge_count = 0;
  std::uint64_t total_size = 0;  // the root's retained size + extra native bytes
};

// Per-class count, self size and retained size, over nodes with a non-zero shallow size.
Summary summarize(const HeapSnapshot& snap, const Classification& classes,
                  const std::vector<std::uint32_t>& self_size, const Dominators& dom);

// All steps at once, with the snapshot's own interface definitions.
Summary summarize(const HeapSnapshot& snap);

// The members of each class (non-zero shallow size), sorted by node id: the input of a Comparison.
struct ClassMembers {
  std::string key;
  std::string name;
  std::vector<std::uint32_t> ids;
  std::vector<std::uint32_t> sizes;
};

std::vector<ClassMembers> class_members(const HeapSnapshot& snap, const Classification& classes,
                                        const std::vector<std::uint32_t>& self_size);

struct ClassDiff {
  std::string key;
  std::string name;
  std::uint64_t new_count = 0;
  std::uint64_t deleted_count = 0;
  std::int64_t delta_count = 0;
  std::uint64_t alloc_size = 0;
  std::uint64_t freed_size = 0;
  std::int64_t size_delta = 0;
};

// DevTools' Comparison: classes matched by key, objects by id. Classes with no new and no deleted
// object are left out. Sorted by size delta descending, then name.
std::vector<ClassDiff> compare(const std::vector<ClassMembers>& base,
                               const std::vector<ClassMembers>& target);

}  // namespace leakwatch::heapsnap
