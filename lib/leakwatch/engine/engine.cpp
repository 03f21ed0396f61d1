#include "leakwatch/engine/engine.h"

#include <boost/asio/post.hpp>
#include <filesystem>

#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"
#include "leakwatch/heapsnap/stream_histogram.h"

namespace leakwatch::engine {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr std::size_t kMaxSamples = 4096;
constexpr std::size_t kMaxMarkers = 256;
constexpr int kSourceDownAfter = 3;  // consecutive failed polls before source_unavailable
constexpr auto kPersistEvery = 60s;

std::shared_ptr<spdlog::logger> log() {
  return core::logger("engine");
}

bool is_leak_state(detect::State s) {
  return s == detect::State::leak_suspected || s == detect::State::oom_imminent;
}
}  // namespace

Engine::Engine(asio::io_context& io, config::Config config, const core::Clock& clock, AlertFn alert,
               EngineOptions options)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      alert_(std::move(alert)),
      options_(std::move(options)),
      detector_(config_.detection),
      guard_(config_.capture),
      series_(config_.capture),
      store_(config_.state_dir, config_.target.name),
      poll_timer_(io) {}

Engine::~Engine() {
  *alive_ = false;
  poll_timer_.cancel();
  // Kills a running diff child; nothing here waits for it.
  if (diff_child_) diff_child_->cancel();
}

std::optional<pid_t> Engine::diff_pid() const {
  if (diff_child_ && !diff_child_->finished()) return diff_child_->pid();
  return std::nullopt;
}

core::Status Engine::start() {
  started_at_ = clock_.now();
  memory_budget_ = resolve_memory_budget(config_.resources.memory_budget);
  log()->info("memory budget {}{}", core::format_bytes(static_cast<double>(memory_budget_)),
              config_.resources.memory_budget ? "" : " (default)");
  auto src = source::make_source(io_, config_.target, clock_);
  if (!src.ok()) return src.error();
  source_ = std::move(*src);
  log()->info("watching target={} source=\"{}\" poll_interval={}ms", config_.target.name,
              source_->describe(), config_.poll_interval.count());

  if (config_.capture.enabled()) {
    archive_ = std::make_unique<archive::Archive>(config_.archive);
    auto cleaned = archive_->open();
    if (!cleaned.ok()) return cleaned.error();
    if (cleaned->partial_removed || cleaned->recovered || cleaned->orphan_metadata_removed)
      log()->warn(
          "archive cleanup after a crash: partial_removed={} recovered={} orphans_removed={}",
          cleaned->partial_removed, cleaned->recovered, cleaned->orphan_metadata_removed);
    capturer_ = std::make_unique<capture::Capturer>(io_, config_.capture, *archive_, clock_);
    // Snapshots the app writes itself near its heap limit (capture.watch_dir): archived by the
    // capturer, alerted on here. They are not part of a series and not counted by the guard rails.
    capture::CaptureRequest near_limit;
    near_limit.target = config_.target.name;
    capturer_->watch(near_limit, [this, alive = alive_](core::Result<archive::Metadata> r) {
      if (!*alive) return;
      auto now = clock_.now();
      if (!r.ok()) {
        ++captures_["failed"];
        auto e = base_event(alert::EventType::capture_failed, now);
        e.reason = "near-heap-limit snapshot not archived: " + r.error().message;
        e.dedupe_key = "capture_failed:near_heap_limit";
        emit(std::move(e));
        return;
      }
      ++captures_["ok"];
      add_marker(r->started_at, "capture", "near-heap-limit snapshot");
      if (on_archived_) on_archived_(*r);  // uploaded like every capture (archive.s3)
      auto e = base_event(alert::EventType::capture_completed, now);
      e.reason = "near_heap_limit: the app wrote a heap snapshot near its heap limit";
      alert::CaptureFigures cf;
      cf.archive_ids = {r->id};
      cf.size_bytes = r->stored_bytes;
      cf.duration_seconds = r->duration_seconds;
      e.capture = cf;
      emit(std::move(e));
    });
    log()->info("captures enabled: archive={} series={}x every {}", config_.archive.dir,
                config_.capture.series_count,
                core::format_duration(config_.capture.series_spacing));
  } else if (!config_.archive.dir.empty() && std::filesystem::exists(config_.archive.dir)) {
    // Browsing an existing archive through the API works without captures.
    archive_ = std::make_unique<archive::Archive>(config_.archive);
  }
  restore_state();
  schedule_poll(0ms);
  return core::ok_status();
}

