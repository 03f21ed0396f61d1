// libFuzzer target: the heap snapshot parser and the whole analysis must never crash, hang or
// allocate without bound on any input (plain or zstd).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "leakwatch/heapsnap/analysis.h"
#include "leakwatch/heapsnap/parser.h"
#include "leakwatch/heapsnap/retainers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace leakwatch::heapsnap;
  ParseLimits limits;
  limits.max_nodes = 1 << 20;
  limits.max_string_bytes = 64 << 20;
  auto snap = parse_snapshot(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!snap.ok()) return 0;
  auto classes = classify(*snap, infer_interfaces(*snap));
  auto self = shallow_sizes(*snap);
  auto dom = compute_dominators(*snap, self);
  (void)summarize(*snap, classes, self, dom);
  auto tree = shortest_path_tree(*snap);
  if (!classes.names.empty())
    (void)find_retainers(*snap, classes, self, dom.retained, tree, classes.names[0]);
  return 0;
}
