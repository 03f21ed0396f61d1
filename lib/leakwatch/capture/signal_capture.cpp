// The signal method and the taking of files the app writes itself (--heapsnapshot-signal,
// --heapsnapshot-near-heap-limit). A file is taken only once its writer is done: its size has not
// changed for capture.signal.settle and, where /proc/PID/fd is visible, the app no longer holds it
// open; then its bytes go through the same CaptureSink as every method (which checks that the
// snapshot is complete), and only after the archive has it is the original removed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>
#include <vector>

#include "leakwatch/capture/method_run.h"
#include "leakwatch/capture/process.h"
#include "leakwatch/capture/sink.h"
#include "leakwatch/core/log.h"

namespace leakwatch::capture {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::make_error;
using core::Result;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 1 << 20;
constexpr auto kPoll = std::chrono::milliseconds(100);

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

std::vector<std::string> snapshot_files(const fs::path& dir, std::error_code& ec) {
  std::vector<std::string> out;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !name.ends_with(".heapsnapshot")) continue;
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    out.push_back(std::move(name));
    if (out.size() > 10000) break;
  }
  return out;
}

asio::awaitable<Result<archive::Metadata>> archive_file(std::shared_ptr<MethodRun> run,
                                                        fs::path file, std::string source) {
  auto log = core::logger("capture");
  const std::string name = file.filename().string();
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) co_return make_error(core::Errc::io, "cannot open " + peer_excerpt(name));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    co_return make_error(core::Errc::io, peer_excerpt(name) + " is not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > run->settings.max_bytes) {
    ::close(fd);
    co_return make_error(core::Errc::too_large, peer_excerpt(name) + " (" + std::to_string(size) +
                                                    " bytes) exceeds capture.max_bytes");
  }
  CaptureSink sink(run->archive, run->settings, "the file " + peer_excerpt(name));
  auto opened = sink.open(run->request.target, run->started_wall, run->request.reason);
  if (!opened.ok()) {
    ::close(fd);
    co_return opened.error();
  }
  run->progress->phase = "copying";
  std::string buf(kReadChunk, '\0');
  std::uint64_t copied = 0;
  core::Status status = core::ok_status();
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = make_error(core::Errc::io, "reading " + peer_excerpt(name) + " failed");
      break;
    }
    if (n == 0) break;
    copied += static_cast<std::uint64_t>(n);
    status = sink.write(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!status.ok()) break;
    run->progress->bytes = copied;
    // Let the daemon's other work (polling, the API) run between chunks.
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
  ::close(fd);
  if (status.ok() && copied != size)
    status =
        make_error(core::Errc::truncated,
                   peer_excerpt(name) + " changed while it was archived (" + std::to_string(size) +
                       " then " + std::to_string(copied) + " bytes): its writer was not done");
  if (!status.ok()) co_return status.error();
  auto meta = sink.commit(capture_metadata(run->request, run->started_wall, run->clock.now(),
                                           run->elapsed_seconds(), std::move(source),
                                           archive::sanitize_filename(name), 1));
  if (!meta.ok()) co_return meta.error();
  std::error_code ec;
  if (!fs::remove(file, ec) || ec)
    log->warn("event=snapshot_original_kept file=\"{}\" error=\"{}\"", peer_excerpt(name),
              ec ? ec.message() : "not removed");
  co_return meta;
}

asio::awaitable<Result<archive::Metadata>> signal_capture(std::shared_ptr<MethodRun> run) {
  auto log = core::logger("capture");
  const auto& ss = run->settings.signal;
  auto signo = signal_number(ss.name);
  if (!signo.ok()) co_return signo.error();
  auto pid = resolve_pid(run->settings);
  if (!pid.ok()) co_return pid.error();
  fs::path dir =
      ss.dir.empty() ? fs::path("/proc") / std::to_string(*pid) / "cwd" : fs::path(ss.dir);
  std::error_code ec;
  auto before_list = snapshot_files(dir, ec);
  if (ec)
    co_return make_error(core::Errc::io,
                         "cannot read the app's snapshot directory " + dir.string() + ": " +
                             ec.message() +
                             (ss.dir.empty() ? " (leakwatch needs the app's pid namespace "
                                               "and root, or capture.signal.dir on a shared "
                                               "volume)"
                                             : ""));
  std::set<std::string> before(before_list.begin(), before_list.end());

  run->progress->phase = "signalling";
  log->info("event=capture_signal pid={} signal={} dir={}", *pid, ss.name, dir.string());
  if (auto st = send_signal(*pid, *signo, ss.name); !st.ok()) co_return st.error();

  const auto t0 = Clock::now();
  const auto total_end = t0 + run->settings.total_timeout;
  const auto idle = run->settings.idle_timeout;
  run->progress->phase = "waiting_for_file";
  std::string name;
  while (name.empty()) {
    if (Clock::now() - t0 > idle || Clock::now() > total_end)
      co_return make_error(
          core::Errc::timeout,
          "no new heap snapshot appeared in " + dir.string() + " within " + seconds(idle) + " of " +
              ss.name + " (was the app started with --heapsnapshot-signal=" + ss.name + "?)");
    co_await pause(kPoll);
    auto now_list = snapshot_files(dir, ec);
    for (auto& n : now_list)
      if (!before.count(n) && (name.empty() || n > name)) name = n;
    if (name.empty() && !process_alive(*pid))
      co_return make_error(core::Errc::no_process, "process " + std::to_string(*pid) +
                                                       " exited after " + ss.name +
                                                       " without writing a snapshot");
  }
  const fs::path file = dir / name;
  log->info("event=capture_file_seen file=\"{}\"", peer_excerpt(name));

  // Wait for the writer to finish.
  std::uint64_t last_size = UINT64_MAX;
  auto last_change = Clock::now();
  for (;;) {
    co_await pause(kPoll);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
      co_return make_error(core::Errc::io, "the snapshot " + peer_excerpt(name) + " disappeared");
    auto size = static_cast<std::uint64_t>(st.st_size);
    auto now = Clock::now();
    if (size != last_size) {
      last_size = size;
      last_change = now;
      run->progress->bytes = size;
    }
    bool alive = process_alive(*pid);
    auto held = alive ? holds_open(*pid, file) : std::optional<bool>(false);
    bool settled = now - last_change >= ss.settle;
    if (settled && size > 0 && held != true) break;
    if (size > run->settings.max_bytes)
      co_return make_error(core::Errc::too_large,
                           peer_excerpt(name) + " exceeds capture.max_bytes");
    if (!alive && settled) break;  // the writer is gone: the completeness check decides
    if (now - last_change > idle)
      co_return make_error(core::Errc::truncated,
                           peer_excerpt(name) + " stopped growing at " + std::to_string(size) +
                               " bytes for " + seconds(idle) + " while the app still writes it");
    if (now > total_end)
      co_return make_error(
          core::Errc::timeout,
          "the app took longer than capture.total_timeout to write " + peer_excerpt(name));
  }
  const std::string source = "signal:" + ss.name;
  auto taken = co_await archive_file(run, file, source);
  co_return taken;
}

}  // namespace leakwatch::capture
