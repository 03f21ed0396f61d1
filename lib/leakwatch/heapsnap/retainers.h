#pragma once
// Retainer paths: the shortest paths from the GC roots to the instances of a class (BFS over
// non-weak edges, user roots first, as DevTools computes distances), aggregated by their shape so
// that one line can say "Socket ← Array[] ← Holder.sockets ← …". Steps that differ only by an
// instance's own key (a random id, a number) are one step: "Object.<id>", "Array[]".
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/heapsnap/analysis.h"
#include "leakwatch/heapsnap/snapshot.h"

namespace leakwatch::heapsnap {

// One hop of a path, from an object to the object that holds it: `holder` holds the object through
// the edge `edge` (written as DevTools writes edges: ".name", "[3]", "->context", "{internal}").
struct RetainerStep {
  std::string holder;  // holder's class name
  std::string edge;
};

struct RetainerPath {
  std::vector<RetainerStep> steps;  // from the instance outwards to the root
  std::string text;                 // "Socket ← Array[] ← Holder.sockets ← (GC roots)"
  std::uint64_t instances = 0;      // instances whose shortest path has this shape
  std::uint64_t retained_size = 0;  // their summed retained size (0 without dominators)
  std::uint64_t self_size = 0;      // their summed shallow size
  bool through_native = false;      // a holder on the path is a native (embedder) object
};

struct RetainerReport {
  std::string class_name;
  std::uint64_t instances = 0;       // instances of the class (non-zero shallow size)
  std::uint64_t unreachable = 0;     // instances with no path from the roots
  std::uint64_t through_native = 0;  // instances whose path passes a native object (a handle)
  std::vector<RetainerPath> paths;   // most instances first
};

// Shortest-path tree from the roots: for each node, the edge through which BFS reached it
// (UINT32_MAX for the root and unreachable nodes). Computed once per snapshot. `avoid_native`:
// paths that pass no native (embedder) object, such as an open handle — the paths through the
// app's own objects.
std::vector<std::uint32_t> shortest_path_tree(const HeapSnapshot& snap, bool avoid_native = false);

struct RetainerOptions {
  std::size_t max_paths = 5;
  std::size_t max_depth = 24;  // hops shown per path; longer paths are cut with "…"
};

// `retained` may be empty (no dominator tree computed). `class_name` matches class names exactly.
// The same as finish_retainers(group_retainers(...), retained).
RetainerReport find_retainers(const HeapSnapshot& snap, const Classification& classes,
                              const std::vector<std::uint32_t>& self_size,
                              const std::vector<std::uint64_t>& retained,
                              const std::vector<std::uint32_t>& path_tree,
                              std::string_view class_name, const RetainerOptions& options = {});

// find_retainers in two stages. Grouping the instances by path shape needs only the shortest-path
// tree, so it can run while the dominator tree is still being computed; finishing adds the retained
// sizes and turns the top groups into paths. The groups refer to (do not copy) the snapshot, the
// classification and the path tree: they must outlive it.
class RetainerGroups {
 public:
  RetainerGroups();
  ~RetainerGroups();
  RetainerGroups(RetainerGroups&&) noexcept;
  RetainerGroups& operator=(RetainerGroups&&) noexcept;
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend RetainerGroups group_retainers(const HeapSnapshot&, const Classification&,
                                        const std::vector<std::uint32_t>&,
                                        const std::vector<std::uint32_t>&, std::string_view,
                                        const RetainerOptions&);
  friend RetainerReport finish_retainers(RetainerGroups, const std::vector<std::uint64_t>&);
};

RetainerGroups group_retainers(const HeapSnapshot& snap, const Classification& classes,
                               const std::vector<std::uint32_t>& self_size,
                               const std::vector<std::uint32_t>& path_tree,
                               std::string_view class_name, const RetainerOptions& options = {});

// `retained` may be empty (no retained sizes in the paths).
RetainerReport finish_retainers(RetainerGroups groups, const std::vector<std::uint64_t>& retained);

}  // namespace leakwatch::heapsnap
