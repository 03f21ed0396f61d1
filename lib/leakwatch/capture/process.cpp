#include "leakwatch/capture/process.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include "leakwatch/core/fs.h"

namespace leakwatch::capture {

namespace fs = std::filesystem;
using core::make_error;

namespace {

std::optional<int> parse_pid(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  if (text.empty() || text.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return std::nullopt;
  return v;
}

}  // namespace

bool process_alive(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

core::Result<int> resolve_pid(const CaptureSettings& s) {
  if (s.pid) {
    if (!process_alive(*s.pid))
      return make_error(core::Errc::no_process,
                        "process " + std::to_string(*s.pid) + " does not exist");
    return *s.pid;
  }
  if (!s.pid_file.empty()) {
    auto text = core::read_file(s.pid_file, 64);
    if (!text.ok()) return make_error(core::Errc::no_process, "cannot read pid_file " + s.pid_file);
    auto pid = parse_pid(*text);
    if (!pid) return make_error(core::Errc::no_process, "pid_file " + s.pid_file + " holds no pid");
    if (!process_alive(*pid))
      return make_error(
          core::Errc::no_process,
          "process " + std::to_string(*pid) + " (from pid_file " + s.pid_file + ") does not exist");
    return *pid;
  }
  if (!s.process.empty()) {
    std::vector<int> found;
    const int self = static_cast<int>(::getpid());
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      auto pid = parse_pid(it->path().filename().string());
      if (!pid || *pid == self) continue;
      auto cmd = core::read_file(it->path() / "cmdline", 16 * 1024);
      if (!cmd.ok() || cmd->empty()) continue;  // kernel threads, gone processes
      std::replace(cmd->begin(), cmd->end(), '\0', ' ');
      if (cmd->find(s.process) != std::string::npos) found.push_back(*pid);
      if (found.size() > 8) break;
    }
    if (found.size() == 1) return found.front();
    if (found.empty())
      return make_error(core::Errc::no_process,
                        "no process matches capture.process (is leakwatch in the "
                        "app's pid namespace? ECS: pidMode task)");
    return make_error(
        core::Errc::no_process,
        std::to_string(found.size()) + " processes match capture.process: make it more specific");
  }
  return make_error(core::Errc::no_process,
                    "no process configured: set capture.pid, capture.pid_file or capture.process");
}

core::Result<int> signal_number(const std::string& name) {
  std::string n;
  for (char c : name)
    n.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  static const std::pair<const char*, int> table[] = {
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"WINCH", SIGWINCH},
      {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"PWR", SIGPWR}};
  for (const auto& [k, v] : table)
    if (n == k) return v;
  return make_error(core::Errc::invalid_signal,
                    "'" + name +
                        "' is not an accepted signal (SIGUSR2, SIGUSR1, SIGHUP, "
                        "SIGWINCH, SIGTTIN, SIGTTOU, SIGURG, SIGPWR)");
}

core::Status send_signal(int pid, int sig, const std::string& name) {
  if (::kill(pid, sig) == 0) return core::ok_status();
  int err = errno;
  if (err == ESRCH)
    return make_error(core::Errc::no_process, "process " + std::to_string(pid) + " does not exist");
  return make_error(core::Errc::permission, "cannot send " + name + " to process " +
                                                std::to_string(pid) + ": " + std::strerror(err));
}

std::optional<bool> holds_open(int pid, const fs::path& file) {
  struct stat want {};
  if (::stat(file.c_str(), &want) != 0) return false;
  std::error_code ec;
  fs::path dir = fs::path("/proc") / std::to_string(pid) / "fd";
  auto it = fs::directory_iterator(dir, ec);
  if (ec) return std::nullopt;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0 && st.st_dev == want.st_dev &&
        st.st_ino == want.st_ino)
      return true;
  }
  return false;
}

}  // namespace leakwatch::capture
