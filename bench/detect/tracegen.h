#pragma once
// Seeded generator of labelled memory traces for the detection-quality benchmark.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/sample.h"

namespace leakwatch::bench {

struct Trace {
  std::string name;
  std::string family;
  bool leak = false;
  double leak_start = 0;            // seconds from trace start (leaks only)
  double time_to_oom_hours = 0;     // nominal leak speed: hours from leak start to the limit
  std::optional<double> first_oom;  // seconds from start of the first OOM kill, if any
  bool has_limit = false;
  double step = 10;  // sampling interval, seconds
  std::vector<core::Sample> samples;
};

const std::vector<std::string>& healthy_families();
const std::vector<std::string>& leak_families();

// One trace of `family`, fully determined by `seed`.
Trace generate(const std::string& family, std::uint64_t seed);
// `per_family` traces of every family.
std::vector<Trace> generate_corpus(std::uint64_t seed, int per_family);

}  // namespace leakwatch::bench
