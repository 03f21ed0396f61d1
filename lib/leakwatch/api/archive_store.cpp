#include "leakwatch/api/archive_store.h"

#include "leakwatch/heapsnap/report.h"

namespace leakwatch::api {

SnapshotInfo snapshot_info(const archive::Metadata& m) {
  SnapshotInfo s;
  s.id = m.id;
  s.target = m.target;
  s.started_at = m.started_at;
  s.duration_seconds = m.duration_seconds;
  s.reason = m.reason.describe();
  s.reason_kind = m.reason.kind;
  s.size_bytes = m.size_bytes;
  s.stored_bytes = m.stored_bytes;
  s.compression = archive::to_string(m.compression);
  s.sha256 = m.sha256;
  s.file_name = m.file;
  s.metadata = m.to_json();
  return s;
}

ArchiveSnapshotStore::ArchiveSnapshotStore(archive::ArchiveSettings settings, std::string target)
    : archive_(settings), target_(std::move(target)), root_(settings.dir) {}

core::Result<std::vector<SnapshotInfo>> ArchiveSnapshotStore::list() const {
  auto l = archive_.list(target_);
  if (!l) return l.error();
  std::vector<SnapshotInfo> out;
  out.reserve(l->size());
  for (const auto& m : *l)
    out.push_back(snapshot_info(m));
  return out;
}

core::Result<std::filesystem::path> ArchiveSnapshotStore::path(const std::string& id) const {
  return archive_.path_of(id);
}

core::Result<nlohmann::json> ArchiveSnapshotStore::diff(const std::string& base_id,
                                                        const std::string& target_id,
                                                        std::size_t limit) const {
  auto base = archive_.path_of(base_id);
  if (!base) return core::make_error("not_found", "no such snapshot: base");
  auto target = archive_.path_of(target_id);
  if (!target) return core::make_error("not_found", "no such snapshot: target");
  heapsnap::DiffOptions options;
  options.top_n = std::min<std::size_t>(limit, 10);
  options.retainer_paths_for = 1;
  auto report = heapsnap::diff_files(*base, *target, options);
  if (!report) return report.error();
  if (report->classes.size() > limit) report->classes.resize(limit);
  return heapsnap::to_json(*report);
}

}  // namespace leakwatch::api
