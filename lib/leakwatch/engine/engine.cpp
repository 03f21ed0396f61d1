#include "leakwatch/engine/engine.h"

#include <boost/asio/post.hpp>
#include <filesystem>
#include <system_error>

#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"

namespace leakwatch::engine {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<spdlog::logger> log() {
  return core::logger("engine");
}

CoreSettings core_settings(const config::Config& c) {
  CoreSettings s;
  s.target = c.target.name;
  s.archive_dir = c.archive.dir;
  s.detection = c.detection;
  s.capture = c.capture;
  s.can_capture = c.capture.enabled();
  return s;
}

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

Engine::Engine(asio::io_context& io, config::Config config, const core::Clock& clock, AlertFn alert,
               EngineOptions options)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      alert_(std::move(alert)),
      options_(std::move(options)),
      core_(core_settings(config_), clock.now()),
      archive_(std::move(options_.archive)),
      store_(config_.state_dir, config_.target.name),
      poll_timer_(io),
      stop_timer_(io) {}

Engine::~Engine() {
  *alive_ = false;
  poll_timer_.cancel();
  stop_timer_.cancel();
  // Kills a running diff child; nothing here waits for it.
  if (diff_child_) diff_child_->abandon();
}

std::optional<pid_t> Engine::diff_pid() const {
  if (diff_child_ && !diff_child_->finished()) return diff_child_->pid();
  return std::nullopt;
}

core::Status Engine::start() {
  memory_budget_ = resolve_memory_budget(config_.resources.memory_budget);
  log()->info("memory budget {}{}", core::format_bytes(static_cast<double>(memory_budget_)),
              config_.resources.memory_budget ? "" : " (default)");
  if (options_.source) {
    source_ = std::move(options_.source);
  } else {
    auto src = source::make_source(io_, config_.target, clock_);
    if (!src.ok()) return src.error();
    source_ = std::move(*src);
  }
  log()->info("watching target={} source=\"{}\" poll_interval={}ms", config_.target.name,
              source_->describe(), config_.poll_interval.count());

  std::error_code ec;
  const bool archive_exists =
      !config_.archive.dir.empty() && std::filesystem::exists(config_.archive.dir, ec);
  if (!archive_ && (config_.capture.enabled() || archive_exists))
    archive_ = std::make_shared<archive::Archive>(config_.archive);
  if (config_.capture.enabled()) {
    auto cleaned = archive_->open();
    if (!cleaned.ok()) return cleaned.error();
    if (cleaned->partial_removed || cleaned->recovered || cleaned->orphan_metadata_removed)
      log()->warn(
          "archive cleanup after a crash: partial_removed={} recovered={} orphans_removed={}",
          cleaned->partial_removed, cleaned->recovered, cleaned->orphan_metadata_removed);
    capturer_ = std::make_unique<capture::Capturer>(io_, config_.capture, *archive_, clock_);
    capture::CaptureRequest near_limit;
    near_limit.target = config_.target.name;
    capturer_->watch(near_limit, [this, alive = alive_](core::Result<archive::Metadata> r) {
      if (*alive) run(core_.on_watched_capture(std::move(r), clock_.now()));
    });
    log()->info("captures enabled: archive={} series={}x every {}", config_.archive.dir,
                config_.capture.series_count,
                core::format_duration(config_.capture.series_spacing));
  }

  if (auto loaded = store_.load(); loaded.ok()) {
    for (const auto& w : core_.restore(*loaded))
      log()->warn("{}", w);
    log()->info("restored detector state from {} (state={})", store_.path().string(),
                detect::to_string(core_.detector().last().state));
    // The capture-time histograms of the series so far, for an alert without the full diff.
    if (archive_)
      for (const auto& id : core_.series_ids())
        if (auto m = archive_->get(id); m.ok()) core_.note_archived(*m);
  } else if (loaded.error().code != core::Errc::not_found) {
    log()->warn("state not restored: {}", loaded.error().message);
  }
  schedule_poll(0ms);
  return core::ok_status();
}

void Engine::schedule_poll(std::chrono::milliseconds delay) {
  if (core_.stopping()) return;
  poll_timer_.expires_after(delay);
  poll_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    poll();
  });
}

