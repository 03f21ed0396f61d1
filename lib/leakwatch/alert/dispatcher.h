#pragma once
// Delivers alert events to the sinks on the daemon's io_context: one bounded queue per sink, one
// attempt in flight per sink (order kept, Slack's rate limit respected), retries per the
// DeliveryQueue rules, a timer per sink. submit() never blocks and never throws: it only queues.
// Everything runs on the io_context's thread (call submit/flush from it, or before run()).
// Logs name the sink and the redacted destination only; secrets never reach a log line.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "leakwatch/alert/delivery.h"
#include "leakwatch/alert/sink.h"
#include "leakwatch/core/clock.h"

namespace leakwatch::alert {

RetryPolicy retry_policy(const DeliverySettings& d, SinkKind kind);

class Dispatcher {
 public:
  // `clock` (wall time for retry and give-up decisions) must outlive the dispatcher. `seed` fixes
  // the jitter (0 = random).
  Dispatcher(boost::asio::io_context& io, const core::Clock& clock, DeliverySettings settings,
             std::uint64_t seed = 0);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void add_sink(std::unique_ptr<Sink> sink);
  // Queues `e` for every sink that wants it. Returns the number of sinks it was queued for.
  std::size_t submit(const Event& e);
  // Applied to each re-post of an open incident's latest event (sinks with a resend interval)
  // before it is queued, to bring up to date what may have changed since (S3 upload states).
  void set_refresh(std::function<void(Event&)> refresh);
  // Called for every outcome (delivered, retrying, rejected, gave_up, dropped, abandoned).
  void set_observer(std::function<void(const Report&)> observer);
  // Shutdown: messages waiting for a backoff go at once, then retries continue until every queue
  // is empty or `grace` has passed; what is left is abandoned (logged, counted). `done` runs once.
  void flush(std::chrono::milliseconds grace, std::function<void()> done);

  std::vector<SinkStats> stats() const;
  bool idle() const;  // every queue empty

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::alert
