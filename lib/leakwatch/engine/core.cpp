#include "leakwatch/engine/core.h"

#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"
#include "leakwatch/heapsnap/stream_histogram.h"

namespace leakwatch::engine {

namespace {

std::shared_ptr<spdlog::logger> log() {
  return core::logger("engine");
}

bool is_leak_state(detect::State s) {
  return s == detect::State::leak_suspected || s == detect::State::oom_imminent;
}

template <typename T, typename V>
void push_bounded(std::deque<T>& d, V&& v, std::size_t max) {
  d.push_back(std::forward<V>(v));
  while (d.size() > max)
    d.pop_front();
}

}  // namespace

Core::Core(CoreSettings settings, core::TimePoint now)
    : settings_(std::move(settings)),
      detector_(settings_.detection),
      guard_(settings_.capture),
      series_(settings_.capture),
      started_at_(now),
      last_persist_(now) {}

std::vector<std::string> Core::restore(const nlohmann::json& j) {
  std::vector<std::string> warnings;
  if (!j.is_object()) return {"the state is not a JSON object"};
  if (j.contains("detector")) {
    auto d = detect::Detector::restore(j["detector"], settings_.detection);
    if (d.ok())
      detector_ = std::move(*d);
    else
      warnings.push_back("detector state not restored: " + d.error().message);
  }
  if (j.contains("guard_rails"))
    if (auto st = guard_.load_json(j["guard_rails"]); !st.ok())
      warnings.push_back("capture counters not restored: " + st.error().message);
  if (j.contains("series"))
    if (auto st = series_.load_json(j["series"]); !st.ok())
      warnings.push_back("capture series not restored: " + st.error().message);
  if (j.contains("series_ids") && j["series_ids"].is_array())
    for (const auto& id : j["series_ids"])
      if (id.is_string()) series_ids_.push_back(id.get<std::string>());
  if (j.contains("counters") && j["counters"].is_object()) {
    const auto& c = j["counters"];
    if (c.contains("captures") && c["captures"].is_object())
      for (const auto& [k, v] : c["captures"].items())
        if (v.is_number_unsigned()) counters_.captures[k] = v.get<std::uint64_t>();
  }
  if (j.contains("last_diff")) last_diff_ = j["last_diff"];
  return warnings;
}

nlohmann::json Core::save() const {
  nlohmann::json j;
  j["detector"] = detector_.save();
  j["guard_rails"] = guard_.to_json();
  j["series"] = series_.to_json();
  j["series_ids"] = series_ids_;
  j["counters"] = {{"captures", counters_.captures}};
  j["last_diff"] = last_diff_;
  return j;
}

void Core::note_archived(const archive::Metadata& m) {
  if (!m.histogram.is_null()) histograms_[m.id] = m.histogram;
}

Actions Core::on_sample(core::Result<core::Sample> r, core::TimePoint now) {
  Actions out;
  if (stopping_) return out;
  if (!r.ok()) {
    ++counters_.source_errors;
    ++consecutive_errors_;
    bool changed = last_source_error_ != r.error().message;
    last_source_error_ = r.error().message;
    if (changed || consecutive_errors_ == 1)
      log()->warn("sample failed target={} error={}", settings_.target, r.error().to_string());
    if (consecutive_errors_ == kSourceDownAfter) {
      source_down_ = true;
      auto e = base_event(alert::EventType::source_unavailable, now);
      e.reason = r.error().message;
      out.push_back(EmitEvent{std::move(e)});
    }
    maybe_capture(now, out);
    return out;
  }
  if (source_down_) {
    source_down_ = false;
    auto e = base_event(alert::EventType::recovered, now);
    e.recovered_from = alert::EventType::source_unavailable;
    e.reason = "memory figures are readable again after " + std::to_string(consecutive_errors_) +
               " failed polls";
    out.push_back(EmitEvent{std::move(e)});
  }
  consecutive_errors_ = 0;
  last_source_error_.clear();

  core::Sample s = std::move(*r);
  const bool had_ooms = latest_ && latest_->oom_kill_count.has_value();
  const std::uint64_t previous_ooms = had_ooms ? *latest_->oom_kill_count : 0;
  latest_ = s;
  guard_.observe(s);  // what a capture in flight costs the app, for the next one's headroom
  ++counters_.samples;
  push_bounded(samples_, StatusSample{s.time, s.usage_bytes, s.working_set_bytes, s.limit_bytes},
               kMaxSamples);

  if (had_ooms && s.oom_kill_count && *s.oom_kill_count > previous_ooms) {
    counters_.oom_kills += *s.oom_kill_count - previous_ooms;
    auto e = base_event(alert::EventType::oom_kill, s.time);
    e.oom_kill_count = s.oom_kill_count;
    e.reason = "the kernel OOM-killed a process of " + settings_.target + " (oom_kill " +
               std::to_string(*s.oom_kill_count) + ")";
    add_marker(s.time, "oom_kill", "OOM kill");
    out.push_back(EmitEvent{std::move(e)});
  }
  if (s.restarted) {
    auto e = base_event(alert::EventType::restart, s.time);
    e.reason =
        settings_.target + " restarted" + (s.instance.empty() ? "" : " (now " + s.instance + ")");
    add_marker(s.time, "restart", "restart");
    out.push_back(EmitEvent{std::move(e)});
    if (series_.active()) {
      log()->info(
          "target restarted: capture series cancelled (snapshots across restarts do not diff)");
      series_.cancel();
    }
  }

  auto previous = detector_.last().state;
  const auto& d = detector_.observe(s);
  if (d.floor_bytes > 0)
    push_bounded(floor_, LinePoint{s.time, static_cast<double>(d.floor_bytes)}, kMaxSamples);
  log()->debug("sample target={} usage={} working_set={} limit={} state={}", settings_.target,
               core::format_bytes(static_cast<double>(s.usage_bytes)),
               core::format_bytes(static_cast<double>(s.working_set_bytes)),
               s.limit_bytes ? core::format_bytes(static_cast<double>(*s.limit_bytes)) : "none",
               detect::to_string(d.state));
  if (d.changed || !state_since_) state_since_ = s.time;
  if (d.changed) on_decision(s, d, previous, out);
  maybe_capture(now, out);
  maybe_persist(now, out);
  return out;
}

void Core::on_decision(const core::Sample& s, const detect::Decision& d, detect::State previous,
                       Actions& out) {
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
    out.push_back(EmitEvent{std::move(e)});
    if (settings_.can_capture && series_.start(s.time, detect::to_string(d.state))) {
      series_ids_.clear();
      last_diff_ = nullptr;
      log()->info("capture series started: {} captures, {} apart", series_.count(),
                  core::format_duration(settings_.capture.series_spacing));
    }
  } else if (!is_leak_state(d.state) && is_leak_state(previous)) {
    auto e = base_event(alert::EventType::recovered, s.time);
    e.recovered_from = alert::EventType::leak_suspected;
    e.reason = d.explanation.empty() ? "the memory floor stopped rising" : d.explanation;
    add_marker(s.time, "alert", "recovered");
    out.push_back(EmitEvent{std::move(e)});
  }
}

