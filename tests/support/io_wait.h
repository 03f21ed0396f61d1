// Bounded waits on an io_context for tests: a test never hangs on an event that does not come.
#pragma once

#include <errno.h>
#include <signal.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace leakwatch::testing {

// Runs `io` until `pred` holds or `limit` passes; returns `pred()`.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred pred,
               std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace leakwatch::testing
