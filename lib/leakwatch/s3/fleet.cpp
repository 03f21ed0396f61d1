#include "leakwatch/s3/fleet.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

#include "leakwatch/core/utf8.h"
#include "leakwatch/s3/uploader.h"

namespace leakwatch::s3 {

namespace {

// The last five '/'-separated segments of a key; false when there are fewer or one is empty.
bool split_tail(std::string_view key, std::string_view (&seg)[5]) {
  std::size_t end = key.size();
  for (int i = 4; i >= 0; --i) {
    std::size_t slash = end == 0 ? std::string_view::npos : key.rfind('/', end - 1);
    std::size_t begin = slash == std::string_view::npos ? 0 : slash + 1;
    if (begin >= end) return false;  // an empty segment
    seg[i] = key.substr(begin, end - begin);
    if (i > 0 && slash == std::string_view::npos) return false;  // fewer than five
    end = slash;
  }
  return true;
}

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "20261203T180000Z-leak" -> {"2026-12-03 18:00:00", "leak"}; empty time when the stem has none.
std::pair<std::string, std::string> split_stem(const std::string& stem) {
  if (stem.size() >= 16 && digits(std::string_view(stem).substr(0, 8)) && stem[8] == 'T' &&
      digits(std::string_view(stem).substr(9, 6)) && stem[15] == 'Z') {
    std::string t = stem.substr(0, 4) + "-" + stem.substr(4, 2) + "-" + stem.substr(6, 2) + " " +
                    stem.substr(9, 2) + ":" + stem.substr(11, 2) + ":" + stem.substr(13, 2);
    std::string reason = stem.size() > 17 && stem[16] == '-' ? stem.substr(17) : "";
    return {t, reason};
  }
  return {"", stem};
}

// "2026-12-03T18:00:01.000Z" -> "2026-12-03 18:00:01".
std::string from_last_modified(const std::string& lm) {
  std::string t = lm.substr(0, std::min<std::size_t>(lm.size(), 19));
  if (t.size() == 19 && t[10] == 'T') t[10] = ' ';
  return t;
}

}  // namespace

FleetListing group_fleet(const std::vector<ObjectInfo>& objects, const FleetFilter& filter) {
  FleetListing out;
  // "<dir>/<stem>" of each .json, to pair it with its snapshot.
  std::map<std::string, std::string> metadata;
  for (const auto& o : objects) {
    std::string_view seg[5];
    if (o.key.size() > 1024 || !split_tail(o.key, seg)) {
      ++out.other_objects;
      continue;
    }
    const std::string_view file = seg[4];
    if (file.ends_with(".json") && file.size() > 5) {
      std::string_view base(o.key);
      base.remove_suffix(5);
      metadata.emplace(std::string(base), o.key);
      continue;
    }
    std::size_t stem_len = 0;
    if (file.ends_with(".heapsnapshot"))
      stem_len = file.size() - 13;
    else if (file.ends_with(".heapsnapshot.zst"))
      stem_len = file.size() - 17;
    if (stem_len == 0) {
      ++out.other_objects;
      continue;
    }
    auto keep = [](const std::string& want, std::string_view have) {
      return want.empty() || want == have;
    };
    if (!keep(filter.cluster, seg[0]) || !keep(filter.family, seg[1]) ||
        !keep(filter.task, seg[2]) || !keep(filter.target, seg[3]))
      continue;
    FleetSnapshot s;
    s.cluster = seg[0];
    s.family = seg[1];
    s.task = seg[2];
    s.target = seg[3];
    s.stem = file.substr(0, stem_len);
    s.key = o.key;
    s.size = o.size;
    s.last_modified = o.last_modified;
    auto [taken, reason] = split_stem(s.stem);
    s.taken = taken.empty() ? from_last_modified(o.last_modified) : taken;
    s.reason = reason;
    out.snapshots.push_back(std::move(s));
  }
  std::size_t paired = 0;
  for (auto& s : out.snapshots) {
    std::string base =
        s.key.substr(0, s.key.size() - s.stem.size() - (s.key.ends_with(".zst") ? 17 : 13)) +
        s.stem;
    if (auto it = metadata.find(base); it != metadata.end()) {
      s.metadata_key = it->second;
      ++paired;
    }
  }
  // Metadata of snapshots that are filtered out is not "other"; only orphans outside any filter.
  if (filter.cluster.empty() && filter.family.empty() && filter.task.empty() &&
      filter.target.empty())
    out.other_objects += metadata.size() - std::min(metadata.size(), paired);
  std::sort(out.snapshots.begin(), out.snapshots.end(), [](const auto& a, const auto& b) {
    return std::tie(a.cluster, a.family, a.task, a.target, a.stem, a.key) <
           std::tie(b.cluster, b.family, b.task, b.target, b.stem, b.key);
  });
  return out;
}

core::Result<FleetListing> list_fleet(Client& client, const std::string& prefix,
                                      const FleetFilter& filter, std::size_t max_objects) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  if (!p.empty()) p += '/';
  // Filters apply after listing: the prefix may be the archive's own or any deeper part of it, so
  // the position of the cluster in the key is known only from the right.
  auto listed = client.list(p, {}, max_objects);
  if (!listed.ok()) return listed.error();
  auto out = group_fleet(listed->objects, filter);
  out.complete = listed->complete;
  return out;
}

ClientOptions cli_client_options(const std::string& bucket) {
  archive::S3ArchiveSettings st;
  st.bucket = bucket;
  for (const char* e : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
    if (const char* v = std::getenv(e); v && *v && st.endpoint.empty()) st.endpoint = v;
  auto o = client_options(st, {});
  if (const char* v = std::getenv("LEAKWATCH_S3_LIST_MAX_KEYS"); v && *v) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end && *end == '\0' && n >= 1 && n <= 1000) o.list_max_keys = static_cast<int>(n);
  }
  return o;
}

}  // namespace leakwatch::s3
