#include "leakwatch/source/ecs.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "leakwatch/source/parse.h"

namespace leakwatch::source {

using core::make_error;
using core::Result;
using nlohmann::json;

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// Numbers may arrive as unsigned, signed or floating point (jq and JavaScript round the unlimited
// sentinel to 9223372036854772000 or print it as a float).
std::optional<std::uint64_t> as_u64(const json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer()) {
    auto v = j.get<std::int64_t>();
    if (v < 0) return std::nullopt;
    return static_cast<std::uint64_t>(v);
  }
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (!std::isfinite(d) || d < 0) return std::nullopt;
    if (d >= 18446744073709551615.0) return UINT64_MAX;
    return static_cast<std::uint64_t>(std::llround(std::floor(d)));
  }
  return std::nullopt;
}

std::optional<std::uint64_t> field_u64(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  return as_u64(*it);
}

std::string field_str(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

Result<json> parse_json(std::string_view text, const char* what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::string head(text.substr(0, 40));
    for (auto& c : head)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return make_error(core::Errc::parse, std::string(what) + " is not valid JSON (starts with \"" +
                                             head + "\", " + std::to_string(text.size()) +
                                             " bytes)");
  }
  return j;
}

Result<std::optional<EcsMemoryStats>> stats_from_json(const json& j) {
  if (j.is_null()) return std::optional<EcsMemoryStats>{};
  if (!j.is_object())
    return make_error(core::Errc::parse, "a stats entry is neither an object nor null");
  if (j.empty()) return std::optional<EcsMemoryStats>{};
  auto ms_it = j.find("memory_stats");
  if (ms_it == j.end() || ms_it->is_null() || (ms_it->is_object() && ms_it->empty()))
    return std::optional<EcsMemoryStats>{};  // Docker's zero object for an exited container
  const json& ms = *ms_it;
  if (!ms.is_object()) return make_error(core::Errc::parse, "memory_stats is not an object");
  EcsMemoryStats m;
  m.name = field_str(j, "name");
  if (!m.name.empty() && m.name.front() == '/') m.name.erase(0, 1);
  auto usage = field_u64(ms, "usage");
  if (!usage) return make_error(core::Errc::parse, "memory_stats.usage is missing or not a number");
  m.usage = *usage;
  if (auto lim = field_u64(ms, "limit"); lim && *lim > 0 && !is_unlimited(*lim)) m.limit = lim;
  m.max_usage = field_u64(ms, "max_usage");
  const json empty = json::object();
  auto st_it = ms.find("stats");
  const json& st = (st_it != ms.end() && st_it->is_object()) ? *st_it : empty;
  if (st.contains("anon") || (st.contains("inactive_file") && !st.contains("total_inactive_file") &&
                              !st.contains("rss"))) {
    m.key_set = 2;
    m.inactive_file = field_u64(st, "inactive_file");
    m.anon = field_u64(st, "anon");
  } else if (!st.empty()) {
    m.key_set = 1;
    m.inactive_file = field_u64(st, "total_inactive_file");
    if (!m.inactive_file) m.inactive_file = field_u64(st, "inactive_file");
    m.anon = field_u64(st, "total_rss");
    if (!m.anon) m.anon = field_u64(st, "rss");
    if (auto h = field_u64(st, "hierarchical_memory_limit"); h && *h > 0 && !is_unlimited(*h))
      if (!m.limit || *h < *m.limit) m.limit = h;
  }
  return std::optional<EcsMemoryStats>{std::move(m)};
}

}  // namespace

