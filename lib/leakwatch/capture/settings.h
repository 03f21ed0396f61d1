#pragma once
// Settings of the heap-dump capture (YAML section `capture:`). YAML keys are the field names;
// durations are written "30s", "15m"; sizes "4Gi"; fractions "1.0". The defaults below are the
// recommended ones. `url`, `header` and `key` are fixed names (see DESIGN.md).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "leakwatch/core/secret.h"

namespace leakwatch::capture {

// How a snapshot is obtained (capture.method). Every method goes through the same guard rails,
// archive, metadata and alerts.
enum class Method {
  http,       // GET the app's heap-dump endpoint (needs a route in the app)
  inspector,  // the Chrome DevTools Protocol on the Node inspector (no app change)
  signal,     // --heapsnapshot-signal: the app writes Heap.*.heapsnapshot itself (no app change)
};

// capture.inspector: an open inspector is code execution for whoever reaches it, so only
// loopback URLs are accepted (the config check and the capture both refuse others).
struct InspectorSettings {
  // Where the inspector listens (its /json/list). Loopback only. Default http://127.0.0.1:9229.
  std::string url = "http://127.0.0.1:9229";
  // "none": the inspector must already be open (--inspect). "sigusr1": when it is not listening,
  // send SIGUSR1 to the app's pid (Node opens the inspector), and close it again afterwards.
  enum class Activate { none, sigusr1 } activate = Activate::none;
  // How long to wait for the inspector to listen after SIGUSR1. Default 10s.
  std::chrono::milliseconds activate_timeout{std::chrono::seconds(10)};
  // Largest single CDP message accepted (Node sends snapshot chunks of about 100 KiB). Default 8Mi.
  std::uint64_t max_message_bytes = 8ull << 20;
};

// capture.signal: the app was started with --heapsnapshot-signal=<name>.
struct SignalSettings {
  // Signal sent to the app's pid. Default SIGUSR2.
  std::string name = "SIGUSR2";
  // Where the app writes Heap.*.heapsnapshot: empty = its working directory, read through
  // /proc/PID/cwd; or a shared volume mounted here (the app's --diagnostic-dir).
  std::string dir;
  // The file counts as finished when its size has not changed for this long (and, where
  // /proc/PID/fd is visible, the app no longer holds it open). Default 1s.
  std::chrono::milliseconds settle{std::chrono::seconds(1)};
};

struct CaptureSettings {
  // How snapshots are taken. Default http.
  Method method = Method::http;
  // --- the endpoint (fixed keys) ---------------------------------------------------------------
  // GET URL of the app's heap-dump endpoint, http:// or https://. Empty: capture disabled.
  std::string url;
  // Name of the request header carrying the key. Default "x-key".
  std::string header = "x-key";
  // The shared key ({ env: NAME } or { file: PATH }). Never logged, never in errors or metadata.
  core::Secret key;

  // --- transfer limits ---------------------------------------------------------------------------
  // Resolve + TCP connect + TLS handshake. Default 5s.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Longest silence while waiting for the response head or the next body bytes. V8 blocks the app
  // while it builds the snapshot before the first byte is sent, so this is generous. Default 2m.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(2)};
  // Whole capture, from connect to the last byte. Default 30m.
  std::chrono::milliseconds total_timeout{std::chrono::minutes(30)};
  // Largest snapshot accepted (uncompressed bytes as sent by the app). Default 8Gi.
  std::uint64_t max_bytes = 8ull << 30;

  // --- storage -----------------------------------------------------------------------------------
  // Compress snapshots with zstd while streaming (heap snapshots shrink 5-10x). Default true.
  bool compress = true;
  // zstd level, 1..19. Level 3 keeps up with a local network on one core. Default 3.
  int compression_level = 3;

  // --- guard rails -------------------------------------------------------------------------------
  // Writing a snapshot needs about as much free memory again as the heap. A capture runs only when
  // the free room under the limit (limit - working set) is at least
  //   max(headroom_factor x working set, min_headroom_bytes).
  // The working set over-estimates the JS heap (it also holds code, buffers, native memory), so the
  // default factor 1.0 leaves a margin. Without a known limit the check passes.
  double headroom_factor = 1.0;
  // Absolute minimum free room under the limit. Default 64Mi.
  std::uint64_t min_headroom_bytes = 64ull << 20;
  // A sample older than this is not trusted for the headroom check (the capture is skipped with
  // reason "no_sample"). Default 2m.
  std::chrono::seconds max_sample_age{std::chrono::minutes(2)};
  // Minimum time between the starts of two captures (manual or automatic). Default 10m.
  std::chrono::seconds cooldown{std::chrono::minutes(10)};
  // At most this many capture attempts in any rolling 24 hours. 0 = no cap. Default 6.
  int daily_cap = 6;

  // --- series (leak suspected) -------------------------------------------------------------------
  // Number of captures taken when a leak is suspected, so they can be diffed. Default 3.
  int series_count = 3;
  // Time between the captures of a series (counted from the previous attempt). Default 15m.
  std::chrono::seconds series_spacing{std::chrono::minutes(15)};
  // After a skipped or failed capture in a series, try again this much later. Default 5m.
  std::chrono::seconds series_retry{std::chrono::minutes(5)};
  // The series is abandoned after this many skipped/failed attempts in a row. Default 6.
  int series_max_misses = 6;

  // --- retries of one capture --------------------------------------------------------------------
  // Extra attempts after a timeout, a connection error or a 5xx. Never after a 403 (wrong key), a
  // body that is not a snapshot, the size cap or a local disk error. Default 2.
  int retries = 2;
  // Wait before the first retry; doubled for each further retry. Default 10s.
  std::chrono::milliseconds retry_backoff{std::chrono::seconds(10)};

  // --- TLS (https:// URLs) -----------------------------------------------------------------------
  // Verify the app's certificate chain and host name. Default true.
  bool tls_verify = true;
  // PEM bundle of a private CA, added to the system CAs. Default empty.
  std::string ca_file;
  // Accept an http:// URL to a host other than loopback, which sends the key in clear. Default
  // false: such a URL is a configuration error.
  bool allow_insecure = false;

  // --- zero-code methods (inspector, signal) and the near-heap-limit pick-up ---------------------
  InspectorSettings inspector;
  SignalSettings signal;
  // The app's process, for signals (signal method, inspector activation): a pid, a pid file, or
  // a pattern matched against /proc/*/cmdline (exactly one process must match). When none is set
  // the target's pid / pid_file are used.
  std::optional<int> pid;
  std::string pid_file;
  std::string process;
  // Directory where the app writes --heapsnapshot-near-heap-limit snapshots (its cwd seen through
  // a shared volume, or its --diagnostic-dir). Empty: no pick-up. Each new, finished
  // *.heapsnapshot is archived with reason near_heap_limit, then removed.
  std::string watch_dir;
  // How often watch_dir is scanned. Default 5s.
  std::chrono::milliseconds watch_interval{std::chrono::seconds(5)};

  // True when some capture method is configured.
  bool enabled() const { return method != Method::http || !url.empty(); }
};

const char* method_name(Method m);

}  // namespace leakwatch::capture
