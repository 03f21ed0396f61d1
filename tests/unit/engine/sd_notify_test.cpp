#include "leakwatch/engine/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

using leakwatch::engine::SdNotifier;

namespace {
// A real AF_UNIX datagram socket standing in for systemd's notify socket.
struct NotifySocket {
  std::string path;
  int fd = -1;
  NotifySocket() {
    path = "/tmp/lw-notify-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fd = -1;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
  }
  std::string receive() {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};
}  // namespace

TEST(SdNotify, SendsReadyAndWatchdogDatagrams) {
  NotifySocket sock;
  ASSERT_GE(sock.fd, 0);
  SdNotifier n(sock.path, std::chrono::microseconds(30'000'000));
  ASSERT_TRUE(n.enabled());
  ASSERT_TRUE(n.ready().ok());
  EXPECT_EQ(sock.receive(), "READY=1");
  ASSERT_TRUE(n.watchdog().ok());
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
  EXPECT_EQ(n.watchdog_interval(), std::chrono::milliseconds(15000));
}

TEST(SdNotify, DisabledWithoutSocketAndReportsUnreachableSocket) {
  SdNotifier off("", std::nullopt);
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.ready().ok());
  EXPECT_FALSE(off.watchdog_interval());
  SdNotifier broken("/nonexistent/dir/notify.sock", std::nullopt);
  auto st = broken.ready();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot notify systemd"), std::string::npos);
}