Result<EcsTask> parse_ecs_task(std::string_view text) {
  auto j = parse_json(text, "task metadata");
  if (!j) return j.error();
  if (!j->is_object()) return make_error(core::Errc::parse, "task metadata is not a JSON object");
  EcsTask task;
  task.task_arn = field_str(*j, "TaskARN");
  task.launch_type = field_str(*j, "LaunchType");
  task.cluster = field_str(*j, "Cluster");
  task.family = field_str(*j, "Family");
  // "Revision" is a string in the documented responses; accept a number too.
  if (auto it = j->find("Revision"); it != j->end() && it->is_number_integer())
    task.revision = std::to_string(it->get<std::int64_t>());
  else
    task.revision = field_str(*j, "Revision");
  task.service_name = field_str(*j, "ServiceName");
  task.availability_zone = field_str(*j, "AvailabilityZone");
  if (auto it = j->find("Limits"); it != j->end())
    if (auto mem = field_u64(*it, "Memory"); mem && *mem > 0) task.limit_mib = mem;
  auto cs = j->find("Containers");
  if (cs == j->end() || !cs->is_array())
    return make_error(core::Errc::parse, "task metadata has no \"Containers\" array");
  for (const auto& c : *cs) {
    if (!c.is_object())
      return make_error(core::Errc::parse, "a task container entry is not an object");
    EcsContainer ec;
    ec.name = field_str(c, "Name");
    ec.docker_id = field_str(c, "DockerId");
    ec.docker_name = field_str(c, "DockerName");
    ec.known_status = field_str(c, "KnownStatus");
    if (auto it = c.find("Limits"); it != c.end())
      if (auto mem = field_u64(*it, "Memory"); mem && *mem > 0) ec.limit_mib = mem;
    if (auto it = c.find("RestartCount"); it != c.end() && it->is_number_integer())
      ec.restart_count = it->get<std::int64_t>();
    if (auto it = c.find("ExitCode"); it != c.end() && it->is_number_integer())
      ec.exit_code = it->get<std::int64_t>();
    ec.image = field_str(c, "Image");
    ec.image_id = field_str(c, "ImageID");
    task.containers.push_back(std::move(ec));
  }
  return task;
}

Result<core::TargetIdentity> ecs_identity(const EcsTask& task, std::string_view container) {
  if (task.task_arn.empty() || task.family.empty())
    return make_error(core::Errc::parse, "the ECS task metadata has no TaskARN or Family");
  auto last_segment = [](const std::string& arn) {
    auto slash = arn.rfind('/');
    return slash == std::string::npos ? arn : arn.substr(slash + 1);
  };
  core::TargetIdentity id;
  id.platform = "ecs";
  id.set("cluster", last_segment(task.cluster));
  id.set("service", task.service_name);
  id.set("task_family", task.family);
  id.set("task_revision", task.revision);
  id.set("task_arn", task.task_arn);
  id.set("task_id", last_segment(task.task_arn));
  id.set("availability_zone", task.availability_zone);
  id.set("launch_type", task.launch_type);
  if (container.empty()) return id;
  auto c = std::find_if(task.containers.begin(), task.containers.end(),
                        [&](const EcsContainer& x) { return x.name == container; });
  if (c == task.containers.end())
    return make_error(core::Errc::no_container,
                      "container \"" + core::identity_value(container) + "\" is not in the task");
  id.set("container", c->name);
  id.set("container_id", c->docker_id);
  id.set("image", c->image);
  id.set("image_digest", c->image_id);
  return id;
}

Result<std::optional<EcsMemoryStats>> parse_docker_stats(std::string_view text) {
  auto j = parse_json(text, "container stats");
  if (!j) return j.error();
  return stats_from_json(*j);
}

Result<std::vector<EcsStatsEntry>> parse_ecs_task_stats(std::string_view text) {
  auto j = parse_json(text, "task stats");
  if (!j) return j.error();
  if (!j->is_object()) return make_error(core::Errc::parse, "task stats is not a JSON object");
  std::vector<EcsStatsEntry> out;
  for (const auto& [id, value] : j->items()) {
    auto s = stats_from_json(value);
    if (!s)
      return make_error(core::Errc::parse, "task stats entry " + id + ": " + s.error().message);
    out.push_back(EcsStatsEntry{id, std::move(*s)});
  }
  return out;
}

