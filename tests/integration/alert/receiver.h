#pragma once
// Test helpers: a scripted Node.js receiver (receiver.js) in a child process, a test CA made with
// the openssl CLI, and a spdlog sink that captures log lines.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace leakwatch::test {

namespace fs = std::filesystem;

inline fs::path make_temp_dir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("lw-alert-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

struct ReceiverOptions {
  nlohmann::json script = nlohmann::json::array({{{"status", 200}, {"body", "ok"}}});
  std::string cert, key;                 // HTTPS when set
  std::string secret_env, secret_value;  // signature verification with Node's crypto
};

class Receiver {
  static ReceiverOptions with_script(nlohmann::json script) {
    ReceiverOptions o;
    o.script = std::move(script);
    return o;
  }

 public:
  Receiver() : Receiver(ReceiverOptions{}) {}
  explicit Receiver(nlohmann::json script) : Receiver(with_script(std::move(script))) {}
  explicit Receiver(const ReceiverOptions& o) {
    dir_ = make_temp_dir("rx");
    record_ = dir_ / "requests.jsonl";
    std::vector<std::string> args = {
        "node",     std::string(LEAKWATCH_TESTS_DIR) + "/integration/alert/receiver.js",
        "--record", record_.string(),
        "--script", o.script.dump()};
    if (!o.cert.empty()) args.insert(args.end(), {"--cert", o.cert, "--key", o.key});
    if (!o.secret_env.empty()) args.insert(args.end(), {"--secret-env", o.secret_env});
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      if (!o.secret_env.empty()) setenv(o.secret_env.c_str(), o.secret_value.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("node", argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    // First stdout line: {"port": N}, within 10 s.
    std::string line;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < end) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buf[256];
        auto n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        line.append(buf, static_cast<std::size_t>(n));
      }
    }
    close(out[0]);
    if (line.find('\n') == std::string::npos) throw std::runtime_error("receiver did not start");
    port_ = nlohmann::json::parse(line.substr(0, line.find('\n')))["port"];
  }
  ~Receiver() {
    close(stdin_);
    int status = 0;
    for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
      usleep(20000);
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path, bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(record_);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  fs::path dir_, record_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

// A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI.
struct TestPki {
  fs::path dir, ca, cert, key;
  TestPki() {
    dir = make_temp_dir("pki");
    ca = dir / "ca.pem";
    cert = dir / "server.pem";
    key = dir / "server.key";
    std::string d = dir.string();
    std::string cmd =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
        "-out ca.pem -days 2 -subj /CN=leakwatch-test-ca -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
        "-out server.csr -subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
        "extendedKeyUsage=serverAuth\\n' > ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
        "-days 2 -extfile ext.cnf";
    if (std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("openssl could not make the test PKI");
  }
  ~TestPki() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Captures every formatted log line of the loggers it is attached to.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    lines_.emplace_back(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

}  // namespace leakwatch::test
