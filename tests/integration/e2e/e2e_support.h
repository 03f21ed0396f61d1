#pragma once
// Support for leakwatch's end-to-end tests: real memory cgroups, real child processes (Node.js
// apps, the webhook receiver, the leakwatch binary itself) with their output in log files, a tiny
// blocking HTTP client for loopback, and bounded waits. Everything is cleaned up by destructors, so
// a failing test never leaves a process or a cgroup behind.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "support/read_file.h"

namespace leakwatch::e2e {

namespace fs = std::filesystem;
using leakwatch::testing::read_file;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Polls `done` every `step` until it is true or `timeout` has passed.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = 500ms) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(step);
  }
}

inline bool have_node() {
  return std::system("node --version >/dev/null 2>&1") == 0;
}

// A memory cgroup (v2 when /sys/fs/cgroup is the unified hierarchy, else the v1 memory controller)
// with a limit. The destructor kills whatever is still in it and removes it.
class Cgroup {
 public:
  static bool v2() { return fs::exists("/sys/fs/cgroup/cgroup.controllers"); }
  static bool available() {
    if (::geteuid() != 0) return false;
    return v2() || fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") ||
           fs::exists("/sys/fs/cgroup/memory/cgroup.procs");
  }

  Cgroup(const std::string& name, std::uint64_t limit_bytes) {
    std::string unique = name + "-" + std::to_string(::getpid());
    if (v2()) {
      std::string ctl = read_file("/sys/fs/cgroup/cgroup.subtree_control");
      if (ctl.find("memory") == std::string::npos)
        spit("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
      dir_ = fs::path("/sys/fs/cgroup") / unique;
    } else {
      dir_ = fs::path("/sys/fs/cgroup/memory") / unique;
    }
    std::error_code ec;
    fs::create_directory(dir_, ec);
    ok_ = !ec && fs::exists(dir_ / "cgroup.procs");
    if (ok_)
      spit(dir_ / (v2() ? "memory.max" : "memory.limit_in_bytes"), std::to_string(limit_bytes));
  }
  ~Cgroup() {
    if (!ok_) return;
    for (int round = 0; round < 100; ++round) {
      std::istringstream procs(read_file(dir_ / "cgroup.procs"));
      pid_t pid;
      while (procs >> pid)
        ::kill(pid, SIGKILL);
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(50ms);
    }
  }
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  bool ok() const { return ok_; }
  const fs::path& dir() const { return dir_; }
  std::uint64_t read_u64(const std::string& file) const {
    std::string s = read_file(dir_ / file);
    return s.rfind("max", 0) == 0 ? 0 : std::strtoull(s.c_str(), nullptr, 10);
  }
  std::uint64_t usage() const {
    return read_u64(v2() ? "memory.current" : "memory.usage_in_bytes");
  }

 private:
  fs::path dir_;
  bool ok_ = false;
};

// A child process whose stdout and stderr go to `log` (appended). With `cgroup`, the child moves
// itself into that cgroup before exec, so everything it allocates is accounted there.
class Process {
 public:
  Process(std::vector<std::string> argv, const fs::path& log, const Cgroup* cgroup = nullptr,
          std::vector<std::string> extra_env = {})
      : log_(log), argv0_(argv.at(0)) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      env.emplace_back(*e);
    for (auto& e : extra_env)
      env.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string procs = cgroup ? (cgroup->dir() / "cgroup.procs").string() : std::string();
    std::string logpath = log.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!procs.empty()) {
        int fd = ::open(procs.c_str(), O_WRONLY);
        // "0" moves the writing process itself (v1 and v2).
        if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(125);
        ::close(fd);
      }
      int out = ::open(logpath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (out < 0 || in < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execvpe(args[0], args.data(), envp.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const fs::path& log() const { return log_; }
  bool running() {
    if (pid_ <= 0 || status_) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
      return false;
    }
    return true;
  }
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  // The exit code (128 + signal when killed by one), or nullopt if still running at `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    eventually([&] { return !running(); }, timeout, 20ms);
    if (!status_) return std::nullopt;
    if (WIFEXITED(*status_)) return WEXITSTATUS(*status_);
    if (WIFSIGNALED(*status_)) return 128 + WTERMSIG(*status_);
    return -1;
  }
  std::string output() const { return read_file(log_); }
  // Waits for a line of the log containing `needle`; returns the line.
  std::optional<std::string> wait_for(const std::string& needle,
                                      std::chrono::milliseconds timeout) {
    std::optional<std::string> found;
    eventually(
        [&] {
          std::istringstream in(output());
          for (std::string line; std::getline(in, line);)
            if (line.find(needle) != std::string::npos) {
              found = line;
              return true;
            }
          return false;
        },
        timeout, 100ms);
    return found;
  }
  // For peers that print "LISTENING <port>".
  int listening_port(std::chrono::milliseconds timeout = 15s) {
    auto line = wait_for("LISTENING ", timeout);
    if (!line) return 0;
    return std::atoi(line->substr(line->find("LISTENING ") + 10).c_str());
  }

 private:
  fs::path log_;
  std::string argv0_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct HttpResult {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 request to 127.0.0.1:port with "Connection: close"; nullopt on a transport error.
inline std::optional<HttpResult> http_request(int port, const std::string& method,
                                              const std::string& target,
                                              std::chrono::milliseconds timeout = 5s) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req =
      method + " " + target +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    if (raw.size() > (64u << 20)) break;
  }
  ::close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return std::nullopt;
  HttpResult r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  std::string head = raw.substr(0, head_end);
  std::string body = raw.substr(head_end + 4);
  std::string lower = head;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    std::size_t pos = 0;
    while (pos < body.size()) {
      auto eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::size_t len = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (len == 0) break;
      out += body.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    body = std::move(out);
  }
  r.body = std::move(body);
  return r;
}

inline std::optional<json> get_json(int port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  if (!r || r->status != 200) return std::nullopt;
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The alerts the receiver recorded (one JSON object per line).
inline std::vector<json> read_alerts(const fs::path& record) {
  std::vector<json> out;
  std::istringstream in(read_file(record));
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

inline std::vector<json> alerts_of(const std::vector<json>& all, const std::string& target,
                                   const std::string& type = "") {
  std::vector<json> out;
  for (const auto& a : all)
    if (a.value(json::json_pointer("/target/name"), std::string()) == target &&
        (type.empty() || a.value("type", "") == type))
      out.push_back(a);
  return out;
}

// Files in `dir` (recursively) whose name satisfies `pred`.
inline std::vector<fs::path> files_in(const fs::path& dir,
                                      const std::function<bool(const std::string&)>& pred) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && pred(it->path().filename().string())) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline bool is_snapshot_file(const std::string& name) {
  return name[0] != '.' && (name.ends_with(".heapsnapshot") || name.ends_with(".heapsnapshot.zst"));
}
// A capture in progress is a dot file; the capture lock (archive/capture_lock.h) is a dot file
// too but holds no snapshot.
inline bool is_partial_file(const std::string& name) {
  return name[0] == '.' && name != ".capture.lock";
}

// A scratch directory, removed at the end unless the test failed (then its path is printed).
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "leakwatch-e2e-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    if (keep_) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void keep() { keep_ = true; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_ = false;
};

}  // namespace leakwatch::e2e
