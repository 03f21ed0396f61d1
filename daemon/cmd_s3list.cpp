// `leakwatch snapshots list --archive s3://bucket/prefix`: the fleet in an S3 archive, so that two
// snapshots of a task that no longer exists can be diffed from anywhere with S3 access.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "commands.h"
#include "leakwatch/core/units.h"
#include "leakwatch/core/utf8.h"
#include "leakwatch/s3/fetch.h"
#include "leakwatch/s3/fleet.h"
#include "s3_list.h"

namespace leakwatch::cli {

namespace {

// Keys come from the bucket (anyone who can write to it): valid UTF-8, no control characters.
std::string safe(const std::string& s) {
  std::string out = core::to_valid_utf8(s);
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace

int run_s3_list(const S3ListOptions& o) {
  auto loc = s3::parse_s3_url(o.url);
  if (!loc.ok()) {
    std::fprintf(stderr, "leakwatch snapshots list: %s\n", loc.error().message.c_str());
    return kExitUsage;
  }
  const std::string& bucket = loc->first;
  s3::Client client(s3::cli_client_options(bucket), std::make_shared<s3::CredentialsProvider>());
  s3::FleetFilter filter{o.cluster, o.family, o.task, o.target};
  auto listing = s3::list_fleet(client, loc->second, filter);
  if (!listing.ok()) {
    std::fprintf(stderr, "leakwatch snapshots list: cannot list %s: %s\n", safe(o.url).c_str(),
                 listing.error().to_string().c_str());
    return kExitFailure;
  }
  if (!listing->complete)
    std::fprintf(stderr, "warning: the listing stopped at %zu snapshots; narrow it with a filter\n",
                 listing->snapshots.size());

  if (o.json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : listing->snapshots)
      a.push_back({{"id", s.id(bucket)},
                   {"cluster", s.cluster},
                   {"family", s.family},
                   {"task", s.task},
                   {"target", s.target},
                   {"stem", s.stem},
                   {"taken", s.taken},
                   {"reason", s.reason},
                   {"size", s.size},
                   {"last_modified", s.last_modified},
                   {"key", s.key},
                   {"metadata_key", s.metadata_key.empty() ? nlohmann::json(nullptr)
                                                           : nlohmann::json(s.metadata_key)},
                   {"complete", !s.metadata_key.empty()}});
    std::printf("%s\n", a.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }

  const std::string where = "s3://" + bucket + (loc->second.empty() ? "" : "/" + loc->second);
  if (listing->snapshots.empty()) {
    std::printf("no snapshots in %s%s\n", safe(where).c_str(),
                o.cluster.empty() && o.family.empty() && o.task.empty() && o.target.empty()
                    ? ""
                    : " matching the filters");
    return kExitOk;
  }
  std::set<std::string> tasks;
  for (const auto& s : listing->snapshots)
    tasks.insert(s.cluster + "/" + s.family + "/" + s.task);
  std::printf("%s: %zu snapshot(s) of %zu task(s)\n", safe(where).c_str(),
              listing->snapshots.size(), tasks.size());
  const s3::FleetSnapshot* prev = nullptr;
  for (const auto& s : listing->snapshots) {
    if (!prev || prev->cluster != s.cluster || prev->family != s.family)
      std::printf("\ncluster %s, family %s\n", safe(s.cluster).c_str(), safe(s.family).c_str());
    if (!prev || prev->cluster != s.cluster || prev->family != s.family || prev->task != s.task ||
        prev->target != s.target)
      std::printf("  task %s, target %s\n", safe(s.task).c_str(), safe(s.target).c_str());
    std::string reason = core::display_text(safe(s.reason), 24);
    std::printf("    %-19s  %-24s %10s  %s%s\n", safe(s.taken).c_str(), reason.c_str(),
                core::format_bytes(static_cast<double>(s.size)).c_str(), safe(s.id(bucket)).c_str(),
                s.metadata_key.empty() ? "  (no .json yet: uploading, or the upload stopped)" : "");
    prev = &s;
  }
  if (listing->other_objects > 0)
    std::printf("\n%zu other object(s) under the prefix are not snapshots of this layout\n",
                listing->other_objects);
  std::printf("\ncompare two of them: leakwatch diff <earlier id> <later id>\n");
  return kExitOk;
}

namespace {

struct Opened {
  std::unique_ptr<s3::Client> client;
  s3::SnapshotRef ref;
  archive::Metadata meta;
};

// Resolves the id and reads its metadata; prints why not and returns the exit code otherwise.
std::optional<int> open_snapshot(const char* cmd, const S3SnapshotOptions& o, Opened& out) {
  auto ref = s3::snapshot_ref(o.id, o.archive);
  if (!ref.ok()) {
    std::fprintf(stderr, "leakwatch %s: %s\n", cmd, safe(ref.error().message).c_str());
    return kExitUsage;
  }
  out.ref = *ref;
  out.client = std::make_unique<s3::Client>(s3::cli_client_options(ref->bucket),
                                            std::make_shared<s3::CredentialsProvider>());
  auto m = s3::fetch_metadata(*out.client, out.ref);
  if (!m.ok()) {
    std::fprintf(stderr, "leakwatch %s: cannot read %s: %s\n", cmd,
                 safe(out.ref.url_of(out.ref.stem + ".json")).c_str(),
                 safe(m.error().to_string()).c_str());
    return kExitFailure;
  }
  out.meta = std::move(*m);
  return std::nullopt;
}

}  // namespace

int run_s3_show(const S3SnapshotOptions& o) {
  Opened s;
  if (auto rc = open_snapshot("snapshots show", o, s)) return *rc;
  auto j = s.meta.to_json();
  j["url"] = s.ref.url_of(s.meta.file);
  j["metadata_url"] = s.ref.url_of(s.ref.stem + ".json");
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return kExitOk;
}

int run_s3_export(const S3SnapshotOptions& o) {
  const char* cmd = "snapshots export";
  Opened s;
  if (auto rc = open_snapshot(cmd, o, s)) return *rc;
  if (o.output == "-") {
    // Bytes go out as they arrive; a failed check is reported after them (exit 1), since what
    // stdout already took cannot be taken back: write to a file for a download that is atomic.
    auto st = s3::fetch_snapshot(*s.client, s.ref, s.meta, [](std::string_view d) -> core::Status {
      if (std::fwrite(d.data(), 1, d.size(), stdout) != d.size())
        return core::make_error(core::Errc::io, "cannot write to stdout");
      return core::ok_status();
    });
    std::fflush(stdout);
    if (!st.ok()) {
      std::fprintf(stderr, "leakwatch %s: %s\n", cmd, safe(st.error().to_string()).c_str());
      return kExitFailure;
    }
    return kExitOk;
  }
  std::string out = o.output.empty() ? s.ref.stem + ".heapsnapshot" : o.output;
  auto st = s3::export_snapshot(*s.client, s.ref, s.meta, out);
  if (!st.ok()) {
    std::fprintf(stderr, "leakwatch %s: %s (nothing written to %s)\n", cmd,
                 safe(st.error().to_string()).c_str(), safe(out).c_str());
    return kExitFailure;
  }
  std::printf("wrote %s (%s from %s, SHA-256 verified)\n", safe(out).c_str(),
              core::format_bytes(static_cast<double>(s.meta.size_bytes)).c_str(),
              safe(s.ref.url_of(s.meta.file)).c_str());
  return kExitOk;
}

}  // namespace leakwatch::cli
