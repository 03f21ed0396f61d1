// The inspector method: the Chrome DevTools Protocol over a WebSocket on Node's inspector.
//
//   1. With activate: sigusr1 and nothing listening at capture.inspector.url, SIGUSR1 makes Node
//      open its inspector; /json/list is polled until it answers (activate_timeout).
//   2. GET <url>/json/list names the target; only the path of its webSocketDebuggerUrl is used:
//      the connection always goes to the configured loopback host and port, whatever the peer
//      says.
//   3. HeapProfiler.takeHeapSnapshot {reportProgress: true}: the snapshot arrives as
//      HeapProfiler.addHeapSnapshotChunk events, each written to the archive's partial file as it
//      comes (one message in memory at a time), then the reply to our request ends it.
//   4. If leakwatch opened the inspector, Runtime.evaluate asks Node to close it again a second
//      later, once our session has ended (require('inspector').close() in a timer). /json/list is
//      then polled to confirm.
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "leakwatch/capture/method_run.h"
#include "leakwatch/capture/process.h"
#include "leakwatch/capture/sink.h"
#include "leakwatch/capture/websocket_client.h"
#include "leakwatch/core/log.h"
#include "leakwatch/http/client.h"

namespace leakwatch::capture {

namespace asio = boost::asio;
using core::Error;
using core::make_error;
using core::Result;
using Clock = std::chrono::steady_clock;

std::string peer_excerpt(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
  }
  return out;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

namespace {

constexpr int kSnapshotId = 1;
constexpr int kCloseId = 2;
// The close runs a second after the reply, when our session has ended: Node 18 segfaulted in
// about one capture in four when close() ran on the next turn of the event loop while the session
// that asked for it was still attached (the demo app under load, Debian's and upstream 18.20.4).
constexpr const char* kCloseExpression =
    "(() => { try { const inspector = require('inspector'); setTimeout(() => { try { "
    "inspector.close(); } catch (_) {} }, 1000).unref(); return 'closing'; } catch (e) { return "
    "'cannot close: ' + e; } })()";

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// http::Client's callback API awaited through a timer that the callback cancels (the client calls
// back on the same io_context thread; `out` lives in this coroutine's frame while it waits).
asio::awaitable<Result<http::Response>> fetch(asio::io_context& io, http::Client& client,
                                              const http::Request& req) {
  asio::steady_timer signal(io, asio::steady_timer::time_point::max());
  std::optional<Result<http::Response>> out;
  client.request(req, [&out, &signal](Result<http::Response> r) {
    out.emplace(std::move(r));
    signal.cancel();
  });
  boost::system::error_code ec;
  while (!out)
    co_await signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return std::move(*out);
}

struct Inspector {
  explicit Inspector(std::shared_ptr<MethodRun> r)
      : run(std::move(r)),
        is(run->settings.inspector),
        http(run->io),
        total_end(Clock::now() + run->settings.total_timeout) {}

  std::shared_ptr<MethodRun> run;
  const InspectorSettings& is;
  http::Url base;
  std::string ip;  // what we connect to: the URL's IP literal, 127.0.0.1 for "localhost"
  std::string label;
  http::Client http;
  std::shared_ptr<spdlog::logger> log = core::logger("capture");
  Clock::time_point total_end;

  Clock::time_point deadline(std::chrono::milliseconds d) const {
    return std::min(Clock::now() + d, total_end);
  }

  // The WebSocket path of the first target in /json/list. Errors: connect/timeout (nothing
  // listening), not_inspector (something else answers), protocol.
  asio::awaitable<Result<std::string>> list(std::chrono::milliseconds connect_timeout) {
    http::Request req;
    req.url = base;
    req.url.target = "/json/list";
    req.connect_timeout = connect_timeout;
    req.idle_timeout =
        std::min<std::chrono::milliseconds>(run->settings.idle_timeout, std::chrono::seconds(10));
    req.total_timeout = req.idle_timeout + connect_timeout;
    req.max_body_bytes = 1 << 20;
    auto r = co_await fetch(run->io, http, req);
    if (!r.ok()) {
      auto e = r.error();
      if (e.code == core::Errc::protocol || e.code == core::Errc::too_large)
        co_return make_error(
            core::Errc::not_inspector,
            "what listens at " + label + " is not a Node inspector (" + e.message + ")");
      co_return e;
    }
    if (r->status != 200)
      co_return make_error(core::Errc::not_inspector,
                           "what listens at " + label + " is not a Node inspector (HTTP " +
                               std::to_string(r->status) + " from /json/list)");
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_array())
      co_return make_error(core::Errc::not_inspector,
                           "what listens at " + label +
                               " is not a Node inspector (/json/list is not a "
                               "JSON list)");
    for (const auto& t : j) {
      if (!t.is_object() || !t.contains("webSocketDebuggerUrl") ||
          !t["webSocketDebuggerUrl"].is_string())
        continue;
      auto ws = t["webSocketDebuggerUrl"].get<std::string>();
      auto scheme = ws.find("://");
      if (scheme == std::string::npos) continue;
      auto slash = ws.find('/', scheme + 3);
      if (slash == std::string::npos) continue;
      std::string path = ws.substr(slash);
      bool clean = path.size() <= 200;
      for (char c : path)
        clean = clean && (std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' ||
                          c == '_' || c == '.');
      if (clean) co_return path;
    }
    co_return make_error(core::Errc::not_inspector,
                         "the inspector at " + label + " lists no debuggable target");
  }

