#include "leakwatch/api/archive_store.h"

#include "leakwatch/core/log.h"
#include "leakwatch/engine/diff_child.h"
#include "leakwatch/heapsnap/report.h"

namespace leakwatch::api {

namespace {

// The API has always shown at most 10 top growers, the first with its retainer path.
constexpr std::size_t kMaxGrowers = 10;

std::string shell_word(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == ':' || c == '@';
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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
    : archive_(settings),
      target_(std::move(target)),
      root_(settings.dir),
      child_(std::move(child)),
      budget_(child_ ? child_->memory_budget : 0) {}

ArchiveSnapshotStore::~ArchiveSnapshotStore() {
  if (running_) running_->abandon();
}

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
  if (child_) return core::make_error("unavailable", "diffs run in a child process (diff_async)");
  auto base = archive_.path_of(base_id);
  if (!base) return core::make_error("not_found", "no such snapshot: base");
  auto target = archive_.path_of(target_id);
  if (!target) return core::make_error("not_found", "no such snapshot: target");
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
    return done(core::make_error("busy", "another comparison is running"));
  running_.reset();
  auto base = archive_.path_of(base_id);
  if (!base) return done(core::make_error("not_found", "no such snapshot: base"));
  auto target = archive_.path_of(target_id);
  if (!target) return done(core::make_error("not_found", "no such snapshot: target"));
  // Only the headers are read here: the daemon never holds a parsed snapshot.
  auto plan = engine::plan_diff(archive_, base_id, target_id, budget_.load());
  if (!plan) return done(plan.error());
  engine::ChildLimits limits = plan->limits;
  limits.time = child_->time_limit;
  std::vector<std::string> argv = child_->command;
  for (const char* a : {"diff", "--json", "--retainer-paths", "1"})
    argv.emplace_back(a);
  argv.push_back(base->string());
  argv.push_back(target->string());
  core::logger("api")->info("event=diff_child_start base={} target={} predicted_peak={} room={}",
                            base_id, target_id, plan->predicted, plan->room);
  // The child prints every class and 10 growers (the first with its path): the API's form is the
  // first `limit` of each, which is what the in-process diff computes with top_n = limit.
  auto child = engine::ChildProcess::start(
      *child_->io, argv, limits, [done, limit](core::Result<std::string> out) {
        if (!out.ok()) return done(out.error());
        auto parsed = engine::parse_diff_output(*out, limit, 0);
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
  return "leakwatch diff --archive " + shell_word(root_.string()) + " " + shell_word(base_id) +
         " " + shell_word(target_id);
}

}  // namespace leakwatch::api
