#include "leakwatch/source/parse.h"

#include <algorithm>
#include <charconv>

namespace leakwatch::source {

using core::make_error;
using core::Result;

namespace {

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// Shows a bad value safely in an error message (bounded, control characters replaced).
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 60))
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (s.size() > 60) out += "...";
  return out + "\"";
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
      ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t')
      ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> split_char(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> get(const KeyValues& kv, std::string_view key) {
  auto it = kv.find(key);
  if (it == kv.end()) return std::nullopt;
  return it->second;
}

// Decodes the \040-style octal escapes of mountinfo fields.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && s.size() - i >= 4 &&
        std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    s.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Lexical path components, without empty ones ("/a//b/" -> a, b).
std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  for (auto& c : split_char(path, '/'))
    if (!c.empty() && c != ".") out.push_back(c);
  return out;
}

std::string join(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (!out.empty()) out += '/';
    out += parts[i];
  }
  return out;
}

}  // namespace

std::uint64_t working_set(std::uint64_t usage, std::optional<std::uint64_t> inactive_file) {
  if (!inactive_file) return usage;
  return *inactive_file >= usage ? 0 : usage - *inactive_file;
}

std::uint64_t shared_limit_left(std::uint64_t limit, std::uint64_t others, std::uint64_t own) {
  return std::max(own, limit > others ? limit - others : 0);
}

Result<std::uint64_t> parse_u64(std::string_view text) {
  auto t = trim(text);
  if (t.empty()) return make_error(core::Errc::parse, "empty value where a number was expected");
  auto v = to_u64(t);
  if (!v) return make_error(core::Errc::parse, "not an unsigned number: " + quote(t));
  return *v;
}

Result<std::optional<std::uint64_t>> parse_limit(std::string_view text) {
  auto t = trim(text);
  if (t == "max") return std::optional<std::uint64_t>{};
  // cgroup v1 on some kernels prints LONG_MAX as a signed value; "-1" is also seen via tools.
  if (t == "-1") return std::optional<std::uint64_t>{};
  auto v = parse_u64(t);
  if (!v) return v.error();
  if (is_unlimited(*v)) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{*v};
}

Result<KeyValues> parse_key_values(std::string_view text) {
  KeyValues kv;
  int line_no = 0;
  for (auto line : split_lines(text)) {
    ++line_no;
    auto t = trim(line);
    if (t.empty()) continue;
    auto fields = split_ws(t);
    if (fields.size() != 2)
      return make_error(core::Errc::parse,
                        "line " + std::to_string(line_no) + " is not \"key value\": " + quote(t));
    auto v = to_u64(fields[1]);
    if (!v)
      return make_error(core::Errc::parse, "line " + std::to_string(line_no) + ": value of " +
                                               std::string(fields[0]) +
                                               " is not a number: " + quote(fields[1]));
    kv[std::string(fields[0])] = *v;
  }
  return kv;
}

namespace {
template <typename T>
Result<T> prefix(Result<T> r, std::string_view file) {
  if (r.ok()) return r;
  return r.error().prefixed(std::string(file) + ": ");
}
}  // namespace

Result<core::Sample> sample_from_v1(const CgroupV1Texts& t) {
  core::Sample s;
  auto usage = prefix(parse_u64(t.usage_in_bytes), "memory.usage_in_bytes");
  if (!usage) return usage.error();
  s.usage_bytes = *usage;
  if (t.limit_in_bytes) {
    auto lim = prefix(parse_limit(*t.limit_in_bytes), "memory.limit_in_bytes");
    if (!lim) return lim.error();
    s.limit_bytes = *lim;
  }
  std::optional<std::uint64_t> inactive;
  if (t.stat) {
    auto kv = prefix(parse_key_values(*t.stat), "memory.stat");
    if (!kv) return kv.error();
    inactive = get(*kv, "total_inactive_file");
    if (!inactive) inactive = get(*kv, "inactive_file");
    s.anon_bytes = get(*kv, "total_rss");
    if (!s.anon_bytes) s.anon_bytes = get(*kv, "rss");
    // A hierarchical limit below the cgroup's own (a limited parent) is the one that kills.
    if (auto h = get(*kv, "hierarchical_memory_limit"); h && !is_unlimited(*h))
      if (!s.limit_bytes || *h < *s.limit_bytes) s.limit_bytes = *h;
  }
  s.working_set_bytes = working_set(s.usage_bytes, inactive);
  if (t.max_usage_in_bytes) {
    auto peak = prefix(parse_u64(*t.max_usage_in_bytes), "memory.max_usage_in_bytes");
    if (!peak) return peak.error();
    s.peak_bytes = *peak;
  }
  if (t.oom_control) {
    auto kv = prefix(parse_key_values(*t.oom_control), "memory.oom_control");
    if (!kv) return kv.error();
    s.oom_kill_count = get(*kv, "oom_kill");
  }
  if (t.failcnt) {
    auto fc = prefix(parse_u64(*t.failcnt), "memory.failcnt");
    if (!fc) return fc.error();
    s.limit_hit_count = *fc;
  }
  return s;
}