void Core::maybe_capture(core::TimePoint now, Actions& out) {
  if (stopping_ || !settings_.can_capture || capture_in_flight_ || !series_.due(now)) return;
  int index = series_.next_index(), count = series_.count();
  auto verdict = guard_.check(now, latest_);
  if (!verdict.allowed) {
    series_.record_miss(now);
    ++counters_.captures["skipped"];
    log()->warn("capture skipped series={} index={}/{} reason={} detail=\"{}\"",
                series_.series_id(), index, count, capture::to_string(verdict.code),
                verdict.message);
    auto e = base_event(alert::EventType::capture_skipped, now);
    e.reason = verdict.message;
    const std::string why(capture::to_string(verdict.code));
    e.dedupe_key = "capture_skipped:" + why;
    add_marker(now, "capture_skipped", "capture skipped: " + why);
    out.push_back(EmitEvent{std::move(e)});
    if (series_.abandoned()) log()->warn("capture series abandoned after repeated misses");
    return;
  }
  guard_.started(now);
  capture_in_flight_ = true;
  capture_index_ = index;
  capture_count_of_series_ = count;
  capture::CaptureRequest req;
  req.target = settings_.target;
  req.reason.kind = "leak_series";
  req.reason.series_index = index;
  req.reason.series_count = count;
  req.reason.series_id = series_.series_id();
  req.sample = latest_;
  req.detector_state = detector_.last().to_json();
  log()->info("capture starting series={} index={}/{}", series_.series_id(), index, count);
  out.push_back(StartCapture{std::move(req)});
}

