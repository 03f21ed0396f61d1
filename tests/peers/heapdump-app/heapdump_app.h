#pragma once
// Starts tests/peers/heapdump-app/server.js (a real Node.js process) for a test and stops it at the
// end. Header-only; needs leakwatch::http (admin calls) and leakwatch::test_support.
//
//   leakwatch::testing::HeapdumpApp app({"--key", "k"});
//   ASSERT_TRUE(app.ok()) << app.error();
//   app.url()                      -> "http://127.0.0.1:<port>/api/heapdump"
//   app.set_mode("stall", {{"times","1"}});   // POST /admin/mode
//   app.stats()                    -> nlohmann::json from /admin/stats
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "leakwatch/http/client.h"

namespace leakwatch::testing {

class HeapdumpApp {
 public:
  explicit HeapdumpApp(std::vector<std::string> args,
                       std::chrono::milliseconds start_timeout = std::chrono::seconds(15)) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      error_ = "pipe failed";
      return;
    }
    std::string script = std::string(LEAKWATCH_TESTS_DIR) + "/peers/heapdump-app/server.js";
    std::vector<std::string> argv_s = {"node", script};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::vector<char*> argv;
      for (auto& a : argv_s)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("node", argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
    if (pid_ < 0) {
      error_ = "fork failed";
      return;
    }
    // Read "LISTENING <port>\n".
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + start_timeout;
    while (line.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error_ = "the heapdump app did not start in time (output so far: " + line + ")";
        return;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        error_ = "the heapdump app exited before listening (is node installed?)";
        return;
      }
      line.append(buf, static_cast<std::size_t>(n));
    }
    if (line.rfind("LISTENING ", 0) != 0) {
      error_ = "unexpected output from the heapdump app: " + line;
      return;
    }
    port_ = std::stoi(line.substr(10));
  }

  ~HeapdumpApp() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        ::usleep(20000);
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    if (fd_ >= 0) ::close(fd_);
  }
  HeapdumpApp(const HeapdumpApp&) = delete;
  HeapdumpApp& operator=(const HeapdumpApp&) = delete;

  bool ok() const { return port_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  int pid() const { return pid_; }
  std::string base(bool https = false) const {
    return std::string(https ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::string url(bool https = false) const { return base(https) + "/api/heapdump"; }

  // POST /admin/mode?mode=..&k=v...; returns false when the app did not answer 200.
  bool set_mode(const std::string& mode, const std::map<std::string, std::string>& extra = {},
                bool https = false) {
    std::string q = "/admin/mode?mode=" + mode;
    for (const auto& [k, v] : extra)
      q += "&" + k + "=" + v;
    return admin("POST", q, https).status == 200;
  }
  nlohmann::json stats(bool https = false) {
    auto r = admin("GET", "/admin/stats", https);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  bool leak_mb(int mb, bool https = false) {
    return admin("POST", "/admin/leak?mb=" + std::to_string(mb), https).status == 200;
  }

 private:
  http::Response admin(const std::string& method, const std::string& path, bool https) {
    http::Request req;
    req.method = method;
    req.url = *http::Url::parse(base(https) + path);
    req.tls.verify = false;
    req.total_timeout = std::chrono::seconds(10);
    auto r = http::fetch_sync(req);
    return r.ok() ? *r : http::Response{};
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
  std::string error_;
};

}  // namespace leakwatch::testing
