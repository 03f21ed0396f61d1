#pragma once
// Starts a real Node.js process for a zero-code capture test (tests/peers/zero-code/app.js or
// fake_inspector.js) with the flags under test, in a chosen working directory, and stops it at
// the end. Header-only. Reads stdout ("READY <pid>" / "LISTENING <port>") and stderr (the
// inspector's "Debugger listening on ws://127.0.0.1:<port>/...") with bounded waits.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

namespace leakwatch::testing {

class NodeProcess {
 public:
  // `node_flags` go before the script, `args` after it.
  NodeProcess(std::vector<std::string> node_flags, const std::string& script,
              std::vector<std::string> args, const std::string& cwd = "") {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
    std::vector<std::string> argv_s = {"node"};
    argv_s.insert(argv_s.end(), node_flags.begin(), node_flags.end());
    argv_s.push_back(std::string(LEAKWATCH_TESTS_DIR) + "/peers/zero-code/" + script);
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      std::vector<char*> argv;
      for (auto& a : argv_s)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("node", argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~NodeProcess() { stop(); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  int pid() const { return pid_; }

  // Waits until stdout (or stderr) matches `re`; returns the first capture group ("" on timeout).
  std::string wait_stdout(const std::string& re,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return wait(out_, out_text_, re, timeout);
  }
  std::string wait_stderr(const std::string& re,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return wait(err_, err_text_, re, timeout);
  }
  const std::string& stderr_text() const { return err_text_; }

  void kill_now(int sig = SIGKILL) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // True once the process has exited (reaped).
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
    out_ = err_ = -1;
  }

 private:
  static std::string wait(int fd, std::string& text, const std::string& re,
                          std::chrono::milliseconds timeout) {
    std::regex rx(re);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::smatch m;
      if (std::regex_search(text, m, rx)) return m.size() > 1 ? m[1].str() : m[0].str();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd < 0) return "";
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return "";
      text.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string out_text_, err_text_;
};

// A loopback TCP port that was free a moment ago (for --inspect-port with SIGUSR1 activation).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

}  // namespace leakwatch::testing