void Core::maybe_persist(core::TimePoint now, Actions& out) {
  if (now - last_persist_ < kPersistEvery) return;
  last_persist_ = now;
  out.push_back(Persist{});
}

Actions Core::on_capture_done(core::Result<archive::Metadata> r, core::TimePoint now) {
  Actions out;
  if (!capture_in_flight_) return out;  // abandoned at the stop deadline
  capture_in_flight_ = false;
  const int index = capture_index_, count = capture_count_of_series_;
  guard_.finished(now, r.ok());
  if (!r.ok()) {
    series_.record_miss(now);
    ++counters_.captures["failed"];
    log()->error("capture failed index={}/{} error={}", index, count, r.error().to_string());
    auto e = base_event(alert::EventType::capture_failed, now);
    e.reason = r.error().message;
    e.dedupe_key = "capture_failed:" + r.error().code_text();
    add_marker(now, "capture_failed", "capture failed: " + r.error().code_text());
    out.push_back(EmitEvent{std::move(e)});
  } else {
    const auto& m = *r;
    // The snapshot itself can leave the heap bigger: tell the detector, so it is not read as a
    // leak.
    detector_.note_capture(m.started_at);
    series_.record_success(now);
    series_ids_.push_back(m.id);
    note_archived(m);
    ++counters_.captures["ok"];
    counters_.capture_seconds_sum += m.duration_seconds;
    ++counters_.capture_seconds_count;
    counters_.archive_written_bytes += m.stored_bytes;
    log()->info("capture archived id={} size={} stored={} duration_s={:.1f}", m.id,
                core::format_bytes(static_cast<double>(m.size_bytes)),
                core::format_bytes(static_cast<double>(m.stored_bytes)), m.duration_seconds);
    add_marker(m.started_at, "capture",
               "snapshot " + std::to_string(index) + "/" + std::to_string(count), m.id);
    out.push_back(Archived{m});
    auto e = base_event(alert::EventType::capture_completed, now);
    alert::CaptureFigures cf;
    cf.archive_ids = series_ids_;
    cf.size_bytes = m.stored_bytes;
    cf.duration_seconds = m.duration_seconds;
    e.capture = cf;
    if (series_ids_.size() < 2) {
      out.push_back(EmitEvent{std::move(e)});
    } else {
      // Diff the first and the newest snapshot of the series, then alert with the top growers
      // (or with why there are none and the command to get them).
      diff_pending_ = std::move(e);
      if (stopping_) {
        auto rest =
            on_diff_done(core::make_error(core::Errc::cancelled,
                                          "leakwatch is stopping: the diff was not started"),
                         now);
        out.insert(out.end(), rest.begin(), rest.end());
      } else {
        out.push_back(RequestDiff{series_ids_.front(), series_ids_.back()});
      }
    }
  }
  last_persist_ = now;
  if (stopping_)
    finish_stop(out);
  else
    out.push_back(Persist{});
  return out;
}

Actions Core::on_watched_capture(core::Result<archive::Metadata> r, core::TimePoint now) {
  Actions out;
  if (!r.ok()) {
    ++counters_.captures["failed"];
    auto e = base_event(alert::EventType::capture_failed, now);
    e.reason = "near-heap-limit snapshot not archived: " + r.error().message;
    e.dedupe_key = "capture_failed:near_heap_limit";
    out.push_back(EmitEvent{std::move(e)});
    return out;
  }
  ++counters_.captures["ok"];
  add_marker(r->started_at, "capture", "near-heap-limit snapshot", r->id);
  out.push_back(Archived{*r});
  auto e = base_event(alert::EventType::capture_completed, now);
  e.reason = "near_heap_limit: the app wrote a heap snapshot near its heap limit";
  alert::CaptureFigures cf;
  cf.archive_ids = {r->id};
  cf.size_bytes = r->stored_bytes;
  cf.duration_seconds = r->duration_seconds;
  e.capture = cf;
  out.push_back(EmitEvent{std::move(e)});
  return out;
}

