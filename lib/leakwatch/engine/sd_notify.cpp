#include "leakwatch/engine/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace leakwatch::engine {

SdNotifier::SdNotifier() {
  if (const char* s = std::getenv("NOTIFY_SOCKET")) socket_ = s;
  if (const char* w = std::getenv("WATCHDOG_USEC")) {
    char* end = nullptr;
    long long us = std::strtoll(w, &end, 10);
    if (end && *end == '\0' && us > 0) watchdog_ = std::chrono::microseconds(us);
  }
}

SdNotifier::SdNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog)
    : socket_(std::move(socket_path)), watchdog_(watchdog) {}

std::optional<std::chrono::milliseconds> SdNotifier::watchdog_interval() const {
  if (!watchdog_) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_ / 2);
}

core::Status SdNotifier::notify(const std::string& state) const {
  if (socket_.empty()) return core::ok_status();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path))
    return core::make_error(core::Errc::sd_notify, "NOTIFY_SOCKET path is too long");
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return core::make_error(core::Errc::sd_notify, std::string("socket: ") + std::strerror(errno));
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (n < 0)
    return core::make_error(core::Errc::sd_notify,
                            "cannot notify systemd: " + std::string(std::strerror(err)));
  return core::ok_status();
}

}  // namespace leakwatch::engine
