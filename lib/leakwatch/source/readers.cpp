#include "leakwatch/source/readers.h"

#include <system_error>

#include "leakwatch/core/fs.h"

namespace leakwatch::source {

namespace fs = std::filesystem;
using core::make_error;
using core::Result;

namespace {

constexpr std::size_t kMaxControlFile = 1 << 20;
constexpr int kMaxCgroupDepth = 64;  // levels above a cgroup searched for a lower memory.max

Result<std::string> read_small(const fs::path& p) {
  return core::read_file(p, kMaxControlFile);
}

// An optional file: absent -> nullopt; other read errors are errors.
Result<std::optional<std::string>> read_optional(const fs::path& p) {
  auto r = read_small(p);
  if (r) return std::optional<std::string>{std::move(*r)};
  if (r.error().code == core::Errc::not_found) return std::optional<std::string>{};
  return r.error();
}

// Search below `base` for a directory whose path ends with `suffix` (a cgroup-namespace path that
// climbs above the namespace root). Bounded in depth and entries.
std::optional<fs::path> find_suffix(const fs::path& base, const fs::path& suffix) {
  std::error_code ec;
  if (fs::is_directory(base / suffix, ec)) return base / suffix;
  auto want = std::vector<fs::path>(suffix.begin(), suffix.end());
  if (want.empty()) return std::nullopt;
  fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
  int visited = 0;
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (++visited > 50000) break;
    if (it.depth() > 8) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    std::vector<fs::path> parts(it->path().begin(), it->path().end());
    if (parts.size() < want.size()) continue;
    if (std::equal(want.begin(), want.end(),
                   parts.end() - static_cast<std::ptrdiff_t>(want.size())))
      return it->path();
  }
  return std::nullopt;
}

// What a parent group's limit leaves for one of its children whose working set is `own`: the
// limit less the working sets of the others (the parent's less the child's), at least `own`.
// Without the parent's usage, the limit as it is.
Result<std::uint64_t> left_by(const fs::path& parent, int version, std::uint64_t parent_limit,
                              std::uint64_t own) {
  auto usage = read_optional(parent / (version == 2 ? "memory.current" : "memory.usage_in_bytes"));
  if (!usage || !*usage) return parent_limit;  // unreadable or absent: the limit as it is
  auto stat = read_optional(parent / "memory.stat");
  if (!stat) return parent_limit;
  auto p = [&] {
    if (version == 2) {
      CgroupV2Texts t;
      t.current = std::move(**usage);
      t.stat = std::move(*stat);
      return sample_from_v2(t);
    }
    CgroupV1Texts t;
    t.usage_in_bytes = std::move(**usage);
    t.stat = std::move(*stat);
    return sample_from_v1(t);
  }();
  if (!p) return p.error().prefixed(parent.string() + "/");
  const std::uint64_t others = p->working_set_bytes > own ? p->working_set_bytes - own : 0;
  return shared_limit_left(parent_limit, others, own);
}

// A parent's limit (an ECS task's above containers without their own, a systemd slice's
// MemoryMax) kills as surely as the group's own, and the groups beside this one use part of it:
// the lowest of what each limited parent leaves. v1's hierarchical_memory_limit gives the lowest
// parent limit but not what the others use; v2 has nothing of the kind. The walk ends at the first
// directory without a limit file: above the root cgroup, or the top of what this cgroup namespace
// shows.
Result<std::optional<std::uint64_t>> limit_left(const fs::path& dir, int version, std::uint64_t own,
                                                std::optional<std::uint64_t> limit) {
  fs::path up = dir;
  const char* file = version == 2 ? "memory.max" : "memory.limit_in_bytes";
  for (int depth = 0; depth < kMaxCgroupDepth && up.has_relative_path(); ++depth) {
    up = up.parent_path();
    // A parent that cannot be read (permissions) ends the search as one without a limit file
    // does: the group's own reading stands. Text that does not parse is an error, as for the
    // group's own files.
    auto text = read_optional(up / file);
    if (!text || !*text) break;
    if (version == 1) {
      // Without hierarchy (memory.use_hierarchy 0) nothing below is charged to this group.
      auto h = read_optional(up / "memory.use_hierarchy");
      if (!h || (*h && h->value().rfind('0', 0) == 0)) break;
    }
    auto lim = parse_limit(**text);
    if (!lim) return lim.error().prefixed((up / file).string() + ": ");
    if (!*lim) continue;
    auto left = left_by(up, version, **lim, own);
    if (!left) return left.error();
    if (!limit || *left < *limit) limit = *left;
  }
  return limit;
}

}  // namespace