  // Opens the inspector with SIGUSR1 when it is not listening. Sets `opened` when it did.
  asio::awaitable<Result<std::string>> find_target(bool& opened) {
    opened = false;
    if (is.activate == InspectorSettings::Activate::none)
      co_return co_await list(run->settings.connect_timeout);
    auto first = co_await list(std::min<std::chrono::milliseconds>(run->settings.connect_timeout,
                                                                   std::chrono::seconds(1)));
    if (first.ok() ||
        (first.error().code != core::Errc::connect && first.error().code != core::Errc::timeout))
      co_return first;
    auto pid = resolve_pid(run->settings);
    if (!pid.ok()) co_return pid.error();
    run->progress->phase = "activating";
    log->info("event=inspector_activate pid={} signal=SIGUSR1 url={}", *pid, label);
    if (auto st = send_signal(*pid, SIGUSR1, "SIGUSR1"); !st.ok()) co_return st.error();
    opened = true;
    auto until = deadline(is.activate_timeout);
    Error last = first.error();
    while (Clock::now() < until) {
      co_await sleep_for(std::chrono::milliseconds(100));
      if (!process_alive(*pid))
        co_return make_error(
            core::Errc::no_process,
            "process " + std::to_string(*pid) + " exited after SIGUSR1 (was it a Node app?)");
      auto r = co_await list(std::chrono::seconds(1));
      if (r.ok()) co_return r;
      last = r.error();
      if (last.code != core::Errc::connect && last.code != core::Errc::timeout) co_return last;
    }
    co_return make_error(core::Errc::timeout,
                         "the inspector did not listen at " + label + " within " +
                             std::to_string(is.activate_timeout.count()) +
                             " ms of SIGUSR1 (is capture.inspector.url the app's --inspect-port?)");
  }

  // Streams the snapshot into `sink`.
  asio::awaitable<core::Status> snapshot(WebSocketClient& ws, CaptureSink& sink) {
    nlohmann::json req = {{"id", kSnapshotId},
                          {"method", "HeapProfiler.takeHeapSnapshot"},
                          {"params", {{"reportProgress", true}}}};
    const std::string text = req.dump();
    const auto send_by = deadline(run->settings.idle_timeout);
    if (auto st = co_await ws.send(text, send_by); !st.ok()) co_return st;
    run->progress->phase = "snapshotting";
    int logged_tenth = -1;
    std::uint64_t other_messages = 0;
    for (;;) {
      auto msg = co_await ws.read(deadline(run->settings.idle_timeout));
      if (!msg.ok()) {
        auto e = msg.error();
        if (e.code == core::Errc::closed || e.code == core::Errc::io)
          e = make_error(core::Errc::truncated,
                         "the inspector connection ended after " + std::to_string(sink.bytes()) +
                             " snapshot bytes (did the app exit?): " + e.message);
        else if (e.code == core::Errc::timeout)
          e.message = Clock::now() >= total_end
                          ? "the snapshot took longer than capture.total_timeout"
                          : "the inspector sent nothing for capture.idle_timeout (after " +
                                std::to_string(sink.bytes()) + " snapshot bytes)";
        co_return e;
      }
      auto j = nlohmann::json::parse(*msg, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        co_return make_error(core::Errc::protocol,
                             "the inspector sent a message that is not a JSON object");
      auto method = j.find("method");
      if (method != j.end() && method->is_string()) {
        const auto& m = method->get_ref<const std::string&>();
        auto params = j.find("params");
        bool has_params = params != j.end() && params->is_object();
        if (m == "HeapProfiler.addHeapSnapshotChunk") {
          if (!has_params || !params->contains("chunk") || !(*params)["chunk"].is_string())
            co_return make_error(core::Errc::protocol, "a snapshot chunk without a chunk string");
          if (!sink.is_open()) {
            if (auto st = sink.open(run->request.target, run->started_wall, run->request.reason);
                !st.ok())
              co_return st;
            run->progress->phase = "streaming";
          }
          if (auto st = sink.write((*params)["chunk"].get_ref<const std::string&>()); !st.ok())
            co_return st;
          run->progress->bytes = sink.bytes();
          continue;
        }
        if (m == "HeapProfiler.reportHeapSnapshotProgress" && has_params) {
          auto done = params->value("done", 0.0), total = params->value("total", 0.0);
          if (total > 0 && done >= 0 && done <= total) {
            run->progress->fraction = done / total;
            int tenth = static_cast<int>(done * 10 / total);
            if (tenth != logged_tenth) {
              logged_tenth = tenth;
              log->info("event=capture_progress method=inspector percent={}", tenth * 10);
            }
          }
          continue;
        }
      }
      auto id = j.find("id");
      if (id != j.end() && id->is_number_integer() && id->get<std::int64_t>() == kSnapshotId) {
        if (auto err = j.find("error"); err != j.end()) {
          std::string text =
              err->is_object() && err->contains("message") && (*err)["message"].is_string()
                  ? (*err)["message"].get<std::string>()
                  : err->dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
          co_return make_error(core::Errc::inspector_error,
                               "the inspector refused the snapshot: " + peer_excerpt(text));
        }
        co_return core::ok_status();
      }
      if (++other_messages > 100000)
        co_return make_error(core::Errc::protocol,
                             "the inspector sent too many unrelated messages");
    }
  }

  // Asks Node to close the inspector leakwatch opened, and checks that it did.
  asio::awaitable<void> close_inspector(WebSocketClient& ws, const std::string& path) {
    run->progress->phase = "closing";
    auto short_deadline = [&] { return Clock::now() + std::chrono::seconds(2); };
    if (!ws.is_open()) {
      auto st = co_await ws.connect(ip, base.port, path, short_deadline());
      if (!st.ok()) {
        log->warn(
            "event=inspector_close_failed url={} error=\"{}\": the app's inspector stays open "
            "(loopback only); restart the app to close it",
            label, st.error().message);
        co_return;
      }
    }
    nlohmann::json req = {
        {"id", kCloseId},
        {"method", "Runtime.evaluate"},
        {"params",
         // `require` exists only while the expression is evaluated (the inspector's command-line
         // API), so the module is looked up now and closed on the next turn of the event loop;
         // nothing here may throw into the app.
         {{"expression", kCloseExpression}, {"includeCommandLineAPI", true}, {"silent", true}}}};
    const std::string text = req.dump();
    const auto send_by = short_deadline();
    bool sent = (co_await ws.send(text, send_by)).ok();
    // Wait for the reply (bounded), so the close is scheduled before our session ends.
    for (int i = 0; sent && i < 1000; ++i) {
      auto msg = co_await ws.read(short_deadline());
      if (!msg.ok()) break;
      auto j = nlohmann::json::parse(*msg, nullptr, false);
      if (j.is_object() && j.value("id", 0) == kCloseId) break;
    }
    co_await ws.close(short_deadline());
    auto until = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < until) {
      co_await sleep_for(std::chrono::milliseconds(100));
      auto r = co_await list(std::chrono::milliseconds(500));
      if (!r.ok() &&
          (r.error().code == core::Errc::connect || r.error().code == core::Errc::timeout)) {
        log->info("event=inspector_closed url={}", label);
        co_return;
      }
    }
    log->warn(
        "event=inspector_close_failed url={}: the inspector leakwatch opened still listens "
        "(loopback only); it closes when the app restarts",
        label);
  }

