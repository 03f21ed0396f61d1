#include "leakwatch/archive/capture_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "leakwatch/core/fs.h"

namespace leakwatch::archive {

core::Result<CaptureLock> CaptureLock::try_acquire(const std::filesystem::path& archive_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(archive_dir, ec)) {
    std::filesystem::create_directories(archive_dir, ec);
    if (!ec) std::filesystem::permissions(archive_dir, std::filesystem::perms::owner_all, ec);
  }
  auto path = archive_dir / ".capture.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return core::make_error(core::Errc::io, "cannot open the capture lock " + path.string() + ": " +
                                                core::errno_message(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return core::make_error(core::Errc::busy,
                              "another capture is in flight (the daemon or another `leakwatch "
                              "capture` holds " +
                                  path.string() + "); one heap dump at a time");
    return core::make_error(core::Errc::io,
                            "cannot lock " + path.string() + ": " + core::errno_message(err));
  }
  return CaptureLock(fd);
}

CaptureLock& CaptureLock::operator=(CaptureLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

CaptureLock::~CaptureLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace leakwatch::archive