Result<core::Sample> ecs_sample(const EcsTask& task, const std::vector<EcsStatsEntry>& stats,
                                std::string_view container, core::TimePoint now) {
  auto c = std::find_if(task.containers.begin(), task.containers.end(),
                        [&](const EcsContainer& x) { return x.name == container; });
  if (c == task.containers.end()) {
    std::string names;
    for (const auto& x : task.containers) {
      if (!names.empty()) names += ", ";
      names += "\"" + x.name + "\"";
    }
    if (names.empty()) names = "none";
    return make_error(core::Errc::no_container,
                      "container \"" + std::string(container) +
                          "\" is not in the task; containers present: " + names);
  }
  std::string label = "container \"" + c->name + "\"";
  if (c->docker_id.empty())
    return make_error(core::Errc::not_running,
                      label + " has no DockerId yet (status " +
                          (c->known_status.empty() ? "unknown" : c->known_status) + ")");
  auto e = std::find_if(stats.begin(), stats.end(),
                        [&](const EcsStatsEntry& s) { return s.docker_id == c->docker_id; });
  if (e == stats.end())
    e = std::find_if(stats.begin(), stats.end(), [&](const EcsStatsEntry& s) {
      return s.stats && !s.stats->name.empty() &&
             (s.stats->name == c->docker_name || s.stats->name == c->name);
    });
  if (e == stats.end())
    return make_error(core::Errc::not_running, label + " (DockerId " + c->docker_id + ", status " +
                                                   c->known_status +
                                                   ") has no entry in /task/stats");
  if (!e->stats)
    return make_error(core::Errc::not_running,
                      label + " is not running (status " +
                          (c->known_status.empty() ? "unknown" : c->known_status) +
                          ", its stats entry is empty)");
  const auto& m = *e->stats;
  core::Sample s;
  s.time = now;
  s.usage_bytes = m.usage;
  s.working_set_bytes = working_set(m.usage, m.inactive_file);
  s.anon_bytes = m.anon;
  std::optional<std::uint64_t> limit = m.limit;
  if (!limit && c->limit_mib) limit = *c->limit_mib * kMiB;
  if (task.limit_mib) {
    // The task's limit bounds every container in it together: what is left for this one is the
    // task's limit less the other containers' working sets (at least its own).
    std::uint64_t others = 0;
    for (const auto& other : stats) {
      if (&other == &*e || !other.stats) continue;
      const std::uint64_t ws = working_set(other.stats->usage, other.stats->inactive_file);
      others = ws > UINT64_MAX - others ? UINT64_MAX : others + ws;  // the input is untrusted
    }
    const std::uint64_t left =
        shared_limit_left(*task.limit_mib * kMiB, others, s.working_set_bytes);
    if (!limit || left < *limit) limit = left;
  }
  s.limit_bytes = limit;
  s.peak_bytes = m.max_usage;
  s.instance = c->docker_id;
  if (c->restart_count) s.instance += "#restart=" + std::to_string(*c->restart_count);
  return s;
}

std::optional<std::uint64_t> EcsOomTracker::observe(const EcsContainer& c,
                                                    const std::optional<core::Sample>& previous) {
  if (!c.restart_count) return std::nullopt;
  const std::int64_t now = *c.restart_count;
  if (last_restart_count_ && now > *last_restart_count_) {
    const auto restarts = static_cast<std::uint64_t>(now - *last_restart_count_);
    bool oom = c.exit_code && *c.exit_code == 137;
    if (!oom && previous && previous->limit_bytes && *previous->limit_bytes > 0) {
      // The working set, not usage: page cache at the limit is reclaimed, not killed for.
      oom = static_cast<double>(previous->working_set_bytes) >=
            kNearLimit * static_cast<double>(*previous->limit_bytes);
    }
    if (oom) kills_ += restarts;
  }
  // A lower count is a new container record (the task was replaced): start again from there.
  last_restart_count_ = now;
  return kills_;
}

std::optional<std::uint64_t> EcsOomTracker::merge(std::optional<std::uint64_t> cgroup,
                                                  std::optional<std::uint64_t> ecs) {
  if (!cgroup) return ecs;
  if (!ecs) return cgroup;
  return std::max(*cgroup, *ecs);
}

}  // namespace leakwatch::source
