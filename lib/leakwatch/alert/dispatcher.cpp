#include "leakwatch/alert/dispatcher.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <map>

#include "leakwatch/core/log.h"

namespace leakwatch::alert {

namespace asio = boost::asio;

RetryPolicy retry_policy(const DeliverySettings& d, SinkKind kind) {
  RetryPolicy p;
  p.initial_backoff = d.initial_backoff;
  p.max_backoff = d.max_backoff;
  p.give_up_after = d.give_up_after;
  p.min_interval = kind == SinkKind::slack ? d.slack_min_interval : Millis(0);
  return p;
}

namespace {
std::string secs(core::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", core::to_seconds(d));
  return buf;
}
}  // namespace

struct Dispatcher::Impl : std::enable_shared_from_this<Impl> {
  struct SinkState {
    std::unique_ptr<Sink> sink;
    DeliveryQueue queue;
    asio::steady_timer timer;
    // Sinks with a resend interval: the latest event of each open incident, by incident id.
    std::map<std::string, Event> firing;
    std::unique_ptr<asio::steady_timer> resend_timer;
    bool resend_armed = false;
  };

  Impl(asio::io_context& io, const core::Clock& clock, DeliverySettings settings,
       std::uint64_t seed)
      : io(io),
        clock(clock),
        settings(settings),
        seed(seed),
        client(io),
        flush_timer(io),
        log(core::logger("alert")) {}

  asio::io_context& io;
  const core::Clock& clock;
  DeliverySettings settings;
  std::uint64_t seed;
  http::Client client;
  std::vector<std::unique_ptr<SinkState>> sinks;
  std::function<void(const Report&)> observer;
  std::function<void(Event&)> refresh;
  bool flushing = false;
  bool closed = false;
  std::function<void()> flush_done;
  asio::steady_timer flush_timer;
  std::chrono::steady_clock::time_point flush_deadline{};
  std::shared_ptr<spdlog::logger> log;

  void emit(const SinkState& s, const Report& r) {
    const auto& name = s.sink->name();
    const auto& dest = s.sink->destination();
    const char* type = to_string(r.event_type);
    switch (r.fate) {
      case Fate::delivered:
        if (r.resend) {
          log->debug("alert re-posted sink={} dest={} event={} id={}", name, dest, type,
                     r.event_id);
          break;
        }
        log->info("alert delivered sink={} dest={} event={} id={} attempts={}", name, dest, type,
                  r.event_id, r.attempts);
        break;
      case Fate::retrying:
        log->warn(
            "alert delivery failed, will retry sink={} dest={} event={} id={} attempt={} "
            "retry_in={} error=\"{}\"",
            name, dest, type, r.event_id, r.attempts,
            r.next_attempt ? secs(*r.next_attempt - clock.now()) : "?", r.detail);
        break;
      case Fate::rejected:
        log->error(
            "alert rejected by the receiver, not retried (broken payload, or the webhook "
            "was revoked, archived or moved) sink={} dest={} event={} id={} \"{}\"",
            name, dest, type, r.event_id, r.detail);
        break;
      case Fate::gave_up:
        log->error(
            "alert not delivered, giving up sink={} dest={} event={} id={} attempts={} "
            "\"{}\"",
            name, dest, type, r.event_id, r.attempts, r.detail);
        break;
      case Fate::dropped:
        log->warn("alert dropped sink={} dest={} event={} id={} reason=\"{}\"", name, dest, type,
                  r.event_id, r.detail);
        break;
      case Fate::abandoned:
        log->warn("alert abandoned at shutdown sink={} dest={} event={} id={} attempts={}", name,
                  dest, type, r.event_id, r.attempts);
        break;
    }
    if (observer) observer(r);
  }

  void pump(std::size_t i) {
    if (closed) return;
    auto& s = *sinks[i];
    auto now = clock.now();
    for (const auto& r : s.queue.expire(now))
      emit(s, r);
    auto due = s.queue.due();
    if (!due) {
      check_flush_done();
      return;
    }
    if (*due <= now) {
      send(i);
      return;
    }
    s.timer.expires_after(*due - now);
    s.timer.async_wait([weak = weak_from_this(), i](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed or cancelled
      if (auto self = weak.lock()) self->pump(i);
    });
  }

  void send(std::size_t i) {
    auto& s = *sinks[i];
    auto now = clock.now();
    const auto& pending = s.queue.begin(now);
    http::Request req = s.sink->build(pending.event, now);
    if (flushing) {
      auto left =
          std::chrono::duration_cast<Millis>(flush_deadline - std::chrono::steady_clock::now());
      left = std::max(left, Millis(100));
      req.total_timeout = std::min(req.total_timeout, left);
      req.connect_timeout = std::min(req.connect_timeout, left);
      req.idle_timeout = std::min(req.idle_timeout, left);
    }
    client.request(std::move(req), [weak = weak_from_this(), i](core::Result<http::Response> r) {
      if (auto self = weak.lock()) self->on_result(i, r);
    });
  }

  void on_result(std::size_t i, const core::Result<http::Response>& r) {
    if (closed) return;
    auto& s = *sinks[i];
    AttemptResult res = classify(r);
    res.detail = s.sink->scrub(std::move(res.detail));
    emit(s, s.queue.finish(res, clock.now()));
    pump(i);
  }