Result<core::Sample> sample_from_v2(const CgroupV2Texts& t) {
  core::Sample s;
  auto usage = prefix(parse_u64(t.current), "memory.current");
  if (!usage) return usage.error();
  s.usage_bytes = *usage;
  if (t.max) {
    auto lim = prefix(parse_limit(*t.max), "memory.max");
    if (!lim) return lim.error();
    s.limit_bytes = *lim;
  }
  std::optional<std::uint64_t> inactive;
  if (t.stat) {
    auto kv = prefix(parse_key_values(*t.stat), "memory.stat");
    if (!kv) return kv.error();
    inactive = get(*kv, "inactive_file");
    s.anon_bytes = get(*kv, "anon");
  }
  s.working_set_bytes = working_set(s.usage_bytes, inactive);
  if (t.peak) {
    auto peak = prefix(parse_u64(*t.peak), "memory.peak");
    if (!peak) return peak.error();
    s.peak_bytes = *peak;
  }
  if (t.events) {
    auto kv = prefix(parse_key_values(*t.events), "memory.events");
    if (!kv) return kv.error();
    s.oom_kill_count = get(*kv, "oom_kill");
    s.limit_hit_count = get(*kv, "max");
  }
  return s;
}

Result<std::vector<ProcCgroupEntry>> parse_proc_cgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  int line_no = 0;
  for (auto line : split_lines(text)) {
    ++line_no;
    auto t = trim(line);
    if (t.empty()) continue;
    auto c1 = t.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : t.find(':', c1 + 1);
    if (c2 == std::string_view::npos)
      return make_error(core::Errc::parse, "cgroup line " + std::to_string(line_no) +
                                               " is not \"id:controllers:path\": " + quote(t));
    auto id = to_u64(t.substr(0, c1));
    if (!id)
      return make_error(core::Errc::parse, "cgroup line " + std::to_string(line_no) + ": bad id");
    ProcCgroupEntry e;
    e.hierarchy = static_cast<int>(*id);
    auto ctl = t.substr(c1 + 1, c2 - c1 - 1);
    if (!ctl.empty()) e.controllers = split_char(ctl, ',');
    e.path = std::string(t.substr(c2 + 1));
    out.push_back(std::move(e));
  }
  if (out.empty()) return make_error(core::Errc::parse, "no cgroup entries");
  return out;
}

Result<std::vector<CgroupMount>> parse_mountinfo_cgroups(std::string_view text) {
  std::vector<CgroupMount> out;
  for (auto line : split_lines(text)) {
    auto fields = split_ws(trim(line));
    if (fields.size() < 7) continue;
    auto dash = std::find(fields.begin() + 6, fields.end(), std::string_view("-"));
    if (dash == fields.end() || std::distance(dash, fields.end()) < 3) continue;
    std::string_view type = *(dash + 1);
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMount m;
    m.root = unescape_octal(fields[3]);
    m.mount_point = unescape_octal(fields[4]);
    m.fs_type = std::string(type);
    m.super_options = split_char(*(dash + 3), ',');
    out.push_back(std::move(m));
  }
  return out;
}