void Engine::restore_state() {
  auto loaded = store_.load();
  if (!loaded.ok()) {
    if (loaded.error().code != "not_found")
      log()->warn("state not restored: {}", loaded.error().message);
    return;
  }
  const auto& j = *loaded;
  if (j.contains("detector")) {
    auto d = detect::Detector::restore(j["detector"], config_.detection);
    if (d.ok()) {
      detector_ = std::move(*d);
      log()->info("restored detector state from {} (state={})", store_.path().string(),
                  detect::to_string(detector_.last().state));
    } else {
      log()->warn("detector state not restored: {}", d.error().message);
    }
  }
  if (j.contains("guard_rails")) {
    if (auto st = guard_.load_json(j["guard_rails"]); !st.ok())
      log()->warn("capture counters not restored: {}", st.error().message);
  }
  if (j.contains("series")) {
    if (auto st = series_.load_json(j["series"]); !st.ok())
      log()->warn("capture series not restored: {}", st.error().message);
  }
  if (j.contains("series_ids") && j["series_ids"].is_array())
    for (const auto& id : j["series_ids"])
      if (id.is_string()) series_ids_.push_back(id.get<std::string>());
  if (j.contains("counters") && j["counters"].is_object()) {
    const auto& c = j["counters"];
    if (c.contains("captures") && c["captures"].is_object())
      for (const auto& [k, v] : c["captures"].items())
        if (v.is_number_unsigned()) captures_[k] = v.get<std::uint64_t>();
  }
  if (j.contains("last_diff")) last_diff_ = j["last_diff"];
}

nlohmann::json Engine::save_state() const {
  nlohmann::json j;
  j["detector"] = detector_.save();
  j["guard_rails"] = guard_.to_json();
  j["series"] = series_.to_json();
  j["series_ids"] = series_ids_;
  j["counters"] = {{"captures", captures_}};
  j["last_diff"] = last_diff_;
  return j;
}

core::Status Engine::persist() {
  auto now = clock_.now();
  last_persist_ = now;
  auto st = store_.save(save_state(), now);
  if (!st.ok()) log()->warn("cannot persist state: {}", st.error().message);
  return st;
}

void Engine::schedule_poll(std::chrono::milliseconds delay) {
  if (stopping_) return;
  poll_timer_.expires_after(delay);
  poll_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    poll();
  });
}

void Engine::poll() {
  if (stopping_ || polling_) return;
  polling_ = true;
  auto started = std::chrono::steady_clock::now();
  source_->read([this, alive = alive_, started](core::Result<core::Sample> r) {
    if (!*alive) return;
    polling_ = false;
    on_sample(std::move(r));
    // Keep a steady cadence: subtract the time the read took.
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    schedule_poll(std::max(0ms, config_.poll_interval - took));
  });
}

