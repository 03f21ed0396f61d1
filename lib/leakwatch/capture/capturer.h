#pragma once
// Takes heap snapshots by the configured method (capture.method): http (below), inspector
// (inspector.cpp: CDP over a WebSocket) or signal (signal_capture.cpp: --heapsnapshot-signal), and
// picks up the snapshots Node writes near its heap limit (capture.watch_dir). Every method writes
// through the same CaptureSink (sink.h) into the same archive with the same metadata.
//
// The http method: GET the app's endpoint with the key header and stream the body into the
// archive (hashed, optionally zstd-compressed, never held in memory), with connect/idle/total
// timeouts, a size cap, a check that the body is a heap snapshot, and retries with backoff for
// timeouts, connection errors and 5xx. Never retried: 403 (wrong key), other 4xx, a body that is
// not a snapshot, the size cap, TLS verification failures and local disk errors.
//
// The guard rails (policy.h) are the caller's job: the daemon and `leakwatch capture` check them
// before calling capture(). The Capturer itself refuses to run two captures at once ("busy").
//
// Threading: everything runs on the io_context given (the daemon's I/O thread). Hashing and zstd
// (level 3) cost well under a millisecond per 64 KiB chunk; the archive's PendingCapture::write is
// the unit to post to a worker if heavier compression is ever wanted.
//
// Error codes: forbidden, http_status, server_error, not_a_snapshot, too_large, timeout, connect,
// resolve, tls, protocol, truncated, disk_full, io, busy, invalid_url, invalid_key, disabled.
// Messages never contain the key, the URL path or header values.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/settings.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"

namespace leakwatch::capture {

struct CaptureRequest {
  std::string target = "default";      // archive folder (config target.name)
  archive::Reason reason;              // manual, leak_series k of n, ...
  std::optional<core::Sample> sample;  // memory figures at capture (recorded in the metadata)
  nlohmann::json detector_state;       // opaque detector state (recorded in the metadata)
  bool forced = false;                 // recorded in the metadata
};

using CaptureCallback = std::function<void(core::Result<archive::Metadata>)>;

// What the capture in flight is doing, for the log and the API status.
struct CaptureProgress {
  bool active = false;
  std::string method;       // http, inspector, signal, watch_dir
  std::string phase;        // connecting, activating, snapshotting, streaming, signalling, ...
  std::uint64_t bytes = 0;  // snapshot bytes received / written by the app so far
  double fraction = -1;     // V8's own progress (inspector reportProgress), -1 when unknown
  nlohmann::json to_json() const;
};

class Capturer {
 public:
  // `archive` and `clock` must outlive the Capturer. `clock` gives the wall time recorded in the
  // archive (file names, metadata); durations are measured with the steady clock.
  Capturer(boost::asio::io_context& io, CaptureSettings settings, archive::Archive& archive,
           const core::Clock& clock);
  ~Capturer();
  Capturer(const Capturer&) = delete;
  Capturer& operator=(const Capturer&) = delete;

  // Starts a capture; `done` is called exactly once on the io_context's thread.
  void capture(CaptureRequest request, CaptureCallback done);
  bool busy() const;
  CaptureProgress progress() const;

  // Starts scanning capture.watch_dir (no-op when unset): every new, finished *.heapsnapshot the
  // app wrote there (--heapsnapshot-near-heap-limit) is archived with reason near_heap_limit and
  // removed; `found` gets each result (a failed one too), on the io_context's thread. Files that
  // failed are not tried again while the daemon runs. Skipped while another capture runs.
  void watch(CaptureRequest templ, CaptureCallback found);

 private:
  struct Run;
  struct Watcher;
  void start_method(CaptureRequest request, CaptureCallback done);
  boost::asio::io_context& io_;
  CaptureSettings settings_;
  archive::Archive& archive_;
  const core::Clock& clock_;
  std::shared_ptr<bool> busy_;
  std::shared_ptr<CaptureProgress> progress_;
  std::shared_ptr<Watcher> watcher_;
};

// Runs one capture on a private io_context (the CLI, tests).
core::Result<archive::Metadata> capture_sync(const CaptureSettings& settings,
                                             archive::Archive& archive, const core::Clock& clock,
                                             CaptureRequest request);

// True for error codes worth another attempt (timeouts, connection problems, 5xx).
bool retryable(core::Errc code);

}  // namespace leakwatch::capture
