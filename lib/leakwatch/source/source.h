#pragma once
// A memory source produces one core::Sample per poll of the watched target.
//
// read() is asynchronous: the completion runs on the io_context thread, never inline inside read(),
// and exactly once. Only one read may be in flight at a time (the scheduler polls sequentially).
// A failed read (vanished cgroup, stopped container, garbage in a file, HTTP error) gives a
// core::Error with a short code and a message naming the file or endpoint; the next read starts
// afresh. Restart detection state (previous container id, pid, OOM-kill counter...) lives inside
// the source, so `Sample::restarted` is set on the first sample of a new incarnation.
//
// Error codes: not_found, permission, io (file reads), parse (garbage values), no_memcg (a cgroup
// directory without memory controller files), not_running (process gone, container stopped or not
// started), no_container (ECS name not in the task), http_<status>, timeout, connect, protocol,
// config (bad settings).
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/core/sample.h"
#include "leakwatch/source/settings.h"

namespace leakwatch::source {

using SampleCallback = std::function<void(core::Result<core::Sample>)>;

class Source {
 public:
  virtual ~Source() = default;
  virtual void read(SampleCallback done) = 0;
  // One line for humans: kind and what is watched, e.g. "cgroup v1 /sys/fs/cgroup/memory/x".
  virtual std::string describe() const = 0;
};

// Builds the source described by `settings`. Errors (code "config" or a discovery error): source
// ecs without ecs_container or without a metadata URI, procfs without pid/pid_file, own-cgroup
// discovery failing. The io_context and clock must outlive the source.
core::Result<std::unique_ptr<Source>> make_source(boost::asio::io_context& io,
                                                  const TargetSettings& settings,
                                                  const core::Clock& clock);

// Runs one read on a private io_context (CLI `leakwatch sample`, tests).
core::Result<core::Sample> read_sync(boost::asio::io_context& io, Source& source);

}  // namespace leakwatch::source