void Engine::on_sample(core::Result<core::Sample> r) {
  auto now = clock_.now();
  if (!r.ok()) {
    ++source_errors_;
    ++consecutive_errors_;
    bool changed = last_source_error_ != r.error().message;
    last_source_error_ = r.error().message;
    if (changed || consecutive_errors_ == 1)
      log()->warn("sample failed target={} error={}", config_.target.name, r.error().to_string());
    if (consecutive_errors_ == kSourceDownAfter) {
      source_down_ = true;
      auto e = base_event(alert::EventType::source_unavailable, now);
      e.reason = r.error().message;
      emit(std::move(e));
    }
    maybe_capture(now);
    return;
  }
  if (source_down_) {
    source_down_ = false;
    auto e = base_event(alert::EventType::recovered, now);
    e.recovered_from = alert::EventType::source_unavailable;
    e.reason = "memory figures are readable again after " + std::to_string(consecutive_errors_) +
               " failed polls";
    emit(std::move(e));
  }
  consecutive_errors_ = 0;
  last_source_error_.clear();

  core::Sample s = std::move(*r);
  const bool had_ooms = latest_ && latest_->oom_kill_count.has_value();
  const std::uint64_t previous_ooms = had_ooms ? *latest_->oom_kill_count : 0;
  latest_ = s;
  guard_.observe(s);
  ++samples_total_;
  samples_.push_back(
      {core::to_unix_seconds(s.time), s.usage_bytes, s.working_set_bytes, s.limit_bytes});
  while (samples_.size() > kMaxSamples)
    samples_.pop_front();

  if (had_ooms && s.oom_kill_count && *s.oom_kill_count > previous_ooms) {
    oom_kills_ += *s.oom_kill_count - previous_ooms;
    auto e = base_event(alert::EventType::oom_kill, s.time);
    e.oom_kill_count = s.oom_kill_count;
    e.reason = "the kernel OOM-killed a process of " + config_.target.name + " (oom_kill " +
               std::to_string(*s.oom_kill_count) + ")";
    add_marker(s.time, "oom_kill", "OOM kill");
    emit(std::move(e));
  }
  if (s.restarted) {
    auto e = base_event(alert::EventType::restart, s.time);
    e.reason = config_.target.name + " restarted" +
               (s.instance.empty() ? "" : " (now " + s.instance + ")");
    add_marker(s.time, "restart", "restart");
    emit(std::move(e));
    if (series_.active()) {
      log()->info(
          "target restarted: capture series cancelled (snapshots across restarts do not diff)");
      series_.cancel();
    }
  }

  auto previous = detector_.last().state;
  const auto& d = detector_.observe(s);
  if (d.floor_bytes > 0) {
    floor_.emplace_back(core::to_unix_seconds(s.time), static_cast<double>(d.floor_bytes));
    while (floor_.size() > kMaxSamples)
      floor_.pop_front();
  }
  log()->debug("sample target={} usage={} working_set={} limit={} state={}", config_.target.name,
               core::format_bytes(static_cast<double>(s.usage_bytes)),
               core::format_bytes(static_cast<double>(s.working_set_bytes)),
               s.limit_bytes ? core::format_bytes(static_cast<double>(*s.limit_bytes)) : "none",
               detect::to_string(d.state));
  if (d.changed || !state_since_) state_since_ = core::to_unix_seconds(s.time);
  if (d.changed) on_decision(s, d, previous);
  maybe_capture(now);
  if (now - last_persist_ >= kPersistEvery) persist();
}

void Engine::on_decision(const core::Sample& s, const detect::Decision& d, detect::State previous) {
  log()->info(
      "detector state={} previous={} slope_mib_per_h={:.1f} forecast_s={} confidence={:.2f} "
      "why=\"{}\"",
      detect::to_string(d.state), detect::to_string(previous), d.slope_bytes_per_hour / 1048576.0,
      d.forecast_seconds ? std::to_string(static_cast<long long>(*d.forecast_seconds)) : "none",
      d.confidence, d.explanation);
  if (is_leak_state(d.state) &&
      (!is_leak_state(previous) || d.state == detect::State::oom_imminent)) {
    auto e = base_event(alert::EventType::leak_suspected, s.time);
    alert::LeakFigures f;
    f.slope_bytes_per_hour = d.slope_bytes_per_hour;
    f.forecast_seconds = d.forecast_seconds;
    f.confidence = d.confidence;
    f.oom_imminent = d.state == detect::State::oom_imminent;
    f.window = d.window;
    f.oom_kills = d.oom_kills;
    f.explanation = d.explanation;
    e.leak = f;
    add_marker(s.time, "alert",
               d.state == detect::State::oom_imminent ? "OOM imminent" : "leak suspected");
    emit(std::move(e));
    if (capturer_ && series_.start(s.time, detect::to_string(d.state))) {
      series_ids_.clear();
      last_diff_ = nullptr;
      log()->info("capture series started: {} captures, {} apart", series_.count(),
                  core::format_duration(config_.capture.series_spacing));
    }
  } else if (!is_leak_state(d.state) && is_leak_state(previous)) {
    auto e = base_event(alert::EventType::recovered, s.time);
    e.recovered_from = alert::EventType::leak_suspected;
    e.reason = d.explanation.empty() ? "the memory floor stopped rising" : d.explanation;
    add_marker(s.time, "alert", "recovered");
    emit(std::move(e));
  }
}

