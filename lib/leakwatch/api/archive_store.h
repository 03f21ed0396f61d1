#pragma once
// SnapshotStore over the on-disk archive (archive::Archive). list/path only read small files.
//
// Diffs: with ChildDiffSettings (the daemon), a comparison runs in a child process (`leakwatch
// diff --json`, engine/diff_child.h) under the same memory model and budget as the series diff:
// it is refused before anything starts when its predicted peak does not fit, and a wrong guess
// kills the child, never the daemon. Without them (tests, tools), diff() parses both snapshots in
// this process through the heap snapshot engine (call it off the io thread:
// RouterOptions::offload).
#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "leakwatch/api/snapshot_store.h"
#include "leakwatch/archive/archive.h"

namespace leakwatch::engine {
class ChildProcess;
}

namespace leakwatch::api {

SnapshotInfo snapshot_info(const archive::Metadata& meta);

struct ChildDiffSettings {
  boost::asio::io_context* io = nullptr;  // the thread that watches the child (the io thread)
  // The child's command; "diff --json --retainer-paths 1 BASE TARGET" is appended.
  std::vector<std::string> command{"/proc/self/exe"};
  std::chrono::milliseconds time_limit{std::chrono::minutes(10)};
  std::uint64_t memory_budget = 256ull << 20;  // resources.memory_budget as resolved
};

class ArchiveSnapshotStore final : public SnapshotStore {
 public:
  // `target` empty = every target folder in the archive.
  ArchiveSnapshotStore(archive::ArchiveSettings settings, std::string target = {},
                       std::optional<ChildDiffSettings> child = std::nullopt);
  // Over an archive shared with the engine (one Archive per directory).
  ArchiveSnapshotStore(std::shared_ptr<const archive::Archive> archive, std::string target = {},
                       std::optional<ChildDiffSettings> child = std::nullopt);
  // Kills a running child without calling its `done` (whoever waited for it may be gone).
  ~ArchiveSnapshotStore() override;

  core::Result<std::vector<SnapshotInfo>> list() const override;
  core::Result<std::filesystem::path> path(const std::string& id) const override;
  std::optional<std::filesystem::path> root() const override { return root_; }
  // In-process. Error "unavailable" when the store diffs in a child.
  core::Result<nlohmann::json> diff(const std::string& base_id, const std::string& target_id,
                                    std::size_t limit) const override;

  bool diffs_in_child() const override { return child_ && child_->io; }
  // Call on the io thread. One child at a time: a second call while one runs gets "busy".
  void diff_async(const std::string& base_id, const std::string& target_id, std::size_t limit,
                  DiffDone done) const override;
  void cancel_diffs() const override;
  std::string diff_command(const std::string& base_id, const std::string& target_id) const override;

  // A reload may change the budget; the next diff is measured against the new one.
  void set_memory_budget(std::uint64_t bytes) { budget_ = bytes; }
  // The running child's pid, if any (tests).
  std::optional<pid_t> diff_pid() const;

 private:
  std::shared_ptr<const archive::Archive> archive_;
  std::string target_;
  std::filesystem::path root_;
  std::optional<ChildDiffSettings> child_;
  std::atomic<std::uint64_t> budget_{0};
  mutable std::shared_ptr<engine::ChildProcess> running_;
};

}  // namespace leakwatch::api
