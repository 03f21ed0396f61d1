#include "leakwatch/archive/retention.h"

#include <algorithm>
#include <map>
#include <set>

namespace leakwatch::archive {

std::vector<Removal> plan_retention(const std::vector<Metadata>& entries,
                                    const ArchiveSettings& settings, core::TimePoint now) {
  std::vector<const Metadata*> sorted;
  for (const auto& e : entries)
    sorted.push_back(&e);
  // Newest first; ties broken by id so the plan is deterministic.
  std::sort(sorted.begin(), sorted.end(), [](const Metadata* a, const Metadata* b) {
    if (a->started_at != b->started_at) return a->started_at > b->started_at;
    return a->id > b->id;
  });

  std::vector<Removal> out;
  std::set<std::string> removed;
  auto remove = [&](const Metadata* m, const char* rule) {
    if (removed.insert(m->id).second) out.push_back({m->id, rule, m->stored_bytes});
  };

  if (settings.max_age.count() > 0) {
    for (const auto* m : sorted)
      if (m->started_at < now - settings.max_age) remove(m, "age");
  }

  std::map<std::string, int> kept_per_target;
  std::set<std::string> newest_of_target;
  for (const auto* m : sorted) {
    if (removed.count(m->id)) continue;
    int& n = kept_per_target[m->target];
    if (n == 0) newest_of_target.insert(m->id);
    if (settings.max_per_target > 0 && n >= settings.max_per_target) {
      remove(m, "count");
      continue;
    }
    ++n;
  }

  if (settings.max_total_bytes > 0) {
    std::uint64_t total = 0;
    for (const auto* m : sorted)
      if (!removed.count(m->id)) total += m->stored_bytes;
    for (auto it = sorted.rbegin(); it != sorted.rend() && total > settings.max_total_bytes; ++it) {
      const Metadata* m = *it;
      if (removed.count(m->id) || newest_of_target.count(m->id)) continue;
      remove(m, "bytes");
      total -= m->stored_bytes;
    }
  }
  return out;
}

}  // namespace leakwatch::archive