void Engine::maybe_capture(core::TimePoint now) {
  if (stopping_ || !capturer_ || capture_in_flight_ || !series_.due(now)) return;
  int index = series_.next_index(), count = series_.count();
  auto verdict = guard_.check(now, latest_);
  if (!verdict.allowed) {
    series_.record_miss(now);
    ++captures_["skipped"];
    log()->warn("capture skipped series={} index={}/{} reason={} detail=\"{}\"",
                series_.series_id(), index, count, verdict.code, verdict.message);
    auto e = base_event(alert::EventType::capture_skipped, now);
    e.reason = verdict.message;
    e.dedupe_key = "capture_skipped:" + verdict.code;
    add_marker(now, "capture_skipped", "capture skipped: " + verdict.code);
    emit(std::move(e));
    if (series_.abandoned()) log()->warn("capture series abandoned after repeated misses");
    return;
  }
  guard_.started(now);
  capture_in_flight_ = true;
  capture::CaptureRequest req;
  req.target = config_.target.name;
  req.reason.kind = "leak_series";
  req.reason.series_index = index;
  req.reason.series_count = count;
  req.reason.series_id = series_.series_id();
  req.sample = latest_;
  req.detector_state = detector_.last().to_json();
  log()->info("capture starting series={} index={}/{}", series_.series_id(), index, count);
  capturer_->capture(std::move(req),
                     [this, alive = alive_, index, count](core::Result<archive::Metadata> r) {
                       if (!*alive) return;
                       on_capture_done(std::move(r), index, count);
                     });
}

void Engine::on_capture_done(core::Result<archive::Metadata> r, int index, int count) {
  auto now = clock_.now();
  capture_in_flight_ = false;
  guard_.finished(now, r.ok());
  if (!r.ok()) {
    series_.record_miss(now);
    ++captures_["failed"];
    log()->error("capture failed index={}/{} error={}", index, count, r.error().to_string());
    auto e = base_event(alert::EventType::capture_failed, now);
    e.reason = r.error().message;
    e.dedupe_key = "capture_failed:" + r.error().code;
    add_marker(now, "capture_failed", "capture failed: " + r.error().code);
    emit(std::move(e));
  } else {
    const auto& m = *r;
    // The snapshot itself can leave the heap bigger: tell the detector, so it is not read as a
    // leak.
    detector_.note_capture(m.started_at);
    series_.record_success(now);
    series_ids_.push_back(m.id);
    ++captures_["ok"];
    capture_seconds_sum_ += m.duration_seconds;
    ++capture_count_;
    archive_written_bytes_ += m.stored_bytes;
    log()->info("capture archived id={} size={} stored={} duration_s={:.1f}", m.id,
                core::format_bytes(static_cast<double>(m.size_bytes)),
                core::format_bytes(static_cast<double>(m.stored_bytes)), m.duration_seconds);
    add_marker(m.started_at, "capture",
               "snapshot " + std::to_string(index) + "/" + std::to_string(count));
    if (archive_) {
      auto pruned = archive_->prune(now);
      if (pruned.ok() && !pruned->removed.empty())
        log()->info("archive retention removed={} freed={}", pruned->removed.size(),
                    core::format_bytes(static_cast<double>(pruned->freed_bytes)));
    }
    if (on_archived_) on_archived_(m);
    auto e = base_event(alert::EventType::capture_completed, now);
    alert::CaptureFigures cf;
    cf.archive_ids = series_ids_;
    cf.size_bytes = m.stored_bytes;
    cf.duration_seconds = m.duration_seconds;
    e.capture = cf;
    if (series_ids_.size() >= 2) {
      // Diff the first and the newest snapshot of the series in the diff child, then alert with
      // the top growers (or with why there are none and the command to get them).
      auto base = series_ids_.front(), target = series_ids_.back();
      diff_async(base, target,
                 [this, alive = alive_, e = std::move(e)](core::Result<DiffOutcome> d) mutable {
                   if (*alive) on_series_diff(std::move(e), std::move(d));
                 });
    } else {
      emit(std::move(e));
    }
  }
  persist();
  if (capture_finished_hook_) {
    auto hook = std::move(capture_finished_hook_);
    capture_finished_hook_ = nullptr;
    hook();
  }
}

