#pragma once
// One heap dump at a time across processes: the daemon and `leakwatch capture` both take an
// exclusive flock on <archive dir>/.capture.lock before they ask the app for a snapshot. Writing a
// snapshot costs the app about its heap size again, so two at once can OOM-kill it. The kernel
// drops the lock when its holder exits, so a crash never leaves it stale.
#include <filesystem>

#include "leakwatch/core/result.h"

namespace leakwatch::archive {

class CaptureLock {
 public:
  // Takes the lock without waiting. Errors: "busy" (another capture holds it), "io".
  static core::Result<CaptureLock> try_acquire(const std::filesystem::path& archive_dir);

  CaptureLock(CaptureLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  CaptureLock& operator=(CaptureLock&& o) noexcept;
  CaptureLock(const CaptureLock&) = delete;
  CaptureLock& operator=(const CaptureLock&) = delete;
  ~CaptureLock();

 private:
  explicit CaptureLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace leakwatch::archive
