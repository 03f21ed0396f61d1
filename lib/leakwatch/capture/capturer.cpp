#include "leakwatch/capture/capturer.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <set>

#include "leakwatch/archive/capture_lock.h"
#include "leakwatch/capture/body_check.h"
#include "leakwatch/capture/method_run.h"
#include "leakwatch/capture/process.h"
#include "leakwatch/capture/sink.h"
#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"
#include "leakwatch/http/client.h"

namespace leakwatch::capture {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::Error;
using core::make_error;
using core::Result;
using core::Status;

const char* method_name(Method m) {
  switch (m) {
    case Method::http:
      return "http";
    case Method::inspector:
      return "inspector";
    case Method::signal:
      return "signal";
  }
  return "http";
}

nlohmann::json CaptureProgress::to_json() const {
  nlohmann::json j = {{"active", active}, {"method", method}, {"phase", phase}, {"bytes", bytes}};
  j["fraction"] = fraction >= 0 ? nlohmann::json(fraction) : nlohmann::json(nullptr);
  return j;
}

bool retryable(core::Errc code) {
  using core::Errc;
  return code == Errc::timeout || code == Errc::connect || code == Errc::resolve ||
         code == Errc::protocol || code == Errc::server_error || code == Errc::truncated ||
         code == Errc::io_network;
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
  std::shared_ptr<CaptureProgress> progress;
  http::Url url;
  std::shared_ptr<spdlog::logger> log = core::logger("capture");

  int attempt = 0;
  // Held from the first request to the end: the CLI and the daemon share it through the archive.
  std::optional<archive::CaptureLock> lock;
  core::TimePoint started_wall{};
  std::chrono::steady_clock::time_point attempt_start{};
  // Per attempt.
  std::unique_ptr<CaptureSink> sink;
  std::string original_filename;
  std::optional<Error> handler_error;

  std::string safe(std::string text) const { return core::redact(std::move(text), settings.key); }

  void start_attempt() {
    ++attempt;
    if (!sink)
      sink = std::make_unique<CaptureSink>(archive, settings,
                                           safe("the response from " + url.redacted()));
    sink->reset();
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
          core::Errc::forbidden,
          "the heap-dump key was rejected (403): check that leakwatch and the app share the "
          "same key (capture.key, sent in the '" +
              settings.header + "' header)"));
    if (head.status < 200 || head.status >= 300) return core::ok_status();  // error text is read
    auto cd = head.header("Content-Disposition");
    if (!cd.empty()) original_filename = archive::content_disposition_filename(cd);
    auto st = sink->open(request.target, started_wall, request.reason);
    if (!st.ok()) return fail_handler(st.error());
    return core::ok_status();
  }

  Status on_data(std::string_view chunk) {
    auto st = sink->write(chunk);
    if (!st.ok()) return fail_handler(st.error());
    progress->phase = "streaming";
    progress->bytes = sink->bytes();
    return core::ok_status();
  }

  void on_done(Result<http::Response> r) {
    if (!r.ok()) return attempt_failed(handler_error ? *handler_error : r.error());
    const auto& resp = *r;
    if (resp.status == 403) return attempt_failed(*handler_error);
    if (resp.status >= 500)
      return attempt_failed(
          make_error(core::Errc::server_error,
                     safe("the app failed to write a heap snapshot (HTTP " +
                          std::to_string(resp.status) + " from " + url.redacted() + ")" +
                          (resp.body.empty() ? "" : ": " + excerpt(resp.body)))));
    if (resp.status < 200 || resp.status >= 300)
      return attempt_failed(
          make_error(core::Errc::http_status,
                     safe("unexpected HTTP " + std::to_string(resp.status) + " from " +
                          url.redacted() + (resp.body.empty() ? "" : ": " + excerpt(resp.body)))));
    if (!sink->is_open())
      return attempt_failed(make_error(core::Errc::io, "no capture file was opened"));
    auto committed = sink->commit(capture_metadata(
        request, started_wall, clock.now(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - attempt_start).count(),
        url.origin(), original_filename, attempt));
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
    if (sink) sink->abort();
    e.message = safe(std::move(e.message));
    bool again = retryable(e.code) && attempt <= settings.retries;
    if (!again) {
      log->warn("event=capture_failed target={} attempt={} code={} error=\"{}\"", request.target,
                attempt, core::to_string(e.code), e.message);
      if (attempt > 1) e.message += " (after " + std::to_string(attempt) + " attempts)";
      return finish(std::move(e));
    }
    auto wait = settings.retry_backoff * (1 << std::min(attempt - 1, 10));
    log->warn("event=capture_retry target={} attempt={} code={} retry_in_ms={} error=\"{}\"",
              request.target, attempt, core::to_string(e.code), wait.count(), e.message);
    timer.expires_after(wait);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->finish(make_error(core::Errc::aborted, "capture cancelled"));
      self->start_attempt();
    });
  }

  void finish(Result<archive::Metadata> r) {
    lock.reset();
    *busy = false;
    *progress = CaptureProgress{};
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
      busy_(std::make_shared<bool>(false)),
      progress_(std::make_shared<CaptureProgress>()) {}

bool Capturer::busy() const {
  return *busy_;
}

CaptureProgress Capturer::progress() const {
  return *progress_;
}

namespace {

using MaybeResult = std::optional<Result<archive::Metadata>>;

asio::awaitable<void> keep_result(asio::awaitable<Result<archive::Metadata>> work,
                                  std::shared_ptr<MaybeResult> out) {
  out->emplace(co_await std::move(work));
}

// Runs one zero-code capture coroutine and reports its result exactly once; no exception escapes.
void spawn_method(std::shared_ptr<MethodRun> run, std::shared_ptr<bool> busy,
                  asio::awaitable<Result<archive::Metadata>> work, CaptureCallback done) {
  auto out = std::make_shared<MaybeResult>();
  asio::co_spawn(
      run->io, keep_result(std::move(work), out),
      [run, busy, out, done = std::move(done)](std::exception_ptr ex) mutable {
        Result<archive::Metadata> r = make_error(core::Errc::io, "capture did not complete");
        if (out->has_value()) r = std::move(**out);
        if (ex) {
          std::string what = "unexpected failure";
          try {
            std::rethrow_exception(ex);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          r = make_error(core::Errc::io, "capture failed: " + peer_excerpt(what));
        }
        run->lock.reset();
        auto log = core::logger("capture");
        if (r.ok())
          log->info(
              "event=capture_done id={} method={} bytes={} stored_bytes={} duration_s={:.2f} "
              "sha256={}",
              r->id, run->progress->method, r->size_bytes, r->stored_bytes, r->duration_seconds,
              r->sha256);
        else
          log->warn("event=capture_failed target={} method={} code={} error=\"{}\"",
                    run->request.target, run->progress->method, r.error().code_text(),
                    r.error().message);
        *busy = false;
        *run->progress = CaptureProgress{};
        if (done) done(std::move(r));
      });
}

}  // namespace

void Capturer::start_method(CaptureRequest request, CaptureCallback done) {
  auto run = std::make_shared<MethodRun>(io_, settings_, archive_, clock_, progress_);
  run->request = std::move(request);
  run->request.target = archive::Archive::sanitize_target(run->request.target);
  run->started_wall = clock_.now();
  auto lock = archive::CaptureLock::try_acquire(archive_.root());
  if (!lock.ok()) {
    asio::post(io_, [done = std::move(done), e = lock.error()]() mutable {
      if (done) done(e);
    });
    return;
  }
  run->lock.emplace(std::move(*lock));
  *busy_ = true;
  *progress_ = CaptureProgress{};
  progress_->active = true;
  progress_->method = method_name(settings_.method);
  progress_->phase = "starting";
  core::logger("capture")->info("event=capture_start target={} reason=\"{}\" method={} forced={}",
                                run->request.target, run->request.reason.describe(),
                                progress_->method, run->request.forced);
  auto work = settings_.method == Method::inspector ? inspector_capture(run) : signal_capture(run);
  spawn_method(run, busy_, std::move(work), std::move(done));
}

// The near-heap-limit pick-up: a periodic scan of watch_dir.
struct Capturer::Watcher : std::enable_shared_from_this<Capturer::Watcher> {
  Watcher(Capturer& c) : owner(c), timer(c.io_) {}
  Capturer& owner;
  asio::steady_timer timer;
  CaptureRequest templ;
  CaptureCallback found;
  struct Seen {
    std::uintmax_t size = 0;
    fs::file_time_type mtime{};
    std::chrono::steady_clock::time_point since{};
  };
  std::map<std::string, Seen> seen;
  std::set<std::string> failed;

  void schedule() {
    timer.expires_after(owner.settings_.watch_interval);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->tick();
    });
  }

  void tick() {
    const auto& s = owner.settings_;
    const fs::path dir = s.watch_dir;
    std::error_code ec;
    auto names = snapshot_files(dir, ec);
    if (ec) {
      core::logger("capture")->warn("event=watch_dir_unreadable dir={} error=\"{}\"", s.watch_dir,
                                    ec.message());
      return schedule();
    }
    auto now = std::chrono::steady_clock::now();
    std::map<std::string, Seen> next;
    std::string ready;
    for (const auto& n : names) {
      if (failed.count(n)) continue;
      std::error_code fec;
      auto path = dir / n;
      Seen cur{fs::file_size(path, fec), fs::last_write_time(path, fec), now};
      if (fec) continue;
      auto it = seen.find(n);
      if (it != seen.end() && it->second.size == cur.size && it->second.mtime == cur.mtime)
        cur.since = it->second.since;
      next[n] = cur;
      if (ready.empty() && cur.size > 0 && now - cur.since >= s.signal.settle && it != seen.end()) {
        // Where the app's fd table is visible, a file it still holds open is not finished.
        auto pid = resolve_pid(s);
        if (pid.ok() && holds_open(*pid, path) == true) continue;
        ready = n;
      }
    }
    seen = std::move(next);
    if (ready.empty() || *owner.busy_) return schedule();
    // Another process on this archive (`leakwatch capture`, a second daemon) may be taking a
    // snapshot by signal into this very directory: wait for it rather than race it for the file.
    auto lock = archive::CaptureLock::try_acquire(owner.archive_.root());
    if (!lock.ok()) return schedule();
    take(ready, std::move(*lock));
  }

  void take(const std::string& name, archive::CaptureLock lock) {
    auto run = std::make_shared<MethodRun>(owner.io_, owner.settings_, owner.archive_, owner.clock_,
                                           owner.progress_);
    run->lock.emplace(std::move(lock));
    run->request = templ;
    run->request.reason = archive::Reason{};
    run->request.reason.kind = "near_heap_limit";
    run->request.target = archive::Archive::sanitize_target(run->request.target);
    run->started_wall = owner.clock_.now();
    *owner.busy_ = true;
    *owner.progress_ = CaptureProgress{};
    owner.progress_->active = true;
    owner.progress_->method = "watch_dir";
    owner.progress_->phase = "copying";
    core::logger("capture")->info("event=near_heap_limit_snapshot file=\"{}\" dir={}",
                                  peer_excerpt(name), owner.settings_.watch_dir);
    auto work = archive_file(run, fs::path(owner.settings_.watch_dir) / name,
                             "watch_dir:" + owner.settings_.watch_dir);
    spawn_method(run, owner.busy_, std::move(work),
                 [weak = weak_from_this(), name](Result<archive::Metadata> r) {
                   auto self = weak.lock();
                   if (!self) return;
                   if (!r.ok()) self->failed.insert(name);
                   self->seen.erase(name);
                   if (self->found) self->found(std::move(r));
                   self->schedule();
                 });
  }
};