void Engine::on_series_diff(alert::Event e, core::Result<DiffOutcome> d) {
  const auto& ids = e.capture->archive_ids;
  const std::string base = ids.front(), target = ids.back();
  if (d.ok()) {
    last_diff_ = d->report;
    last_diff_["base"] = base;
    last_diff_["target"] = target;
    // The archive metadata of the newest snapshot carries what grew since the first.
    if (archive_) {
      nlohmann::json analysis = {{"base", base}, {"top_growers", d->report["top_growers"]}};
      if (auto st = archive_->annotate(target, analysis); !st.ok())
        log()->warn("cannot add the diff to the archive metadata: {}", st.error().message);
    }
    e.capture->top_growers = std::move(d->growers);
  } else {
    log()->warn("snapshot diff not available: {}", d.error().message);
    e.capture->diff_command = diff_command_line(base, target);
    e.reason = "No retained sizes or retainer paths: " + d.error().message +
               ". Run the full diff where there is more memory: " + e.capture->diff_command;
    // The counts taken while the snapshots were written still say what grew.
    e.capture->top_growers = histogram_growers(base, target);
  }
  emit(std::move(e));
}

std::vector<alert::Grower> Engine::histogram_growers(const std::string& base_id,
                                                     const std::string& target_id) const {
  std::vector<alert::Grower> out;
  if (!archive_) return out;
  auto b = archive_->get(base_id);
  auto t = archive_->get(target_id);
  if (!b.ok() || !t.ok()) return out;
  auto hb = heapsnap::histogram_from_json(b->histogram);
  auto ht = heapsnap::histogram_from_json(t->histogram);
  if (!hb.complete || !ht.complete) return out;
  for (auto& d : heapsnap::histogram_delta(hb, ht, 5)) {
    alert::Grower g;
    g.name = std::move(d.name);
    g.size_delta = d.size_delta;
    g.count_delta = d.count_delta;
    out.push_back(std::move(g));
  }
  return out;
}

std::string Engine::diff_command_line(const std::string& base_id,
                                      const std::string& target_id) const {
  std::string dir = archive_ ? archive_->root().string() : config_.archive.dir;
  return "leakwatch diff --archive " + dir + " " + base_id + " " + target_id;
}

void Engine::diff_async(std::string base_id, std::string target_id,
                        std::function<void(core::Result<DiffOutcome>)> done) {
  if (!archive_) return done(core::make_error("disabled", "no archive configured"));
  if (stopping_)
    return done(core::make_error("cancelled", "leakwatch is stopping: the diff was not started"));
  if (diff_child_ && !diff_child_->finished())
    return done(core::make_error("busy", "another diff is running"));
  auto base = archive_->path_of(base_id);
  auto target = archive_->path_of(target_id);
  if (!base.ok()) return done(base.error());
  if (!target.ok()) return done(target.error());
  // The child gets what the budget leaves once the daemon's own memory (and any API diff's child)
  // is counted; diff_child.h decides, for this path and the API's alike.
  auto plan = plan_diff(*archive_, base_id, target_id, memory_budget_);
  if (!plan.ok()) return done(plan.error());
  ChildLimits limits = plan->limits;
  limits.time = options_.diff_time_limit;
  std::vector<std::string> argv = options_.diff_command;
  for (const char* a : {"diff", "--json"})
    argv.emplace_back(a);
  argv.emplace_back("--retainer-paths");
  argv.push_back(std::to_string(config_.alerts.retainer_paths));
  argv.push_back(base->string());
  argv.push_back(target->string());
  log()->info("diff child starting base={} target={} predicted_peak={} room={}", base_id, target_id,
              core::format_bytes(static_cast<double>(plan->predicted)),
              core::format_bytes(static_cast<double>(plan->room)));
  auto child = ChildProcess::start(io_, argv, limits,
                                   [done = std::move(done)](core::Result<std::string> out) mutable {
                                     if (!out.ok()) return done(out.error());
                                     done(parse_diff_output(*out));
                                   });
  if (!child.ok()) return done(child.error());
  diff_child_ = std::move(*child);
}

