#include "leakwatch/source/source.h"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <optional>

#include "leakwatch/core/fs.h"
#include "leakwatch/core/log.h"
#include "leakwatch/http/client.h"
#include "leakwatch/source/ecs.h"
#include "leakwatch/source/parse.h"
#include "leakwatch/source/readers.h"

namespace leakwatch::source {

namespace fs = std::filesystem;
using core::make_error;
using core::Result;
using core::Sample;

std::string_view to_string(SourceKind kind) {
  switch (kind) {
    case SourceKind::cgroup:
      return "cgroup";
    case SourceKind::ecs:
      return "ecs";
    case SourceKind::procfs:
      return "procfs";
  }
  return "unknown";
}

std::optional<SourceKind> parse_source_kind(std::string_view text) {
  if (text == "cgroup") return SourceKind::cgroup;
  if (text == "ecs") return SourceKind::ecs;
  if (text == "procfs") return SourceKind::procfs;
  return std::nullopt;
}

namespace {

// File-based sources complete through the io_context too, never inline.
void complete(boost::asio::io_context& io, SampleCallback done, Result<Sample> r) {
  boost::asio::post(io,
                    [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

// ---- cgroup ------------------------------------------------------------------------------------

class CgroupSource final : public Source {
 public:
  CgroupSource(boost::asio::io_context& io, const core::Clock& clock, fs::path dir, bool discovered)
      : io_(io), clock_(clock), dir_(std::move(dir)), discovered_(discovered) {}

  void read(SampleCallback done) override { complete(io_, std::move(done), read_now()); }

  std::string describe() const override {
    std::string v = version_ ? " v" + std::to_string(version_) : "";
    return "cgroup" + v + " " + dir_.string() + (discovered_ ? " (leakwatch's own cgroup)" : "");
  }

 private:
  Result<Sample> read_now() {
    // The version is detected on every read: the directory may appear, vanish and come back.
    auto version = detect_cgroup_version(dir_);
    if (!version) return version.error();
    version_ = *version;
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0)
      return make_error(core::Errc::not_found, "cgroup directory " + dir_.string() + " vanished");
    auto s = read_cgroup(dir_, version_);
    if (!s) return s.error();
    s->time = clock_.now();
    detect_restart(*s, static_cast<std::uint64_t>(st.st_ino));
    return s;
  }

  // A restart is a recreated cgroup (new inode), a reset OOM-kill counter, or an OOM kill followed
  // by a drop of the working set (the kill is seen at most one sample before the drop).
  void detect_restart(Sample& s, std::uint64_t ino) {
    bool restarted = false;
    if (have_prev_) {
      if (ino != prev_ino_) {
        restarted = true;
      } else if (s.oom_kill_count && prev_oom_) {
        if (*s.oom_kill_count < *prev_oom_) {
          restarted = true;
        } else {
          if (*s.oom_kill_count > *prev_oom_) kill_pending_ = 2;
          if (kill_pending_ > 0 && s.working_set_bytes < prev_ws_) restarted = true;
        }
      }
    }
    if (restarted) {
      kill_pending_ = 0;
      generation_oom_ = s.oom_kill_count.value_or(0);
    } else if (kill_pending_ > 0) {
      --kill_pending_;
    }
    have_prev_ = true;
    prev_ino_ = ino;
    prev_oom_ = s.oom_kill_count;
    prev_ws_ = s.working_set_bytes;
    s.restarted = restarted;
    s.instance = "cgroup-ino:" + std::to_string(ino);
    if (generation_oom_ > 0) s.instance += "+oom:" + std::to_string(generation_oom_);
  }

  boost::asio::io_context& io_;
  const core::Clock& clock_;
  fs::path dir_;
  bool discovered_;
  int version_ = 0;
  bool have_prev_ = false;
  std::uint64_t prev_ino_ = 0;
  std::optional<std::uint64_t> prev_oom_;
  std::uint64_t prev_ws_ = 0;
  int kill_pending_ = 0;
  std::uint64_t generation_oom_ = 0;
};

// ---- procfs ------------------------------------------------------------------------------------

class ProcfsSource final : public Source {
 public:
  ProcfsSource(boost::asio::io_context& io, const core::Clock& clock, fs::path root,
               std::optional<int> pid, std::string pid_file)
      : io_(io), clock_(clock), root_(std::move(root)), pid_(pid), pid_file_(std::move(pid_file)) {}

  void read(SampleCallback done) override { complete(io_, std::move(done), read_now()); }

  std::string describe() const override {
    if (pid_) return "procfs pid " + std::to_string(*pid_);
    return "procfs pid from " + pid_file_;
  }

 private:
  Result<int> current_pid() const {
    if (pid_) return *pid_;
    auto text = core::read_file(under_root(root_, pid_file_), 4096);
    if (!text) return text.error();
    auto v = parse_u64(*text);
    if (!v || *v == 0 || *v > 0x3fffffff)
      return make_error(core::Errc::parse, "pid file " + pid_file_ + " does not hold a process id");
    return static_cast<int>(*v);
  }

  Result<Sample> read_now() {
    auto pid = current_pid();
    if (!pid) return pid.error();
    auto dir = root_ / "proc" / std::to_string(*pid);
    auto status_text = core::read_file(dir / "status", 1 << 16);
    if (!status_text) {
      if (status_text.error().code == core::Errc::not_found)
        return make_error(core::Errc::not_running, "process " + std::to_string(*pid) + " is gone");
      return status_text.error();
    }
    auto st = parse_proc_status(*status_text);
    if (!st) return st.error().prefixed((dir / "status").string() + ": ");
    std::string instance = "pid:" + std::to_string(*pid);
    if (auto stat_text = core::read_file(dir / "stat", 1 << 16); stat_text)
      if (auto start = parse_proc_stat_start_time(*stat_text); start)
        instance += "@" + std::to_string(*start);
    Sample s;
    s.time = clock_.now();
    s.usage_bytes = *st->vm_rss;
    s.working_set_bytes = *st->vm_rss;
    s.anon_bytes = st->rss_anon;
    s.peak_bytes = st->vm_hwm;
    s.restarted = !prev_instance_.empty() && instance != prev_instance_;
    s.instance = instance;
    prev_instance_ = instance;
    return s;
  }

  boost::asio::io_context& io_;
  const core::Clock& clock_;
  fs::path root_;
  std::optional<int> pid_;
  std::string pid_file_;
  std::string prev_instance_;
};

// ---- ECS ---------------------------------------------------------------------------------------

class EcsSource final : public Source {
 public:
  EcsSource(boost::asio::io_context& io, const core::Clock& clock, http::Url task_url,
            http::Url stats_url, std::string container, std::chrono::milliseconds timeout)
      : client_(io),
        clock_(clock),
        task_url_(std::move(task_url)),
        stats_url_(std::move(stats_url)),
        container_(std::move(container)),
        timeout_(timeout) {}

  std::string describe() const override {
    return "ecs container \"" + container_ + "\" via " + task_url_.origin() +
           " (task metadata endpoint v4)";
  }

  void read(SampleCallback done) override {
    std::weak_ptr<bool> alive = alive_;
    client_.request(make_request(task_url_), [this, alive, done = std::move(done)](
                                                 Result<http::Response> task_resp) mutable {
      if (alive.expired()) return;
      auto task_body = check(task_resp, task_url_, "/task");
      if (!task_body) return done(task_body.error());
      auto task = parse_ecs_task(*task_body);
      if (!task) return done(make_error(core::Errc::parse, "/task: " + task.error().message));
      client_.request(make_request(stats_url_),
                      [this, alive, task = std::move(*task),
                       done = std::move(done)](Result<http::Response> stats_resp) mutable {
                        if (alive.expired()) return;
                        done(finish(task, stats_resp));
                      });
    });
  }

 private:
  http::Request make_request(const http::Url& url) const {
    http::Request req;
    req.url = url;
    req.connect_timeout = timeout_;
    req.idle_timeout = timeout_;
    req.total_timeout = timeout_;
    req.max_body_bytes = 8 << 20;
    return req;
  }

  static Result<std::string> check(Result<http::Response>& r, const http::Url& url,
                                   const char* what) {
    if (!r) return r.error();
    if (r->status != 200) {
      std::string body = r->body.substr(0, 200);
      for (auto& c : body)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      return make_error(core::Errc::http_status,
                        std::string(what) + " at " + url.origin() + " answered HTTP " +
                            std::to_string(r->status) + (body.empty() ? "" : ": " + body),
                        std::to_string(r->status));
    }
    return std::move(r->body);
  }

  Result<Sample> finish(const EcsTask& task, Result<http::Response>& stats_resp) {
    auto body = check(stats_resp, stats_url_, "/task/stats");
    if (!body) return body.error();
    auto stats = parse_ecs_task_stats(*body);
    if (!stats) return make_error(core::Errc::parse, "/task/stats: " + stats.error().message);
    auto s = ecs_sample(task, *stats, container_, clock_.now());
    if (!s) return s;
    s->restarted = !prev_instance_.empty() && s->instance != prev_instance_;
    prev_instance_ = s->instance;
    auto c = std::find_if(task.containers.begin(), task.containers.end(),
                          [&](const EcsContainer& x) { return x.name == container_; });
    if (c != task.containers.end())
      s->oom_kill_count = EcsOomTracker::merge(s->oom_kill_count, ooms_.observe(*c, prev_sample_));
    prev_sample_ = *s;
    return s;
  }

  http::Client client_;
  const core::Clock& clock_;
  http::Url task_url_;
  http::Url stats_url_;
  std::string container_;
  std::chrono::milliseconds timeout_;
  std::string prev_instance_;
  EcsOomTracker ooms_;
  std::optional<Sample> prev_sample_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

Result<std::unique_ptr<Source>> make_source(boost::asio::io_context& io,
                                            const TargetSettings& settings,
                                            const core::Clock& clock) {
  switch (settings.source) {
    case SourceKind::cgroup: {
      if (!settings.cgroup_path.empty())
        return std::unique_ptr<Source>(std::make_unique<CgroupSource>(
            io, clock, under_root(settings.root, settings.cgroup_path), false));
      auto dir = discover_cgroup(settings.root);
      if (!dir)
        return dir.error().prefixed(
            "cannot find leakwatch's own memory cgroup (set target.cgroup_path): ");
      return std::unique_ptr<Source>(std::make_unique<CgroupSource>(io, clock, *dir, true));
    }
    case SourceKind::procfs: {
      if (!settings.pid && settings.pid_file.empty())
        return make_error(core::Errc::config, "source procfs needs target.pid or target.pid_file");
      if (settings.pid && *settings.pid <= 0)
        return make_error(core::Errc::config, "target.pid must be a positive process id");
      return std::unique_ptr<Source>(std::make_unique<ProcfsSource>(
          io, clock, settings.root, settings.pid, settings.pid_file));
    }
    case SourceKind::ecs: {
      if (settings.ecs_container.empty())
        return make_error(core::Errc::config,
                          "source ecs needs target.ecs_container (the container name)");
      std::string base = settings.ecs_metadata_uri;
      if (base.empty())
        if (const char* env = std::getenv("ECS_CONTAINER_METADATA_URI_V4")) base = env;
      if (base.empty())
        return make_error(core::Errc::config,
                          "source ecs: ECS_CONTAINER_METADATA_URI_V4 is not set and "
                          "target.ecs_metadata_uri is empty (not running in an ECS task?)");
      while (!base.empty() && base.back() == '/')
        base.pop_back();
      auto task_url = http::Url::parse(base + "/task");
      auto stats_url = http::Url::parse(base + "/task/stats");
      if (!task_url || !stats_url)
        return make_error(core::Errc::config,
                          "ECS metadata URI is not a valid http URL: " +
                              (task_url ? stats_url.error() : task_url.error()).message);
      return std::unique_ptr<Source>(
          std::make_unique<EcsSource>(io, clock, std::move(*task_url), std::move(*stats_url),
                                      settings.ecs_container, settings.ecs_timeout));
    }
  }
  return make_error(core::Errc::config, "unknown source kind");
}

Result<Sample> read_sync(boost::asio::io_context& io, Source& source) {
  std::optional<Result<Sample>> out;
  source.read([&out](Result<Sample> r) { out.emplace(std::move(r)); });
  io.restart();
  while (!out && io.run_one() > 0) {
  }
  if (!out) return make_error(core::Errc::io, "the source did not complete its read");
  return std::move(*out);
}

}  // namespace leakwatch::source
