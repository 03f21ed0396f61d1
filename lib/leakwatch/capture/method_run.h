#pragma once
// Internal to the capture module: what one run of a zero-code capture method needs. The
// Capturer fills it, keeps it alive for the run and reports its result exactly once.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/archive/archive.h"
#include "leakwatch/archive/capture_lock.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/capture/inspector.h"
#include "leakwatch/capture/settings.h"
#include "leakwatch/core/clock.h"

namespace leakwatch::capture {

struct MethodRun {
  MethodRun(boost::asio::io_context& io, const CaptureSettings& s, archive::Archive& a,
            const core::Clock& c, std::shared_ptr<CaptureProgress> p)
      : io(io), settings(s), archive(a), clock(c), progress(std::move(p)) {}

  boost::asio::io_context& io;
  CaptureSettings settings;
  archive::Archive& archive;
  const core::Clock& clock;
  std::shared_ptr<CaptureProgress> progress;
  CaptureRequest request;
  core::TimePoint started_wall{};
  // Held while the app is asked for a snapshot, so that the daemon and the CLI never take two
  // at once (archive/capture_lock.h).
  std::optional<archive::CaptureLock> lock;
  std::chrono::steady_clock::time_point started_steady = std::chrono::steady_clock::now();

  double elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_steady).count();
  }
};

// The inspector method (inspector.cpp).
boost::asio::awaitable<core::Result<archive::Metadata>> inspector_capture(
    std::shared_ptr<MethodRun> run);

// The signal method (signal_capture.cpp): signal the app, wait for its file, archive it.
boost::asio::awaitable<core::Result<archive::Metadata>> signal_capture(
    std::shared_ptr<MethodRun> run);

// Archives a finished snapshot file written by the app, then removes the original (both the
// signal method and the near-heap-limit pick-up). `source` goes to the metadata.
boost::asio::awaitable<core::Result<archive::Metadata>> archive_file(std::shared_ptr<MethodRun> run,
                                                                     std::filesystem::path file,
                                                                     std::string source);

// Names of the *.heapsnapshot files in `dir` (no hidden ones), bounded.
std::vector<std::string> snapshot_files(const std::filesystem::path& dir, std::error_code& ec);

// A printable, bounded excerpt of text from a peer (for error messages and logs).
std::string peer_excerpt(std::string_view text, std::size_t max = 200);

}  // namespace leakwatch::capture