alert::Event Engine::base_event(alert::EventType type, core::TimePoint t) const {
  alert::Event e;
  e.type = type;
  e.time = t;
  e.target = config_.target.name;
  if (latest_) {
    e.instance = latest_->instance;
    e.memory.usage_bytes = latest_->usage_bytes;
    e.memory.working_set_bytes = latest_->working_set_bytes;
    e.memory.limit_bytes = latest_->limit_bytes;
  }
  return e;
}

void Engine::emit(alert::Event e) {
  if (alert_) alert_(std::move(e));
}

void Engine::add_marker(core::TimePoint t, std::string kind, std::string label) {
  markers_.push_back({core::to_unix_seconds(t), std::move(kind), std::move(label)});
  while (markers_.size() > kMaxMarkers)
    markers_.pop_front();
}

void Engine::stop(std::chrono::milliseconds deadline, std::function<void()> done) {
  stopping_ = true;
  poll_timer_.cancel();
  if (diff_child_ && !diff_child_->finished()) {
    log()->info("stopping: the running snapshot diff is cancelled");
    diff_child_->cancel();
  }
  auto finish = [this, done = std::move(done)]() {
    persist();
    done();
  };
  if (!capture_in_flight_) {
    asio::post(io_, finish);
    return;
  }
  log()->info("waiting up to {}ms for the capture in progress", deadline.count());
  auto timer = std::make_shared<asio::steady_timer>(io_, deadline);
  auto fired = std::make_shared<bool>(false);
  capture_finished_hook_ = [timer, fired, finish]() {
    if (*fired) return;
    *fired = true;
    timer->cancel();
    finish();
  };
  timer->async_wait([this, alive = alive_, fired, finish](boost::system::error_code ec) {
    if (ec || *fired || !*alive) return;
    *fired = true;
    log()->warn(
        "capture still running at the shutdown deadline: abandoning it (its partial file is "
        "removed)");
    capture_finished_hook_ = nullptr;
    capturer_.reset();  // aborts the transfer; the pending archive file is removed
    capture_in_flight_ = false;
    finish();
  });
}

EngineStatus Engine::status() const {
  EngineStatus s;
  s.target = config_.target.name;
  s.source = source_ ? source_->describe() : "";
  s.started_at = core::to_unix_seconds(started_at_);
  s.latest = latest_;
  s.decision = detector_.last();
  s.samples.assign(samples_.begin(), samples_.end());
  s.markers.assign(markers_.begin(), markers_.end());
  s.floor.assign(floor_.begin(), floor_.end());
  s.state_since = state_since_;
  s.captures = captures_;
  s.samples_total = samples_total_;
  s.source_errors = source_errors_;
  s.oom_kills = oom_kills_;
  s.capture_seconds_sum = capture_seconds_sum_;
  s.capture_count = capture_count_;
  s.archive_written_bytes = archive_written_bytes_;
  s.last_source_error = last_source_error_;
  s.series_active = series_.active();
  s.series_ids = series_ids_;
  s.last_diff = last_diff_;
  s.capture_enabled = capturer_ != nullptr;
  if (capturer_) {
    auto p = capturer_->progress();
    if (p.active) s.capture = p.to_json();
  }
  return s;
}

}  // namespace leakwatch::engine
