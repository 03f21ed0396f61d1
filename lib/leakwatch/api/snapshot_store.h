#pragma once
// The archive as the API sees it: list/get/path_of over archive::Archive, diff through the heap
// snapshot engine. `ArchiveSnapshotStore` (archive_store.h) is the implementation over both.
//
// Threading: list/metadata/path are called on the io thread (small files). A store that diffs in
// a child process (diffs_in_child(); the daemon's ArchiveSnapshotStore) is asked through
// diff_async on the io thread and answers there, never parsing a snapshot itself. Otherwise `diff`
// is slow (it parses two snapshots) and is called on a worker when the router has an offload
// function (see api::RouterOptions::offload), so implementations must tolerate a concurrent
// list() on the io thread.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"

namespace leakwatch::api {

struct SnapshotInfo {
  std::string id;  // "<target>/<stem>", e.g. "web/20261124T080000Z-leak-series-1of3"
  std::string target;
  core::TimePoint started_at{};
  double duration_seconds = 0;
  std::string reason;              // plain words: "leak_series 2 of 3"
  std::string reason_kind;         // "manual", "leak_series", "oom_imminent", ...
  std::uint64_t size_bytes = 0;    // snapshot bytes as sent by the app
  std::uint64_t stored_bytes = 0;  // bytes on disk
  std::string compression;         // "none" | "zstd"
  std::string sha256;              // of the snapshot as sent
  std::string file_name;           // stored file name (what a download is called)
  nlohmann::json metadata;         // the full metadata document (shown by /snapshots/{id})
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Every snapshot, oldest first.
  virtual core::Result<std::vector<SnapshotInfo>> list() const = 0;
  // The stored file of a listed id (streamed as is: compressed when stored compressed).
  virtual core::Result<std::filesystem::path> path(const std::string& id) const = 0;
  // The directory every served file must resolve into (the archive directory); none: no check.
  virtual std::optional<std::filesystem::path> root() const { return std::nullopt; }
  // DevTools' Comparison of two listed snapshots, in the heap snapshot engine's JSON form
  // (heapsnap::to_json(DiffReport)):
  //   {"classes": [{name, new_count, deleted_count, delta_count, alloc_size, freed_size,
  //                 size_delta, key}, ...]      (by size_delta descending; at most `limit`),
  //    "top_growers": [{...same fields, count, self_size, retained_size,
  //                     "retainer_path": {"text": "A ← B.x ← (GC roots)", "instances", "steps"}}],
  //    "base_nodes", "target_nodes", "base_total_size", "target_total_size"}
  // Error codes: "not_found" (404), "busy" (503), anything else is a 500 (diff_async's codes: see
  // there; the router's answers are in docs/api.md).
  virtual core::Result<nlohmann::json> diff(const std::string& base_id,
                                            const std::string& target_id,
                                            std::size_t limit) const = 0;

  using DiffDone = std::function<void(core::Result<nlohmann::json>)>;
  // True when diffs go through diff_async (a child process) rather than diff().
  virtual bool diffs_in_child() const { return false; }
  // The same comparison as diff(), run outside this process; `done` runs exactly once on the io
  // thread, possibly before this returns. Extra error codes: "over_budget" (predicted not to fit
  // the memory budget: nothing was started), "killed" (the child hit its memory limit), "timeout",
  // "cancelled" (cancel_diffs: a stop or a reload).
  virtual void diff_async(const std::string& base_id, const std::string& target_id,
                          std::size_t limit, DiffDone done) const {
    done(diff(base_id, target_id, limit));
  }
  // Kills a running diff_async at once; its `done` gets "cancelled" before this returns.
  virtual void cancel_diffs() const {}
  // The command that runs the same comparison by hand, on a machine with more memory (empty when
  // there is none).
  virtual std::string diff_command(const std::string& /*base_id*/,
                                   const std::string& /*target_id*/) const {
    return {};
  }
};

}  // namespace leakwatch::api
