#include "leakwatch/api/archive_store.h"

#include "leakwatch/core/log.h"
#include "leakwatch/engine/diff_child.h"
#include "leakwatch/heapsnap/report.h"

namespace leakwatch::api {

namespace {

// The API has always shown at most 10 top growers, the first with its retainer path.
constexpr std::size_t kMaxGrowers = 10;

}  // namespace

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

ArchiveSnapshotStore::ArchiveSnapshotStore(archive::ArchiveSettings settings, std::string target,
                                           std::optional<ChildDiffSettings> child)
    : ArchiveSnapshotStore(std::make_shared<archive::Archive>(std::move(settings)),
                           std::move(target), std::move(child)) {}

ArchiveSnapshotStore::ArchiveSnapshotStore(std::shared_ptr<const archive::Archive> archive,
                                           std::string target,
                                           std::optional<ChildDiffSettings> child)
    : archive_(std::move(archive)),
      target_(std::move(target)),
      root_(archive_->root()),
      child_(std::move(child)),
      budget_(child_ ? child_->memory_budget : 0) {}

ArchiveSnapshotStore::~ArchiveSnapshotStore() {
  if (running_) running_->abandon();
}

core::Result<std::vector<SnapshotInfo>> ArchiveSnapshotStore::list() const {
  auto l = archive_->list(target_);
  if (!l) return l.error();
  std::vector<SnapshotInfo> out;
  out.reserve(l->size());
  for (const auto& m : *l)
    out.push_back(snapshot_info(m));
  return out;
}

core::Result<std::filesystem::path> ArchiveSnapshotStore::path(const std::string& id) const {
  return archive_->path_of(id);
}

core::Result<nlohmann::json> ArchiveSnapshotStore::diff(const std::string& base_id,
                                                        const std::string& target_id,
                                                        std::size_t limit) const {
  if (child_)
    return core::make_error(core::Errc::unavailable, "diffs run in a child process (diff_async)");
  auto base = archive_->path_of(base_id);
  if (!base) return core::make_error(core::Errc::not_found, "no such snapshot: base");
  auto target = archive_->path_of(target_id);
  if (!target) return core::make_error(core::Errc::not_found, "no such snapshot: target");
  heapsnap::DiffOptions options;
  options.top_n = std::min<std::size_t>(limit, kMaxGrowers);
  options.retainer_paths_for = 1;
  auto report = heapsnap::diff_files(*base, *target, options);
  if (!report) return report.error();
  if (report->classes.size() > limit) report->classes.resize(limit);
  return heapsnap::to_json(*report);
}

void ArchiveSnapshotStore::diff_async(const std::string& base_id, const std::string& target_id,
                                      std::size_t limit, DiffDone done) const {
  if (!child_ || !child_->io) return done(diff(base_id, target_id, limit));
  if (running_ && !running_->finished())
    return done(core::make_error(core::Errc::busy, "another comparison is running"));
  running_.reset();
  // The child prints every class and 10 growers (the first with its path): the API's form is the
  // first `limit` of each, which is what the in-process diff computes with top_n = limit.
  engine::DiffCommand how;
  how.command = child_->command;
  how.time_limit = child_->time_limit;
  how.max_classes = limit;
  how.max_growers = 0;
  auto child = engine::start_diff(
      *child_->io, *archive_, base_id, target_id, budget_.load(), how,
      [done, limit](core::Result<engine::DiffOutcome> parsed) {
        if (!parsed.ok()) return done(parsed.error());
        nlohmann::json report = std::move(parsed->report);
        if (auto g = report.find("top_growers"); g != report.end() && g->is_array()) {
          const std::size_t keep = std::min(limit, kMaxGrowers);
          if (g->size() > keep) g->erase(g->begin() + static_cast<std::ptrdiff_t>(keep), g->end());
        }
        done(std::move(report));
      });
  if (!child.ok()) return done(child.error());
  running_ = std::move(*child);
}

void ArchiveSnapshotStore::cancel_diffs() const {
  if (running_ && !running_->finished()) running_->cancel();
}

std::optional<pid_t> ArchiveSnapshotStore::diff_pid() const {
  if (running_ && !running_->finished()) return running_->pid();
  return std::nullopt;
}

std::string ArchiveSnapshotStore::diff_command(const std::string& base_id,
                                               const std::string& target_id) const {
  return engine::diff_command_line(root_, base_id, target_id);
}

}  // namespace leakwatch::api
