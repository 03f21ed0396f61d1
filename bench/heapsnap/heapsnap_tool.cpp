// A standalone driver of the heap snapshot engine (links only leakwatch::heapsnap), used by the
// benchmark and the fuzz corpus script. Same JSON as `leakwatch summary|diff|retainers --json`.
//   leakwatch_heapsnap_tool summary FILE | diff BASE TARGET | retainers FILE CLASS | parse FILE
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "leakwatch/heapsnap/report.h"

using namespace leakwatch::heapsnap;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0]
              << " summary FILE | diff BASE TARGET | retainers FILE CLASS | parse FILE\n";
    return 2;
  }
  std::string cmd = argv[1];
  auto t0 = std::chrono::steady_clock::now();
  auto fail = [](const leakwatch::core::Error& e) {
    std::cerr << e.to_string() << "\n";
    return 1;
  };
  if (cmd == "parse") {
    auto r = load_file(argv[2]);
    if (!r.ok()) return fail(r.error());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "{\"nodes\":%zu,\"edges\":%zu,\"strings\":%zu,\"memory_bytes\":%zu,\"seconds\":%.3f}\n",
        r->node_count(), r->edge_count(), r->string_count(), r->memory_bytes(), s);
    return 0;
  }
  if (cmd == "summary") {
    auto r = summarize_file(argv[2]);
    if (!r.ok()) return fail(r.error());
    std::cout << to_json(*r).dump() << "\n";
    return 0;
  }
  if (cmd == "diff" && argc >= 4) {
    auto r = diff_files(argv[2], argv[3]);
    if (!r.ok()) return fail(r.error());
    std::cout << to_json(*r).dump() << "\n";
    return 0;
  }
  if (cmd == "retainers" && argc >= 4) {
    auto r = retainers_file(argv[2], argv[3]);
    if (!r.ok()) return fail(r.error());
    std::cout << to_json(*r).dump(2) << "\n";
    return 0;
  }
  std::cerr << "unknown command\n";
  return 2;
}
