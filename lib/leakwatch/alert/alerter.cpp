#include "leakwatch/alert/alerter.h"

#include <algorithm>
#include <map>

#include "leakwatch/core/log.h"

namespace leakwatch::alert {

Alerter::Alerter(boost::asio::io_context& io, const core::Clock& clock,
                 const AlertSettings& settings, std::uint64_t seed)
    : clock_(clock),
      settings_(settings),
      tracker_(settings.reminder_interval, seed),
      dispatcher_(io, clock, settings.delivery, seed) {
  // Alertmanager's re-posts carry the upload state as it is now: "pending" becomes "uploaded".
  dispatcher_.set_refresh([this](Event& e) {
    if (!e.capture || e.capture->s3_objects.empty()) return;
    bool settled =
        std::all_of(e.capture->s3_objects.begin(), e.capture->s3_objects.end(),
                    [](const s3::ObjectLink& o) { return o.state != s3::UploadState::pending; });
    if (settled) return;
    e.capture->s3_objects.clear();
    link_objects(e);
  });
}

core::Result<std::unique_ptr<Alerter>> Alerter::create(boost::asio::io_context& io,
                                                       const core::Clock& clock,
                                                       const AlertSettings& settings,
                                                       std::uint64_t seed) {
  auto sinks = make_sinks(settings);
  if (!sinks) return sinks.error();
  auto a = std::make_unique<Alerter>(io, clock, settings, seed);
  auto log = core::logger("alert");
  for (auto& s : *sinks) {
    log->info("alert sink ready sink={} kind={} dest={} min_severity={}", s->name(),
              to_string(s->kind()), s->destination(), to_string(s->min_severity()));
    a->dispatcher_.add_sink(std::move(s));
  }
  for (const auto& w : settings.webhooks)
    if (w.secret.empty())
      log->warn("alert webhook is not signed (no secret): receivers cannot verify it sink={}",
                w.name.empty() ? "webhook" : w.name);
  return a;
}

void Alerter::attach_capture(Event& e) {
  if (!linker_) return;
  if (e.type == EventType::capture_completed && e.capture && !e.capture->archive_ids.empty()) {
    last_capture_ids_ = e.capture->archive_ids;
    last_capture_target_ = e.target;
  } else if ((e.type == EventType::leak_suspected || e.type == EventType::oom_kill) && !e.capture &&
             !last_capture_ids_.empty() && e.target == last_capture_target_) {
    CaptureFigures cf;
    cf.archive_ids = last_capture_ids_;
    e.capture = std::move(cf);
  }
}

void Alerter::link_objects(Event& e) {
  if (!linker_ || !e.capture || !e.capture->s3_objects.empty()) return;
  try {
    for (const auto& id : e.capture->archive_ids)
      if (auto o = linker_(id)) e.capture->s3_objects.push_back(std::move(*o));
  } catch (const std::exception& ex) {
    // The alert still goes out, without S3 links.
    e.capture->s3_objects.clear();
    core::logger("alert")->warn("cannot name the S3 objects of the snapshots: {}", ex.what());
  }
}

std::optional<Event> Alerter::publish(Event e) {
  if (e.task.empty()) e.task = task_;
  attach_capture(e);
  auto accepted = tracker_.accept(std::move(e), clock_.now());
  if (!accepted) return std::nullopt;
  // Only for what goes out: the engine publishes a leak on every poll.
  link_objects(*accepted);
  if (dispatcher_.submit(*accepted) == 0) return std::nullopt;
  return accepted;
}

void Alerter::shutdown(std::function<void()> done) {
  dispatcher_.flush(settings_.delivery.shutdown_grace, std::move(done));
}

core::Result<std::vector<TestOutcome>> send_test(const AlertSettings& settings,
                                                 const std::string& target,
                                                 std::chrono::milliseconds deadline,
                                                 const TaskInfo& task) {
  auto sinks = make_sinks(settings);
  if (!sinks) return sinks.error();
  boost::asio::io_context io;
  core::SystemClock clock;
  DeliverySettings d = settings.delivery;
  d.give_up_after = std::min(d.give_up_after, deadline);
  Dispatcher dispatcher(io, clock, d);
  std::vector<TestOutcome> out;
  for (auto& s : *sinks) {
    out.push_back({s->name(), to_string(s->kind()), s->destination(), false, 0, "not sent"});
    dispatcher.add_sink(std::move(s));
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < out.size(); ++i)
    index[out[i].sink] = i;
  dispatcher.set_observer([&](const Report& r) {
    auto it = index.find(r.sink);
    if (it == index.end()) return;
    auto& o = out[it->second];
    o.attempts = std::max(o.attempts, r.attempts);
    o.detail = r.detail;
    if (r.fate == Fate::delivered) o.ok = true;
    if (r.fate == Fate::abandoned) o.detail = "no answer in time (last: " + o.detail + ")";
  });

  Event e;
  e.type = EventType::test;
  e.time = clock.now();
  e.target = target;
  e.task = task;
  IncidentTracker tracker(std::chrono::hours(1));
  auto accepted = tracker.accept(e, e.time);
  dispatcher.submit(*accepted);
  dispatcher.flush(deadline, [] {});
  io.run();
  return out;
}

}  // namespace leakwatch::alert
