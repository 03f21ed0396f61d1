#pragma once
// The one write path of every capture method (http, inspector, signal, near-heap-limit pick-up):
// snapshot bytes go through CaptureSink::write, which checks that they look like a heap snapshot,
// enforces the size cap and streams them into the archive's partial file (hashed, optionally
// compressed, never held in memory). Anything that must see every snapshot byte belongs here.
// A capture that fails is aborted: the partial file is removed, the archive is left as it was.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "leakwatch/archive/archive.h"
#include "leakwatch/capture/body_check.h"
#include "leakwatch/capture/settings.h"
#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"

namespace leakwatch::capture {

struct CaptureRequest;

class CaptureSink {
 public:
  // `what` names the bytes in error messages ("the response from http://127.0.0.1:3000/…",
  // "the snapshot streamed by the inspector at ..."); it must not carry secrets.
  CaptureSink(archive::Archive& archive, const CaptureSettings& settings, std::string what);
  ~CaptureSink();
  CaptureSink(const CaptureSink&) = delete;
  CaptureSink& operator=(const CaptureSink&) = delete;

  // Opens the archive's partial file (idempotent).
  core::Status open(const std::string& target, core::TimePoint started,
                    const archive::Reason& reason);
  bool is_open() const { return pending_ != nullptr; }
  // The next snapshot bytes. Errors: not_a_snapshot, too_large, disk_full, io, compression.
  core::Status write(std::string_view chunk);
  // Checks that the snapshot is complete, then renames it into the archive with its metadata.
  // Errors: truncated, not_a_snapshot, io (nothing is left behind).
  core::Result<archive::Metadata> commit(archive::Metadata meta);
  // Removes the partial file (idempotent).
  void abort();
  std::uint64_t bytes() const { return bytes_; }
  // Resets for another attempt (aborting any partial file).
  void reset();

 private:
  archive::Archive& archive_;
  const CaptureSettings& settings_;
  std::string source_;
  std::unique_ptr<archive::PendingCapture> pending_;
  SnapshotBodyCheck check_;
  std::uint64_t bytes_ = 0;
};

// Metadata of a finished capture, from the request and the run's figures.
archive::Metadata capture_metadata(const CaptureRequest& request, core::TimePoint started_wall,
                                   core::TimePoint finished_wall, double duration_seconds,
                                   std::string source, std::string original_filename, int attempts);

}  // namespace leakwatch::capture
