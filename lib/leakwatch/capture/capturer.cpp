#include "leakwatch/capture/capturer.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "leakwatch/archive/capture_lock.h"
#include "leakwatch/capture/body_check.h"
#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"
#include "leakwatch/http/client.h"

namespace leakwatch::capture {

namespace asio = boost::asio;
using core::Error;
using core::make_error;
using core::Result;
using core::Status;

bool retryable(const std::string& code) {
  return code == "timeout" || code == "connect" || code == "resolve" || code == "protocol" ||
         code == "server_error" || code == "truncated" || code == "io_network";
}

namespace {

// Printable, bounded excerpt of a peer's error text.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

struct Capturer::Run : std::enable_shared_from_this<Capturer::Run> {
  Run(asio::io_context& io, const CaptureSettings& s, archive::Archive& a, const core::Clock& c)
      : io(io), settings(s), archive(a), clock(c), client(io), timer(io) {}

  asio::io_context& io;
  CaptureSettings settings;
  archive::Archive& archive;
  const core::Clock& clock;
  http::Client client;
  asio::steady_timer timer;
  CaptureRequest request;
  CaptureCallback done;
  std::shared_ptr<bool> busy;
  http::Url url;
  std::shared_ptr<spdlog::logger> log = core::logger("capture");

  int attempt = 0;
  // Held from the first request to the end: the CLI and the daemon share it through the archive.
  std::optional<archive::CaptureLock> lock;
  core::TimePoint started_wall{};
  std::chrono::steady_clock::time_point attempt_start{};
  // Per attempt.
  std::unique_ptr<archive::PendingCapture> pending;
  SnapshotBodyCheck check;
  std::string original_filename;
  std::optional<Error> handler_error;

  std::string safe(std::string text) const { return core::redact(std::move(text), settings.key); }

  void start_attempt() {
    ++attempt;
    pending.reset();
    check = SnapshotBodyCheck{};
    original_filename.clear();
    handler_error.reset();
    attempt_start = std::chrono::steady_clock::now();
    if (!lock) {
      auto l = archive::CaptureLock::try_acquire(archive.root());
      if (!l.ok()) return finish(l.error());
      lock.emplace(std::move(*l));
    }

    http::Request req;
    req.url = url;
    if (!settings.header.empty()) req.headers.emplace_back(settings.header, settings.key.reveal());
    req.headers.emplace_back("Accept", "application/octet-stream");
    req.connect_timeout = settings.connect_timeout;
    req.idle_timeout = settings.idle_timeout;
    req.total_timeout = settings.total_timeout;
    req.max_body_bytes = settings.max_bytes;
    req.tls.verify = settings.tls_verify;
    req.tls.ca_file = settings.ca_file;

    http::StreamHandler handler;
    auto self = shared_from_this();
    handler.on_head = [self](const http::Response& head) -> Status { return self->on_head(head); };
    handler.on_data = [self](std::string_view chunk) -> Status { return self->on_data(chunk); };
    client.stream(std::move(req), std::move(handler),
                  [self](Result<http::Response> r) { self->on_done(std::move(r)); });
  }

  Status fail_handler(Error e) {
    handler_error = e;
    return e;
  }

  Status on_head(const http::Response& head) {
    if (head.status == 403)
      return fail_handler(make_error(
          "forbidden",
          "the heap-dump key was rejected (403): check that leakwatch and the app share the "
          "same key (capture.key, sent in the '" +
              settings.header + "' header)"));
    if (head.status < 200 || head.status >= 300) return core::ok_status();  // error text is read
    auto cd = head.header("Content-Disposition");
    if (!cd.empty()) original_filename = archive::content_disposition_filename(cd);
    auto compression = settings.compress ? archive::Compression::zstd : archive::Compression::none;
    auto p = archive.begin(request.target, started_wall, request.reason, compression,
                           std::clamp(settings.compression_level, 1, 19));
    if (!p.ok()) return fail_handler(p.error());
    pending = std::move(*p);
    return core::ok_status();
  }

  Status on_data(std::string_view chunk) {
    if (!pending) return fail_handler(make_error("io", "body without a capture file"));
    if (check.feed(chunk) == SnapshotBodyCheck::State::reject)
      return fail_handler(
          make_error("not_a_snapshot", safe("the response from " + url.redacted() +
                                            " is not a heap snapshot: " + check.finish())));
    auto st = pending->write(chunk);
    if (!st.ok()) return fail_handler(st.error());
    return core::ok_status();
  }

