#pragma once
// SnapshotStore over the on-disk archive (archive::Archive) and the heap snapshot engine
// (heapsnap::diff_files). Thread-safe for the API's use: list/path only read small files; diff
// parses two snapshots (call it off the io thread: RouterOptions::offload).
#include "leakwatch/api/snapshot_store.h"
#include "leakwatch/archive/archive.h"

namespace leakwatch::api {

SnapshotInfo snapshot_info(const archive::Metadata& meta);

class ArchiveSnapshotStore final : public SnapshotStore {
 public:
  // `target` empty = every target folder in the archive.
  ArchiveSnapshotStore(archive::ArchiveSettings settings, std::string target = {});

  core::Result<std::vector<SnapshotInfo>> list() const override;
  core::Result<std::filesystem::path> path(const std::string& id) const override;
  std::optional<std::filesystem::path> root() const override { return root_; }
  core::Result<nlohmann::json> diff(const std::string& base_id, const std::string& target_id,
                                    std::size_t limit) const override;

 private:
  archive::Archive archive_;
  std::string target_;
  std::filesystem::path root_;
};

}  // namespace leakwatch::api