  // Keeps the open incidents of a resending sink: the latest firing event per incident; a
  // recovery forgets it. Bounded: a target has at most a leak and a source incident open, and a
  // dispatcher serves one target.
  void track(std::size_t i, const Event& e) {
    auto& s = *sinks[i];
    if (!s.resend_timer || e.incident_id.empty() || e.resend) return;
    if (e.type == EventType::recovered) {
      s.firing.erase(e.incident_id);
    } else if (e.type == EventType::leak_suspected || e.type == EventType::source_unavailable) {
      if (s.firing.size() >= kMaxFiring && !s.firing.count(e.incident_id))
        s.firing.erase(s.firing.begin());
      Event& kept = s.firing[e.incident_id] = e;
      kept.escalated = false;  // what the escalation ended needs no ending again on every re-post
      arm_resend(i);
    }
  }

  void arm_resend(std::size_t i) {
    auto& s = *sinks[i];
    if (s.resend_armed || closed || flushing) return;
    s.resend_armed = true;
    s.resend_timer->expires_after(*s.sink->resend_interval());
    s.resend_timer->async_wait([weak = weak_from_this(), i](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->resend(i);
    });
  }

  void resend(std::size_t i) {
    auto& s = *sinks[i];
    s.resend_armed = false;
    if (closed || flushing || s.firing.empty()) return;
    // While earlier messages still wait (the receiver is down), a re-post adds nothing: each
    // attempt computes endsAt afresh.
    if (s.queue.empty()) {
      auto now = clock.now();
      for (const auto& [id, e] : s.firing) {
        Event copy = e;
        copy.resend = true;
        if (refresh) {
          try {
            refresh(copy);
          } catch (const std::exception& ex) {
            log->warn("alert re-post not refreshed sink={}: {}", s.sink->name(), ex.what());
          }
        }
        if (auto dropped = s.queue.push(std::move(copy), now)) emit(s, *dropped);
      }
      pump(i);
    }
    arm_resend(i);
  }

  static constexpr std::size_t kMaxFiring = 16;

  void check_flush_done() {
    if (!flushing || !flush_done) return;
    for (const auto& s : sinks)
      if (!s->queue.empty()) return;
    flush_timer.cancel();
    auto done = std::move(flush_done);
    flush_done = nullptr;
    done();
  }

  void deadline_passed() {
    for (auto& s : sinks) {
      s->timer.cancel();
      for (const auto& r : s->queue.abandon_all())
        emit(*s, r);
    }
    closed = true;
    if (flush_done) {
      auto done = std::move(flush_done);
      flush_done = nullptr;
      done();
    }
  }
};

Dispatcher::Dispatcher(asio::io_context& io, const core::Clock& clock, DeliverySettings settings,
                       std::uint64_t seed)
    : impl_(std::make_shared<Impl>(io, clock, settings, seed)) {}

Dispatcher::~Dispatcher() {
  impl_->closed = true;
  impl_->refresh = nullptr;  // it may point into the owner, which is going away
  for (auto& s : impl_->sinks) {
    s->timer.cancel();
    if (s->resend_timer) s->resend_timer->cancel();
  }
  impl_->flush_timer.cancel();
}

void Dispatcher::add_sink(std::unique_ptr<Sink> sink) {
  auto kind = sink->kind();
  std::string name = sink->name();
  std::uint64_t seed = impl_->seed ? impl_->seed + impl_->sinks.size() : 0;
  impl_->sinks.push_back(std::make_unique<Impl::SinkState>(Impl::SinkState{
      std::move(sink),
      DeliveryQueue(name, retry_policy(impl_->settings, kind), impl_->settings.queue_size, seed),
      asio::steady_timer(impl_->io),
      {},
      nullptr,
      false}));
  auto& added = *impl_->sinks.back();
  if (added.sink->resend_interval())
    added.resend_timer = std::make_unique<asio::steady_timer>(impl_->io);
}

std::size_t Dispatcher::submit(const Event& e) {
  if (impl_->closed) {
    impl_->log->warn("alert not queued, shutting down event={} id={}", to_string(e.type), e.id);
    return 0;
  }
  std::size_t queued = 0;
  auto now = impl_->clock.now();
  for (std::size_t i = 0; i < impl_->sinks.size(); ++i) {
    auto& s = *impl_->sinks[i];
    if (!s.sink->wants(e)) continue;
    ++queued;
    impl_->track(i, e);
    if (auto dropped = s.queue.push(e, now)) impl_->emit(s, *dropped);
    // Start on the next turn of the loop: the caller's tick is never delayed by I/O set-up.
    asio::post(impl_->io, [weak = impl_->weak_from_this(), i] {
      if (auto self = weak.lock()) self->pump(i);
    });
  }
  return queued;
}

void Dispatcher::set_refresh(std::function<void(Event&)> refresh) {
  impl_->refresh = std::move(refresh);
}

void Dispatcher::set_observer(std::function<void(const Report&)> observer) {
  impl_->observer = std::move(observer);
}

void Dispatcher::flush(std::chrono::milliseconds grace, std::function<void()> done) {
  auto& im = *impl_;
  if (im.closed) {
    if (done) done();
    return;
  }
  im.flushing = true;
  im.flush_done = std::move(done);
  im.flush_deadline = std::chrono::steady_clock::now() + grace;
  im.flush_timer.expires_after(grace);
  im.flush_timer.async_wait([weak = im.weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->deadline_passed();
  });
  auto now = im.clock.now();
  for (std::size_t i = 0; i < im.sinks.size(); ++i) {
    if (im.sinks[i]->resend_timer) im.sinks[i]->resend_timer->cancel();
    im.sinks[i]->queue.hurry(now);
    im.pump(i);
  }
  im.check_flush_done();
}

std::vector<SinkStats> Dispatcher::stats() const {
  std::vector<SinkStats> out;
  for (const auto& s : impl_->sinks)
    out.push_back(s->queue.stats());
  return out;
}

bool Dispatcher::idle() const {
  for (const auto& s : impl_->sinks)
    if (!s->queue.empty()) return false;
  return true;
}

}  // namespace leakwatch::alert