Result<CgroupLocation> locate_memory_cgroup(const std::vector<ProcCgroupEntry>& entries,
                                            const std::vector<CgroupMount>& mounts) {
  auto has = [](const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  const ProcCgroupEntry* v1 = nullptr;
  const ProcCgroupEntry* v2 = nullptr;
  for (const auto& e : entries) {
    if (e.hierarchy == 0 && e.controllers.empty()) v2 = &e;
    if (has(e.controllers, "memory")) v1 = &e;
  }
  std::vector<const CgroupMount*> v1_mounts;
  std::vector<const CgroupMount*> v2_mounts;
  for (const auto& m : mounts) {
    if (m.fs_type == "cgroup" && has(m.super_options, "memory")) v1_mounts.push_back(&m);
    if (m.fs_type == "cgroup2") v2_mounts.push_back(&m);
  }
  const ProcCgroupEntry* entry = nullptr;
  const std::vector<const CgroupMount*>* candidates = nullptr;
  int version = 0;
  if (v1 && !v1_mounts.empty()) {
    entry = v1, candidates = &v1_mounts, version = 1;
  } else if (v2 && !v2_mounts.empty()) {
    entry = v2, candidates = &v2_mounts, version = 2;
  } else if (v1) {
    return make_error(core::Errc::no_memcg,
                      "the process is in a cgroup v1 memory hierarchy, but no cgroup mount with "
                      "the memory controller is listed in mountinfo");
  } else if (v2) {
    return make_error(core::Errc::no_memcg, "no cgroup2 mount is listed in mountinfo");
  } else {
    return make_error(core::Errc::no_memcg,
                      "the process has neither a cgroup v1 memory entry nor a v2 entry");
  }

  // The mount whose root is the longest lexical prefix of the process path.
  auto path = components(entry->path);
  const CgroupMount* best = nullptr;
  std::size_t best_len = 0;
  for (const auto* m : *candidates) {
    auto root = components(m->root);
    if (root.size() > path.size()) continue;
    if (!std::equal(root.begin(), root.end(), path.begin())) continue;
    if (!best || root.size() > best_len) best = m, best_len = root.size();
  }
  if (!best)
    return make_error(core::Errc::no_memcg, "cgroup path " + entry->path +
                                                " is not under any mounted cgroup hierarchy root");
  CgroupLocation loc;
  loc.version = version;
  loc.mount_point = best->mount_point;
  std::vector<std::string> rest(path.begin() + static_cast<std::ptrdiff_t>(best_len), path.end());
  // A path relative to the cgroup-namespace root ("/../../x") cannot always be resolved
  // lexically (the namespace root's depth is unknown): drop the ".." components and let the
  // reader search for the remaining suffix when the lexical directory does not exist.
  bool climbs = std::find(path.begin(), path.end(), "..") != path.end();
  rest.erase(std::remove(rest.begin(), rest.end(), ".."), rest.end());
  loc.relative = join(rest, 0);
  if (climbs) loc.unresolved_suffix = loc.relative;
  return loc;
}

Result<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus st;
  for (auto line : split_lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (key == "Name") {
      st.name = std::string(value);
      continue;
    }
    std::optional<std::uint64_t>* dst = nullptr;
    if (key == "VmRSS")
      dst = &st.vm_rss;
    else if (key == "VmHWM")
      dst = &st.vm_hwm;
    else if (key == "RssAnon")
      dst = &st.rss_anon;
    else if (key == "RssFile")
      dst = &st.rss_file;
    else if (key == "RssShmem")
      dst = &st.rss_shmem;
    if (!dst) continue;
    auto fields = split_ws(value);
    if (fields.size() != 2 || fields[1] != "kB")
      return make_error(core::Errc::parse,
                        std::string(key) + " is not \"<n> kB\": " + quote(value));
    auto v = to_u64(fields[0]);
    if (!v || *v > (UINT64_MAX >> 10))
      return make_error(core::Errc::parse,
                        std::string(key) + " is not a number: " + quote(fields[0]));
    *dst = *v * 1024;
  }
  if (!st.vm_rss)
    return make_error(core::Errc::not_running,
                      "no VmRSS line in status (a zombie or kernel thread has no memory)");
  return st;
}

Result<std::uint64_t> parse_proc_stat_start_time(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos)
    return make_error(core::Errc::parse, "stat has no \"(comm)\" field");
  auto fields = split_ws(trim(text.substr(close + 1)));
  // After the comm: field 3 (state) is index 0, so field 22 (starttime) is index 19.
  if (fields.size() < 20) return make_error(core::Errc::parse, "stat has too few fields");
  auto v = to_u64(fields[19]);
  if (!v)
    return make_error(core::Errc::parse, "stat starttime is not a number: " + quote(fields[19]));
  return *v;
}

}  // namespace leakwatch::source