  asio::awaitable<Result<archive::Metadata>> capture() {
    auto url = http::Url::parse(is.url);
    if (!url.ok())
      co_return make_error(core::Errc::invalid_url,
                           "capture.inspector.url: " + url.error().message);
    base = *url;
    if (base.tls())
      co_return make_error(core::Errc::invalid_url,
                           "capture.inspector.url must be http:// (the inspector "
                           "does not speak TLS)");
    if (!is_loopback_host(base.host))
      co_return make_error(core::Errc::not_loopback,
                           "capture.inspector.url must be a loopback address (an open inspector "
                           "is code execution for anyone who reaches it)");
    ip = base.host == "localhost" ? "127.0.0.1" : base.host;
    label = base.origin();
    run->progress->phase = "connecting";
    bool opened = false;
    auto path = co_await find_target(opened);
    if (!path.ok()) co_return path.error();

    WebSocketClient ws(run->io, is.max_message_bytes);
    CaptureSink sink(run->archive, run->settings,
                     "the snapshot streamed by the inspector at " + label);
    core::Status st =
        co_await ws.connect(ip, base.port, *path, deadline(run->settings.connect_timeout));
    if (st.ok()) st = co_await snapshot(ws, sink);
    Result<archive::Metadata> out = st.ok()
                                        ? Result<archive::Metadata>(make_error(core::Errc::io, ""))
                                        : Result<archive::Metadata>(st.error());
    if (st.ok()) {
      if (!sink.is_open())
        out = make_error(core::Errc::not_a_snapshot,
                         "the inspector at " + label + " sent no snapshot");
      else
        out = sink.commit(capture_metadata(
            run->request, run->started_wall, run->clock.now(), run->elapsed_seconds(),
            "ws://" + base.host + ":" + std::to_string(base.port), "", 1));
    }
    sink.abort();
    if (opened)
      co_await close_inspector(ws, *path);
    else
      co_await ws.close(Clock::now() + std::chrono::seconds(2));
    co_return out;
  }
};

}  // namespace

asio::awaitable<Result<archive::Metadata>> inspector_capture(std::shared_ptr<MethodRun> run) {
  Inspector insp(std::move(run));
  co_return co_await insp.capture();
}

}  // namespace leakwatch::capture