Actions Core::on_diff_done(core::Result<DiffOutcome> d, core::TimePoint /*now*/) {
  Actions out;
  if (!diff_pending_) return out;
  alert::Event e = std::move(*diff_pending_);
  diff_pending_.reset();
  const auto& ids = e.capture->archive_ids;
  const std::string base = ids.front(), target = ids.back();
  if (d.ok()) {
    last_diff_ = d->report;
    last_diff_["base"] = base;
    last_diff_["target"] = target;
    // The archive metadata of the newest snapshot carries what grew since the first.
    out.push_back(Annotate{target, {{"base", base}, {"top_growers", d->report["top_growers"]}}});
    e.capture->top_growers = std::move(d->growers);
  } else {
    log()->warn("snapshot diff not available: {}", d.error().message);
    e.capture->diff_command = diff_command_line(settings_.archive_dir, base, target);
    e.reason = "No retained sizes or retainer paths: " + d.error().message +
               ". Run the full diff where there is more memory: " + e.capture->diff_command;
    // The counts taken while the snapshots were written still say what grew.
    e.capture->top_growers = histogram_growers(base, target);
  }
  out.push_back(EmitEvent{std::move(e)});
  return out;
}

std::vector<alert::Grower> Core::histogram_growers(const std::string& base_id,
                                                   const std::string& target_id) const {
  std::vector<alert::Grower> out;
  auto b = histograms_.find(base_id);
  auto t = histograms_.find(target_id);
  if (b == histograms_.end() || t == histograms_.end()) return out;
  auto hb = heapsnap::histogram_from_json(b->second);
  auto ht = heapsnap::histogram_from_json(t->second);
  if (!hb.complete || !ht.complete) return out;
  for (auto& g : heapsnap::histogram_delta(hb, ht, 5)) {
    alert::Grower gr;
    gr.name = std::move(g.name);
    gr.size_delta = g.size_delta;
    gr.count_delta = g.count_delta;
    out.push_back(std::move(gr));
  }
  return out;
}

Actions Core::stop(core::TimePoint now, core::TimePoint deadline) {
  Actions out;
  if (stopping_) return out;
  stopping_ = true;
  if (diff_pending_) {
    log()->info("stopping: the running snapshot diff is cancelled");
    out.push_back(CancelDiff{});
  }
  if (capture_in_flight_) {
    log()->info("waiting up to {}ms for the capture in progress",
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    return out;
  }
  finish_stop(out);
  return out;
}

Actions Core::on_stop_deadline(core::TimePoint /*now*/) {
  Actions out;
  if (!stopping_ || !capture_in_flight_) return out;
  log()->warn(
      "capture still running at the shutdown deadline: abandoning it (its partial file is "
      "removed)");
  capture_in_flight_ = false;
  out.push_back(AbandonCapture{});
  finish_stop(out);
  return out;
}

void Core::finish_stop(Actions& out) {
  out.push_back(Persist{});
  out.push_back(Stopped{});
}

alert::Event Core::base_event(alert::EventType type, core::TimePoint t) const {
  alert::Event e;
  e.type = type;
  e.time = t;
  e.target = settings_.target;
  if (latest_) {
    e.instance = latest_->instance;
    e.memory.usage_bytes = latest_->usage_bytes;
    e.memory.working_set_bytes = latest_->working_set_bytes;
    e.memory.limit_bytes = latest_->limit_bytes;
  }
  return e;
}

void Core::add_marker(core::TimePoint t, std::string kind, std::string label, std::string id) {
  push_bounded(markers_, Marker{t, std::move(kind), std::move(label), std::move(id)}, kMaxMarkers);
}

Status Core::status(core::TimePoint now) const {
  Status s;
  s.target = settings_.target;
  s.now = now;
  s.started_at = started_at_;
  if (latest_) s.last_sample_at = latest_->time;
  s.samples.assign(samples_.begin(), samples_.end());
  s.floor.assign(floor_.begin(), floor_.end());
  const auto& d = detector_.last();
  s.trend = trend_line(d);
  s.forecast = forecast_line(d);
  s.detector = detector_view(d);
  s.detector.since = state_since_;
  s.markers.assign(markers_.begin(), markers_.end());
  s.counters = counters_;
  s.heap_analysis = last_diff_;
  return s;
}

}  // namespace leakwatch::engine