fs::path under_root(const fs::path& root, std::string_view path) {
  auto p = (root / fs::path(path).relative_path()).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

Result<fs::path> discover_cgroup(const fs::path& root, std::string_view pid) {
  auto proc = root / "proc" / std::string(pid);
  auto cg_text = read_small(proc / "cgroup");
  if (!cg_text) return cg_text.error();
  auto mi_text = read_small(proc / "mountinfo");
  if (!mi_text) return mi_text.error();
  auto entries = parse_proc_cgroup(*cg_text);
  if (!entries)
    return make_error(core::Errc::parse,
                      (proc / "cgroup").string() + ": " + entries.error().message);
  auto mounts = parse_mountinfo_cgroups(*mi_text);
  if (!mounts) return mounts.error();
  auto loc = locate_memory_cgroup(*entries, *mounts);
  if (!loc) return loc.error();
  auto mount_dir = under_root(root, loc->mount_point);
  auto dir = loc->relative.empty() ? mount_dir : (mount_dir / loc->relative).lexically_normal();
  std::error_code ec;
  if (!loc->unresolved_suffix.empty() && !fs::is_directory(dir, ec)) {
    auto found = find_suffix(mount_dir, loc->unresolved_suffix);
    if (!found)
      return make_error(core::Errc::not_found,
                        "cgroup path ending in " + loc->unresolved_suffix +
                            " (outside this cgroup namespace) not found under " +
                            mount_dir.string());
    return found->lexically_normal();
  }
  return dir;
}

Result<int> detect_cgroup_version(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "memory.current", ec)) return 2;
  if (fs::exists(dir / "memory.usage_in_bytes", ec)) return 1;
  if (!fs::is_directory(dir, ec))
    return make_error(core::Errc::not_found,
                      "cgroup directory " + dir.string() + " does not exist");
  return make_error(core::Errc::no_memcg,
                    "cgroup directory " + dir.string() +
                        " has neither memory.current (v2) nor memory.usage_in_bytes "
                        "(v1): the memory controller is not enabled for it");
}

Result<core::Sample> read_cgroup(const fs::path& dir, int version, Limit limit) {
  if (version == 2) {
    CgroupV2Texts t;
    auto cur = read_small(dir / "memory.current");
    if (!cur) return cur.error();
    t.current = std::move(*cur);
    auto mx = read_optional(dir / "memory.max");
    if (!mx) return mx.error();
    t.max = std::move(*mx);
    auto st = read_optional(dir / "memory.stat");
    if (!st) return st.error();
    t.stat = std::move(*st);
    auto pk = read_optional(dir / "memory.peak");
    if (!pk) return pk.error();
    t.peak = std::move(*pk);
    auto ev = read_optional(dir / "memory.events");
    if (!ev) return ev.error();
    t.events = std::move(*ev);
    auto s = sample_from_v2(t);
    if (!s) return s.error().prefixed(dir.string() + "/");
    if (limit == Limit::inherited) {
      auto left = limit_left(dir, 2, s->working_set_bytes, s->limit_bytes);
      if (!left) return left.error();
      s->limit_bytes = *left;
    }
    return s;
  }
  CgroupV1Texts t;
  auto usage = read_small(dir / "memory.usage_in_bytes");
  if (!usage) return usage.error();
  t.usage_in_bytes = std::move(*usage);
  auto lim = read_optional(dir / "memory.limit_in_bytes");
  if (!lim) return lim.error();
  t.limit_in_bytes = std::move(*lim);
  auto st = read_optional(dir / "memory.stat");
  if (!st) return st.error();
  t.stat = std::move(*st);
  auto mx = read_optional(dir / "memory.max_usage_in_bytes");
  if (!mx) return mx.error();
  t.max_usage_in_bytes = std::move(*mx);
  auto oc = read_optional(dir / "memory.oom_control");
  if (!oc) return oc.error();
  t.oom_control = std::move(*oc);
  auto fc = read_optional(dir / "memory.failcnt");
  if (!fc) return fc.error();
  t.failcnt = std::move(*fc);
  auto s = sample_from_v1(t);
  if (!s) return s.error().prefixed(dir.string() + "/");
  if (limit == Limit::inherited) {
    auto left = limit_left(dir, 1, s->working_set_bytes, s->limit_bytes);
    if (!left) return left.error();
    s->limit_bytes = *left;
  } else {
    // memory.limit_in_bytes alone, without memory.stat's hierarchical_memory_limit (the text
    // already parsed above).
    s->limit_bytes.reset();
    if (t.limit_in_bytes)
      if (auto own = parse_limit(*t.limit_in_bytes); own) s->limit_bytes = *own;
  }
  return s;
}

}  // namespace leakwatch::source