void Engine::poll() {
  if (core_.stopping() || polling_) return;
  polling_ = true;
  auto started = clock_.now();
  source_->read([this, alive = alive_, started](core::Result<core::Sample> r) {
    if (!*alive) return;
    polling_ = false;
    auto now = clock_.now();
    run(core_.on_sample(std::move(r), now));
    // Keep a steady cadence: subtract the time the read took.
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
    schedule_poll(std::clamp(config_.poll_interval - took, 0ms, config_.poll_interval));
  });
}

void Engine::run(Actions actions) {
  for (const auto& a : actions)
    run(a);
}

void Engine::run(const Action& action) {
  std::visit(Overloaded{
                 [this](const EmitEvent& a) {
                   if (alert_) alert_(a.event);
                 },
                 [this](const StartCapture& a) { start_capture(a.request); },
                 [this](const RequestDiff& a) { request_diff(a.base_id, a.target_id); },
                 [this](const Persist&) { persist(); },
                 [this](const Archived& a) {
                   auto pruned = archive_->prune(clock_.now());
                   if (pruned.ok() && !pruned->removed.empty())
                     log()->info("archive retention removed={} freed={}", pruned->removed.size(),
                                 core::format_bytes(static_cast<double>(pruned->freed_bytes)));
                   if (on_archived_) on_archived_(a.metadata);
                 },
                 [this](const Annotate& a) {
                   if (auto st = archive_->annotate(a.id, a.analysis); !st.ok())
                     log()->warn("cannot add the diff to the archive metadata: {}",
                                 st.error().message);
                 },
                 [this](const CancelDiff&) {
                   if (diff_child_ && !diff_child_->finished()) diff_child_->cancel();
                 },
                 [this](const AbandonCapture&) {
                   capturer_.reset();  // aborts the transfer; the pending file is removed
                 },
                 [this](const Stopped&) {
                   stop_timer_.cancel();
                   if (auto done = std::move(stopped_)) asio::post(io_, std::move(done));
                 },
             },
             action);
}

void Engine::persist() {
  if (auto st = store_.save(core_.save(), clock_.now()); !st.ok())
    log()->warn("cannot persist state: {}", st.error().message);
}

void Engine::start_capture(capture::CaptureRequest request) {
  capturer_->capture(std::move(request), [this, alive = alive_](core::Result<archive::Metadata> r) {
    if (*alive) run(core_.on_capture_done(std::move(r), clock_.now()));
  });
}

void Engine::request_diff(const std::string& base_id, const std::string& target_id) {
  auto answer = [this, alive = alive_](core::Result<DiffOutcome> d) {
    if (*alive) run(core_.on_diff_done(std::move(d), clock_.now()));
  };
  if (diff_child_ && !diff_child_->finished())
    return answer(core::make_error(core::Errc::busy, "another diff is running"));
  DiffCommand how;
  how.command = options_.diff_command;
  how.time_limit = options_.diff_time_limit;
  how.retainer_paths = config_.alerts.retainer_paths;
  auto child = start_diff(io_, *archive_, base_id, target_id, memory_budget_, how, answer);
  if (!child.ok()) return answer(child.error());
  diff_child_ = std::move(*child);
}

void Engine::stop(std::chrono::milliseconds deadline, std::function<void()> done) {
  poll_timer_.cancel();
  stopped_ = std::move(done);
  auto now = clock_.now();
  auto actions =
      core_.stop(now, now + std::chrono::duration_cast<core::WallClock::duration>(deadline));
  if (core_.capture_in_flight()) {
    stop_timer_.expires_after(deadline);
    stop_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (!ec && *alive) run(core_.on_stop_deadline(clock_.now()));
    });
  }
  run(std::move(actions));
}

Status Engine::status() const {
  Status s = core_.status(clock_.now());
  s.source = source_ ? source_->describe() : "";
  s.identity = config_.archive.identity;
  if (capturer_) {
    auto p = capturer_->progress();
    if (p.active) s.capture = p.to_json();
  }
  return s;
}

}  // namespace leakwatch::engine
