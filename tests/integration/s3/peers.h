#pragma once
// Test peers for the S3 tests: s3rver (npm) behind tests/peers/s3/verify_proxy.py, which checks
// every request's SigV4 signature with botocore and serves a fake ECS credentials endpoint.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace leakwatch::test {

// A child process; stdout is read line by line until a wanted prefix (bounded in time).
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& cwd = {}) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      int devnull = open("/dev/null", O_WRONLY);
      if (getenv("LEAKWATCH_TEST_PEER_STDERR") == nullptr) dup2(devnull, 2);
      close(out[0]);
      if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
      std::vector<char*> argv;
      for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      setpgid(0, 0);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    fd_ = out[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The rest of the first line starting with `prefix`, or "" after `limit`.
  std::string wait_line(const std::string& prefix, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      auto nl = buf_.find('\n');
      while (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
        nl = buf_.find('\n');
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char tmp[4096];
        auto n = read(fd_, tmp, sizeof tmp);
        if (n <= 0) return {};
        buf_.append(tmp, static_cast<std::size_t>(n));
      }
    }
    return {};
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

inline int free_port() {
  // Bind port 0, read the port, close: s3rver needs a port number on its command line.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// Runs a shell command, returns its stdout (tests only: fixed commands).
inline std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  int st = pclose(f);
  if (status) *status = st;
  return out;
}

}  // namespace leakwatch::test
