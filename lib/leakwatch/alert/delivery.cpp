#include "leakwatch/alert/delivery.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace leakwatch::alert {

namespace {

std::string clean_body(std::string_view body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

std::optional<Millis> parse_retry_after(std::string_view value, core::TimePoint now) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t s = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
    if (ec != std::errc()) return std::nullopt;
    return Millis(static_cast<std::int64_t>(std::min<std::uint64_t>(s, 86400 * 7)) * 1000);
  }
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  auto when = core::WallClock::from_time_t(timegm(&tm));
  if (when <= now) return Millis(0);
  return std::chrono::duration_cast<Millis>(when - now);
}

AttemptResult classify(const core::Result<http::Response>& result) {
  AttemptResult r;
  if (!result.ok()) {
    const auto& err = result.error();
    r.detail = err.to_string();
    r.verdict = err.code == core::Errc::invalid_url ? Verdict::rejected : Verdict::retry;
    return r;
  }
  const auto& resp = *result;
  r.status = resp.status;
  r.detail = "status=" + std::to_string(resp.status);
  if (auto b = clean_body(resp.body); !b.empty()) r.detail += " body=" + b;
  if (resp.status >= 200 && resp.status < 300) {
    r.verdict = Verdict::delivered;
  } else if (resp.status == 429) {
    r.verdict = Verdict::retry;
    if (auto h = resp.header("Retry-After"); !h.empty())
      r.retry_after = parse_retry_after(h, core::WallClock::now());
  } else if (resp.status == 408 || resp.status >= 500) {
    r.verdict = Verdict::retry;
  } else {
    r.verdict = Verdict::rejected;
  }
  return r;
}

Millis backoff_delay(const RetryPolicy& policy, int failures, double unit) {
  double base = static_cast<double>(policy.initial_backoff.count()) *
                std::pow(policy.multiplier, std::max(0, failures - 1));
  base = std::min(base, static_cast<double>(policy.max_backoff.count()));
  double factor = 1.0 + policy.jitter * (2.0 * std::clamp(unit, 0.0, 1.0) - 1.0);
  return Millis(static_cast<std::int64_t>(std::llround(base * factor)));
}

const char* to_string(Fate f) {
  switch (f) {
    case Fate::delivered:
      return "delivered";
    case Fate::retrying:
      return "retrying";
    case Fate::rejected:
      return "rejected";
    case Fate::gave_up:
      return "gave_up";
    case Fate::dropped:
      return "dropped";
    case Fate::abandoned:
      return "abandoned";
  }
  return "unknown";
}

DeliveryQueue::DeliveryQueue(std::string sink, RetryPolicy policy, std::size_t capacity,
                             std::uint64_t seed)
    : sink_(std::move(sink)),
      policy_(policy),
      capacity_(std::max<std::size_t>(1, capacity)),
      rng_(seed != 0 ? seed : std::random_device{}()) {
  stats_.sink = sink_;
}

Report DeliveryQueue::report(const Pending& p, Fate fate) const {
  Report r;
  r.sink = sink_;
  r.event_id = p.event.id;
  r.event_type = p.event.type;
  r.fate = fate;
  r.attempts = p.attempts;
  r.resend = p.event.resend;
  return r;
}

std::optional<Report> DeliveryQueue::push(Event e, core::TimePoint now) {
  std::optional<Report> dropped;
  ++stats_.enqueued;
  Pending p{std::move(e), now, now, 0, false};
  if (items_.size() >= capacity_) {
    ++stats_.dropped;
    std::size_t victim = in_flight_ ? 1 : 0;
    bool drop_new = victim >= items_.size();  // capacity 1 and busy: the new one cannot wait
    dropped = report(drop_new ? p : items_[victim], Fate::dropped);
    dropped->detail = "queue full (" + std::to_string(capacity_) + " messages)";
    if (drop_new) return dropped;
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(victim));
  }
  items_.push_back(std::move(p));
  stats_.queued = items_.size();
  return dropped;
}

std::optional<core::TimePoint> DeliveryQueue::due() const {
  if (items_.empty() || in_flight_) return std::nullopt;
  auto t = items_.front().not_before;
  if (delivered_once_) t = std::max(t, last_delivered_ + policy_.min_interval);
  return t;
}

std::vector<Report> DeliveryQueue::expire(core::TimePoint now) {
  std::vector<Report> out;
  for (std::size_t i = in_flight_ ? 1 : 0; i < items_.size();) {
    if (now - items_[i].queued >= policy_.give_up_after) {
      auto r = report(items_[i], Fate::gave_up);
      r.detail = "not delivered within the give-up time";
      out.push_back(std::move(r));
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
      ++stats_.gave_up;
    } else {
      ++i;
    }
  }
  stats_.queued = items_.size();
  return out;
}

const DeliveryQueue::Pending& DeliveryQueue::begin(core::TimePoint) {
  in_flight_ = true;
  ++items_.front().attempts;
  ++stats_.attempts;
  return items_.front();
}

Report DeliveryQueue::finish(const AttemptResult& result, core::TimePoint now) {
  if (!in_flight_ || items_.empty()) {
    Report r;
    r.sink = sink_;
    r.fate = Fate::abandoned;
    r.detail = "attempt finished after the queue was closed";
    return r;
  }
  in_flight_ = false;
  Pending& head = items_.front();
  Report r = report(head, Fate::delivered);
  r.status = result.status;
  r.detail = result.detail;
  auto pop = [&] {
    items_.pop_front();
    stats_.queued = items_.size();
  };
  switch (result.verdict) {
    case Verdict::delivered:
      ++stats_.delivered;
      last_delivered_ = now;
      delivered_once_ = true;
      pop();
      return r;
    case Verdict::rejected:
      r.fate = Fate::rejected;
      ++stats_.rejected;
      pop();
      return r;
    case Verdict::retry:
      break;
  }
  Millis delay;
  head.rate_limited = result.status == 429;
  if (head.rate_limited) ++stats_.rate_limited;
  if (result.retry_after) {
    delay = std::min(*result.retry_after, policy_.max_retry_after);
  } else {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    delay = backoff_delay(policy_, head.attempts, unit(rng_));
  }
  auto next = now + delay;
  if (next >= head.queued + policy_.give_up_after) {
    r.fate = Fate::gave_up;
    char limit[32];
    std::snprintf(limit, sizeof limit, "%gs",
                  static_cast<double>(policy_.give_up_after.count()) / 1000);
    r.detail += std::string("; giving up (not delivered within ") + limit + ")";
    ++stats_.gave_up;
    pop();
    return r;
  }
  head.not_before = next;
  ++stats_.retries;
  r.fate = Fate::retrying;
  r.next_attempt = next;
  return r;
}

void DeliveryQueue::hurry(core::TimePoint now) {
  if (items_.empty() || in_flight_) return;
  auto& head = items_.front();
  if (!head.rate_limited) head.not_before = std::min(head.not_before, now);
}

std::vector<Report> DeliveryQueue::abandon_all() {
  std::vector<Report> out;
  for (const auto& p : items_) {
    auto r = report(p, Fate::abandoned);
    r.detail = "shutdown deadline passed";
    out.push_back(std::move(r));
  }
  stats_.abandoned += items_.size();
  items_.clear();
  in_flight_ = false;
  stats_.queued = 0;
  return out;
}

}  // namespace leakwatch::alert