  void on_done(Result<http::Response> r) {
    if (!r.ok()) return attempt_failed(handler_error ? *handler_error : r.error());
    const auto& resp = *r;
    if (resp.status == 403) return attempt_failed(*handler_error);
    if (resp.status >= 500)
      return attempt_failed(make_error(
          "server_error", safe("the app failed to write a heap snapshot (HTTP " +
                               std::to_string(resp.status) + " from " + url.redacted() + ")" +
                               (resp.body.empty() ? "" : ": " + excerpt(resp.body)))));
    if (resp.status < 200 || resp.status >= 300)
      return attempt_failed(
          make_error("http_status",
                     safe("unexpected HTTP " + std::to_string(resp.status) + " from " +
                          url.redacted() + (resp.body.empty() ? "" : ": " + excerpt(resp.body)))));
    if (!pending) return attempt_failed(make_error("io", "no capture file was opened"));
    if (auto why = check.finish(); !why.empty()) {
      bool truncated = check.state() == SnapshotBodyCheck::State::ok;
      return attempt_failed(
          make_error(truncated ? "truncated" : "not_a_snapshot",
                     safe("the response from " + url.redacted() + " is not a " +
                          (truncated ? "complete " : "") + "heap snapshot: " + why)));
    }
    archive::Metadata meta;
    meta.started_at = started_wall;
    meta.finished_at = clock.now();
    meta.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - attempt_start).count();
    meta.reason = request.reason;
    meta.sample = request.sample;
    meta.detector_state = request.detector_state;
    meta.original_filename = original_filename;
    meta.source = url.origin();
    meta.attempts = attempt;
    meta.forced = request.forced;
    auto committed = pending->commit(std::move(meta));
    pending.reset();
    if (!committed.ok()) return attempt_failed(committed.error());
    const auto& m = *committed;
    double mbps =
        m.duration_seconds > 0 ? static_cast<double>(m.size_bytes) / 1e6 / m.duration_seconds : 0;
    log->info(
        "event=capture_done id={} bytes={} stored_bytes={} duration_s={:.2f} mb_per_s={:.1f} "
        "attempts={} sha256={}",
        m.id, m.size_bytes, m.stored_bytes, m.duration_seconds, mbps, m.attempts, m.sha256);
    finish(std::move(*committed));
  }

  void attempt_failed(Error e) {
    if (pending) {
      pending->abort();
      pending.reset();
    }
    e.message = safe(std::move(e.message));
    bool again = retryable(e.code) && attempt <= settings.retries;
    if (!again) {
      log->warn("event=capture_failed target={} attempt={} code={} error=\"{}\"", request.target,
                attempt, e.code, e.message);
      if (attempt > 1) e.message += " (after " + std::to_string(attempt) + " attempts)";
      return finish(std::move(e));
    }
    auto wait = settings.retry_backoff * (1 << std::min(attempt - 1, 10));
    log->warn("event=capture_retry target={} attempt={} code={} retry_in_ms={} error=\"{}\"",
              request.target, attempt, e.code, wait.count(), e.message);
    timer.expires_after(wait);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->finish(make_error("aborted", "capture cancelled"));
      self->start_attempt();
    });
  }

  void finish(Result<archive::Metadata> r) {
    lock.reset();
    *busy = false;
    auto cb = std::move(done);
    done = nullptr;
    if (cb) cb(std::move(r));
  }
};

Capturer::Capturer(asio::io_context& io, CaptureSettings settings, archive::Archive& archive,
                   const core::Clock& clock)
    : io_(io),
      settings_(std::move(settings)),
      archive_(archive),
      clock_(clock),
      busy_(std::make_shared<bool>(false)) {}

Capturer::~Capturer() = default;

bool Capturer::busy() const {
  return *busy_;
}

void Capturer::capture(CaptureRequest request, CaptureCallback done) {
  auto fail_soon = [&](Error e) {
    asio::post(io_, [done = std::move(done), e = std::move(e)]() mutable { done(std::move(e)); });
  };
  if (*busy_)
    return fail_soon(make_error("busy", "another capture is in progress (never two at once)"));
  if (settings_.url.empty())
    return fail_soon(make_error("disabled", "capture.url is not configured"));
  for (char c : settings_.key.reveal())
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fail_soon(
          make_error("invalid_key", "the heap-dump key (" + settings_.key.origin() +
                                        ") contains a line break or control character"));
  auto url = http::Url::parse(settings_.url);
  if (!url.ok()) return fail_soon(make_error("invalid_url", "capture.url: " + url.error().message));
  auto run = std::make_shared<Run>(io_, settings_, archive_, clock_);
  run->request = std::move(request);
  run->request.target = archive::Archive::sanitize_target(run->request.target);
  run->done = std::move(done);
  run->busy = busy_;
  run->url = *url;
  run->started_wall = clock_.now();
  *busy_ = true;
  run->log->info("event=capture_start target={} reason=\"{}\" source={} compress={} forced={}",
                 run->request.target, run->request.reason.describe(), url->redacted(),
                 settings_.compress, run->request.forced);
  run->start_attempt();
}

Result<archive::Metadata> capture_sync(const CaptureSettings& settings, archive::Archive& archive,
                                       const core::Clock& clock, CaptureRequest request) {
  asio::io_context io;
  Capturer capturer(io, settings, archive, clock);
  std::optional<Result<archive::Metadata>> out;
  capturer.capture(std::move(request),
                   [&](Result<archive::Metadata> r) { out.emplace(std::move(r)); });
  io.run();
  if (!out) return make_error("io", "capture did not complete");
  return std::move(*out);
}

}  // namespace leakwatch::capture
