#pragma once
// A real HTTP(S) server on 127.0.0.1:0 whose every connection runs a test script: read the request,
// write exact bytes, stall, close. Blocking Asio on its own thread; connections are served one at a
// time. Used to drive the client into every edge case (truncation, stalls, caps) deterministically.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace leakwatch::testing {

class ScriptedServer {
 public:
  class Conn {
   public:
    // Reads the request head (up to the blank line); "" when the client went away.
    std::string read_request() {
      boost::system::error_code ec;
      boost::asio::streambuf buf;
      std::size_t n = tls_ ? boost::asio::read_until(*tls_, buf, "\r\n\r\n", ec)
                           : boost::asio::read_until(sock_, buf, "\r\n\r\n", ec);
      if (ec) return {};
      std::string s(boost::asio::buffers_begin(buf.data()),
                    boost::asio::buffers_begin(buf.data()) + n);
      return s;
    }
    bool write(std::string_view data) {
      boost::system::error_code ec;
      if (tls_)
        boost::asio::write(*tls_, boost::asio::buffer(data), ec);
      else
        boost::asio::write(sock_, boost::asio::buffer(data), ec);
      return !ec;
    }
    // Sleeps up to `d`, returning early when the server stops.
    void stall(std::chrono::milliseconds d) {
      std::unique_lock lock(server_->mu_);
      server_->cv_.wait_for(lock, d, [&] { return server_->stopping_; });
    }
    void close() {
      boost::system::error_code ec;
      sock_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }

   private:
    friend class ScriptedServer;
    Conn(ScriptedServer* s, boost::asio::ip::tcp::socket& sock,
         boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>* tls)
        : server_(s), sock_(sock), tls_(tls) {}
    ScriptedServer* server_;
    boost::asio::ip::tcp::socket& sock_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>* tls_;
  };

  using Script = std::function<void(Conn&)>;

  struct TlsFiles {
    std::string cert;
    std::string key;
  };

  explicit ScriptedServer(Script script, std::optional<TlsFiles> tls = std::nullopt)
      : script_(std::move(script)), acceptor_(io_) {
    namespace ip = boost::asio::ip;
    acceptor_.open(ip::tcp::v4());
    acceptor_.set_option(ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind({ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    if (tls) {
      ctx_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
      ctx_->use_certificate_chain_file(tls->cert);
      ctx_->use_private_key_file(tls->key, boost::asio::ssl::context::pem);
    }
    thread_ = std::thread([this] { loop(); });
  }

  ~ScriptedServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    // Wake a blocking accept with a connection of our own.
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket wake(io_);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/", bool https = false) const {
    return std::string(https ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }
  // Request heads received, in order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void record(std::string r) {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(r));
  }

 private:
  void loop() {
    for (;;) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket sock(io_);
      acceptor_.accept(sock, ec);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (ec) continue;
      ++connections_;
      if (ctx_) {
        boost::asio::ssl::stream<boost::asio::ip::tcp::socket&> tls(sock, *ctx_);
        tls.handshake(boost::asio::ssl::stream_base::server, ec);
        if (ec) continue;  // the client refused our certificate
        Conn c(this, sock, &tls);
        script_(c);
        tls.shutdown(ec);
      } else {
        Conn c(this, sock, nullptr);
        script_(c);
      }
      sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      sock.close(ec);
    }
  }

  Script script_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::string> requests_;
  std::atomic<int> connections_{0};
};

// A canned response.
inline std::string http_response(int status, std::string_view body,
                                 std::string extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
         "Connection: close\r\n\r\n" + std::string(body);
}

}  // namespace leakwatch::testing