void Capturer::watch(CaptureRequest templ, CaptureCallback found) {
  if (settings_.watch_dir.empty()) return;
  watcher_ = std::make_shared<Watcher>(*this);
  watcher_->templ = std::move(templ);
  watcher_->found = std::move(found);
  watcher_->schedule();
}

Capturer::~Capturer() {
  if (watcher_) watcher_->timer.cancel();
}

void Capturer::capture(CaptureRequest request, CaptureCallback done) {
  auto fail_soon = [&](Error e) {
    asio::post(io_, [done = std::move(done), e = std::move(e)]() mutable { done(std::move(e)); });
  };
  if (*busy_)
    return fail_soon(
        make_error(core::Errc::busy, "another capture is in progress (never two at once)"));
  if (settings_.method != Method::http) return start_method(std::move(request), std::move(done));
  if (settings_.url.empty())
    return fail_soon(make_error(core::Errc::disabled, "capture.url is not configured"));
  for (char c : settings_.key.reveal())
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fail_soon(
          make_error(core::Errc::invalid_key, "the heap-dump key (" + settings_.key.origin() +
                                                  ") contains a line break or control character"));
  auto url = http::Url::parse(settings_.url);
  if (!url.ok())
    return fail_soon(make_error(core::Errc::invalid_url, "capture.url: " + url.error().message));
  auto run = std::make_shared<Run>(io_, settings_, archive_, clock_);
  run->request = std::move(request);
  run->request.target = archive::Archive::sanitize_target(run->request.target);
  run->done = std::move(done);
  run->busy = busy_;
  run->progress = progress_;
  *progress_ = CaptureProgress{};
  progress_->active = true;
  progress_->method = "http";
  progress_->phase = "connecting";
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
  if (!out) return make_error(core::Errc::io, "capture did not complete");
  return std::move(*out);
}

}  // namespace leakwatch::capture
