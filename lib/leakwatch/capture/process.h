#pragma once
// The app's process for the zero-code capture methods: finding its pid (a pid, a pid file, or a
// pattern matched against /proc/*/cmdline), sending it a signal, and asking which files it holds
// open. Needs the app's pid namespace (ECS pidMode: task, docker --pid container:APP, or a host).
#include <filesystem>
#include <string>

#include "leakwatch/capture/settings.h"
#include "leakwatch/core/result.h"

namespace leakwatch::capture {

// The app's pid. Errors: no_process (none configured / not found / ambiguous).
core::Result<int> resolve_pid(const CaptureSettings& settings);

// "SIGUSR2", "USR2", "sigusr2" -> SIGUSR2. Only signals that Node can be told to act on and that
// do not end a process by default for an app that handles them are accepted: USR1, USR2, HUP,
// WINCH, TTIN, TTOU, URG, PWR. Errors: invalid_signal.
core::Result<int> signal_number(const std::string& name);

// kill(pid, sig) with a clear error (no_process, permission).
core::Status send_signal(int pid, int sig, const std::string& name);

bool process_alive(int pid);

// Whether `pid` holds `file` open (compared by device and inode through /proc/PID/fd). nullopt when
// the fd table cannot be read (another pid namespace, no permission).
std::optional<bool> holds_open(int pid, const std::filesystem::path& file);

}  // namespace leakwatch::capture
