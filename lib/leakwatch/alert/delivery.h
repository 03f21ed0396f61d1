#pragma once
// Delivery policy and the per-sink queue, pure (no I/O; `now` is a parameter) so retry timing,
// give-up and overflow are tested with a manual clock. The Dispatcher drives it with real timers.
//
// Rules: 2xx = delivered. 429 = retry after Retry-After (seconds) or the backoff. 408 and 5xx,
// timeouts, connection and TLS errors = retry with exponential backoff (x2, +-jitter, capped).
// Any other status (400 invalid_payload, 403/404/410 revoked or archived webhook, 3xx redirect) =
// rejected, not retried. A message older than give_up_after is dropped ("gave_up").
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "leakwatch/alert/event.h"
#include "leakwatch/core/result.h"
#include "leakwatch/http/client.h"

namespace leakwatch::alert {

using Millis = std::chrono::milliseconds;

enum class Verdict { delivered, retry, rejected };

struct AttemptResult {
  Verdict verdict = Verdict::retry;
  int status = 0;                     // HTTP status; 0 = no response (transport error)
  std::optional<Millis> retry_after;  // from a 429's Retry-After
  std::string detail;  // safe for logs: "status=400 body=invalid_payload", error text
};

// Classifies the outcome of one attempt. Response bodies are cut to 200 characters, control
// characters removed; the caller must still redact secrets from `detail`.
AttemptResult classify(const core::Result<http::Response>& result);

// Retry-After: delta-seconds ("120") or an HTTP-date; `now` for the date form. nullopt if invalid.
std::optional<Millis> parse_retry_after(std::string_view value, core::TimePoint now);

struct RetryPolicy {
  Millis initial_backoff{2000};
  Millis max_backoff{300000};
  double multiplier = 2.0;
  double jitter = 0.2;  // the delay is scaled by a uniform factor in [1-jitter, 1+jitter]
  Millis give_up_after{3600000};
  Millis min_interval{0};          // spacing between two messages (Slack: 1s)
  Millis max_retry_after{900000};  // a Retry-After above this is capped
};

// Delay before retry number `failures` (1 = after the first failed attempt). `unit` in [0,1) picks
// the jitter (0.5 = none).
Millis backoff_delay(const RetryPolicy& policy, int failures, double unit);

enum class Fate { delivered, retrying, rejected, gave_up, dropped, abandoned };
const char* to_string(Fate f);

// What happened to a message (one per attempt outcome, plus drops).
struct Report {
  std::string sink;
  std::string event_id;
  EventType event_type = EventType::test;
  Fate fate = Fate::delivered;
  int attempts = 0;
  int status = 0;
  std::string detail;
  std::optional<core::TimePoint> next_attempt;  // retrying
  bool resend = false;                          // the message is a periodic re-post
};

struct SinkStats {
  std::string sink;
  std::uint64_t enqueued = 0;
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t retries = 0;       // failed attempts that were retried
  std::uint64_t rate_limited = 0;  // 429 answers
  std::uint64_t rejected = 0;
  std::uint64_t gave_up = 0;
  std::uint64_t dropped = 0;    // queue full
  std::uint64_t abandoned = 0;  // still queued when the shutdown deadline passed
  std::size_t queued = 0;       // waiting now (including in flight)
};

class DeliveryQueue {
 public:
  struct Pending {
    Event event;
    core::TimePoint queued{};
    core::TimePoint not_before{};
    int attempts = 0;
    bool rate_limited = false;  // waiting for a 429's Retry-After
  };

  DeliveryQueue(std::string sink, RetryPolicy policy, std::size_t capacity, std::uint64_t seed = 0);

  // Queues a message. When full, the oldest waiting message (not the one in flight) is dropped and
  // reported.
  std::optional<Report> push(Event e, core::TimePoint now);
  // When the head may be sent (nullopt: empty or an attempt is in flight).
  std::optional<core::TimePoint> due() const;
  // Drops messages whose give-up time has passed (not the one in flight).
  std::vector<Report> expire(core::TimePoint now);
  // Starts an attempt of the head (due() <= now); the returned message is valid until finish().
  const Pending& begin(core::TimePoint now);
  bool in_flight() const { return in_flight_; }
  // Records the attempt's outcome and decides: delivered/rejected/gave_up (popped) or retrying.
  Report finish(const AttemptResult& result, core::TimePoint now);
  // Shutdown: a head waiting for a backoff (not a 429) may go at once.
  void hurry(core::TimePoint now);
  // Shutdown deadline: reports every remaining message as abandoned (the one in flight included).
  std::vector<Report> abandon_all();

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const SinkStats& stats() const { return stats_; }

 private:
  Report report(const Pending& p, Fate fate) const;

  std::string sink_;
  RetryPolicy policy_;
  std::size_t capacity_;
  std::mt19937_64 rng_;
  std::deque<Pending> items_;
  bool in_flight_ = false;
  core::TimePoint last_delivered_{};
  bool delivered_once_ = false;
  SinkStats stats_;
};

}  // namespace leakwatch::alert
