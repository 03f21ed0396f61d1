#pragma once
// systemd's notification protocol without libsystemd: a datagram to the AF_UNIX socket named by
// $NOTIFY_SOCKET ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."). A no-op when the variable
// is unset (not started by systemd with Type=notify).
#include <chrono>
#include <optional>
#include <string>

#include "leakwatch/core/result.h"

namespace leakwatch::engine {

class SdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC from the environment (or the given values, for tests).
  SdNotifier();
  SdNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog);

  bool enabled() const { return !socket_.empty(); }
  // Half the watchdog timeout (how often to send WATCHDOG=1), when systemd asked for one.
  std::optional<std::chrono::milliseconds> watchdog_interval() const;

  core::Status notify(const std::string& state) const;
  core::Status ready() const { return notify("READY=1"); }
  core::Status watchdog() const { return notify("WATCHDOG=1"); }
  core::Status stopping() const { return notify("STOPPING=1"); }
  core::Status reloading() const { return notify("RELOADING=1"); }
  core::Status status(const std::string& text) const { return notify("STATUS=" + text); }

 private:
  std::string socket_;  // a path, or "@name" for the abstract namespace
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace leakwatch::engine
