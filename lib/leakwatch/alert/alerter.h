#pragma once
// The alert subsystem as the engine uses it: the incident tracker (what to send) in front of the
// dispatcher (how to deliver). The engine calls publish() with what it observes on every poll
// (a leak_suspected on each decision while the leak lasts is fine: reminders are rate-limited).
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/alert/dispatcher.h"
#include "leakwatch/alert/incident.h"
#include "leakwatch/alert/settings.h"

namespace leakwatch::alert {

class Alerter {
 public:
  // Builds the sinks from validated settings. Errors name the sink, never a URL or secret.
  static core::Result<std::unique_ptr<Alerter>> create(boost::asio::io_context& io,
                                                       const core::Clock& clock,
                                                       const AlertSettings& settings,
                                                       std::uint64_t seed = 0);

  // Returns the event as queued (ids filled), or nullopt when it was a repeat or no sink wants it.
  std::optional<Event> publish(Event e);
  // Where the target runs (resolved once at start): stamped on every published event that does not
  // carry one, so that every sink shows it.
  void set_task(TaskInfo task) { task_ = std::move(task); }
  // With archive.s3: where an archive id's snapshot is (or will be) in S3 (s3::Uploader::link).
  // Every published event with archive ids then names their S3 objects; and leak and OOM alerts,
  // which carry no capture themselves, name the latest completed capture's snapshots (with their
  // upload state at that moment), so that a fleet receiver (Alertmanager) links them too.
  using ArchiveLinker = std::function<std::optional<s3::ObjectLink>(const std::string& archive_id)>;
  void set_archive_linker(ArchiveLinker linker) { linker_ = std::move(linker); }
  // The latest completed capture when this Alerter starts (a restarted daemon's archive), so that
  // its first leak and OOM alerts name those snapshots too; the next capture replaces it.
  void remember_capture(std::string target, std::vector<std::string> archive_ids) {
    last_capture_target_ = std::move(target);
    last_capture_ids_ = std::move(archive_ids);
  }
  // Shutdown: pending messages get delivery.shutdown_grace.
  void shutdown(std::function<void()> done);

  Dispatcher& dispatcher() { return dispatcher_; }
  const IncidentTracker& tracker() const { return tracker_; }

  Alerter(boost::asio::io_context& io, const core::Clock& clock, const AlertSettings& settings,
          std::uint64_t seed);

 private:
  const core::Clock& clock_;
  AlertSettings settings_;
  IncidentTracker tracker_;
  Dispatcher dispatcher_;
  TaskInfo task_;
  ArchiveLinker linker_;
  // The latest completed capture's archive ids (this Alerter serves one target).
  std::vector<std::string> last_capture_ids_;
  std::string last_capture_target_;
  void attach_capture(Event& e);
  void link_objects(Event& e);
};

// `leakwatch alert test`: sends one test event (carrying `task`, where the target runs) to every
// sink on a private io_context and waits until each one is delivered, rejected, or `deadline`
// passes.
struct TestOutcome {
  std::string sink;
  std::string kind;         // slack | webhook
  std::string destination;  // redacted
  bool ok = false;
  int attempts = 0;
  std::string detail;  // last status/error, secrets scrubbed
};
core::Result<std::vector<TestOutcome>> send_test(const AlertSettings& settings,
                                                 const std::string& target,
                                                 std::chrono::milliseconds deadline,
                                                 const TaskInfo& task = {});

}  // namespace leakwatch::alert
