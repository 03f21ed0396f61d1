// The HTTP server on a real socket (127.0.0.1, port 0), driven by the project's HTTP client and by
// raw sockets: routing, file streaming, limits, rate limiting, connection cap, timeouts, stop().
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "../../unit/api/test_state.h"
#include "leakwatch/api/router.h"
#include "leakwatch/http/client.h"
#include "leakwatch/http/server.h"

namespace leakwatch::api {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class ServerFixture : public ::testing::Test {
 protected:
  void start(http::ServerOptions opts = {}) {
    dir_ = std::filesystem::temp_directory_path() / ("api_server_it_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    file_ = dir_ / "big.heapsnapshot";
    {
      std::ofstream out(file_, std::ios::binary);
      for (int i = 0; i < 300'000; ++i)
        out << "line " << i << " of a fake snapshot\n";
    }
    store_.items = {testing::info("web/20231114T224000Z-manual", 1'700'001'600)};
    store_.files[store_.items[0].id] = file_;
    RouterOptions ro;
    ro.token = core::Secret("tok", "test");
    router_.emplace(ro, provider_, &store_);
    opts.address = "127.0.0.1";
    opts.port = 0;
    server_.emplace(io_, opts, [this](const http::ServerRequest& req, http::Responder respond) {
      router_->handle(req, std::move(respond));
    });
    auto st = server_->start();
    ASSERT_TRUE(st) << st.error().to_string();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      net::post(io_, [this] { server_->stop(); });
      // Let the closes complete, then stop.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      io_.stop();
      thread_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  core::Result<http::Response> get(const std::string& path, http::Headers headers = {},
                                   std::uint64_t max_body = 1 << 20) {
    http::Request req;
    req.url = http::Url::parse("http://127.0.0.1:" + std::to_string(port_) + path).value();
    req.headers = std::move(headers);
    req.max_body_bytes = max_body;
    req.total_timeout = std::chrono::seconds(10);
    return http::fetch_sync(std::move(req));
  }

  http::ServerStats stats() {
    std::promise<http::ServerStats> p;
    net::post(io_, [&] { p.set_value(server_->stats()); });
    return p.get_future().get();
  }

  // Raw HTTP exchange on a fresh connection; returns everything read until the peer closes.
  std::string raw(const std::string& request) {
    net::io_context io;
    tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), port_});
    net::write(s, net::buffer(request));
    std::string out;
    boost::system::error_code ec;
    net::read(s, net::dynamic_buffer(out), ec);
    return out;
  }

  net::io_context io_;
  testing::FixedProvider provider_{testing::sample_state()};
  testing::MemoryStore store_;
  std::optional<Router> router_;
  std::optional<http::Server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::filesystem::path file_;
};

TEST_F(ServerFixture, ServesTheEndpoints) {
  start();
  auto h = get("/healthz");
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
  auto m = get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m->body.find("leakwatch_memory_working_set_bytes"), std::string::npos);
  auto s = get("/api/v1/status");
  ASSERT_TRUE(s);
  EXPECT_EQ(nlohmann::json::parse(s->body)["samples"].size(), 361u);
  auto page = get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<h1>"), std::string::npos);
}

TEST_F(ServerFixture, StreamsADownloadWithTheToken) {
  start();
  const std::string url = "/api/v1/snapshots/web/20231114T224000Z-manual/download";
  auto denied = get(url);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto ok = get(url, {{"Authorization", "Bearer tok"}}, 64 << 20);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body.size(), std::filesystem::file_size(file_));
  EXPECT_EQ(ok->body.substr(0, 24), "line 0 of a fake snapsho");
  EXPECT_NE(ok->header("content-disposition").find("attachment"), std::string::npos);
}

TEST_F(ServerFixture, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  auto out =
      raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t n = 0;
  for (auto p = out.find("HTTP/1.1 200"); p != std::string::npos;
       p = out.find("HTTP/1.1 200", p + 1))
    ++n;
  EXPECT_EQ(n, 3u) << out;
}

TEST_F(ServerFixture, RefusesOversizedRequests) {
  http::ServerOptions o;
  o.max_request_bytes = 1024;
  start(o);
  auto big_header =
      raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4000, 'a') + "\r\n\r\n");
  EXPECT_EQ(big_header.rfind("HTTP/1.1 431", 0), 0u) << big_header.substr(0, 80);
  auto big_body = raw("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                      std::string(5000, 'b'));
  EXPECT_EQ(big_body.rfind("HTTP/1.1 413", 0), 0u) << big_body.substr(0, 80);
  auto garbage = raw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage.substr(0, 80);
  auto h = get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200) << "still serving";
}

TEST_F(ServerFixture, RateLimitsPerClientWith429AndRetryAfter) {
  http::ServerOptions o;
  o.rate_limit_per_second = 1;
  o.rate_limit_burst = 3;
  start(o);
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 6; ++i) {
    auto r = get("/metrics");
    ASSERT_TRUE(r);
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      retry_after = r->header("retry-after");
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(retry_after, "1");
  auto h = get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200) << "the health check is never rate limited";
  EXPECT_EQ(stats().rate_limited, 3u);
}

TEST_F(ServerFixture, CapsConcurrentConnectionsAndTimesOutIdleOnes) {
  http::ServerOptions o;
  o.max_connections = 2;
  o.reserved_health_connections = 0;
  o.read_timeout = std::chrono::milliseconds(300);
  start(o);
  net::io_context io;
  tcp::socket a(io), b(io), c(io);
  tcp::endpoint ep{net::ip::make_address("127.0.0.1"), port_};
  a.connect(ep);
  b.connect(ep);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.connect(ep);
  char byte;
  boost::system::error_code ec;
  c.read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_EQ(stats().connections_rejected, 1u);
  // a and b are idle: the read timeout closes them.
  auto t0 = std::chrono::steady_clock::now();
  a.read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "closed by the server";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(stats().active_connections, 0);
  auto h = get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

// Idle connections held by one client (the app shares loopback on ECS awsvpc) must neither lock
// other clients out nor take the health check down.
TEST_F(ServerFixture, IdleConnectionsCannotTakeTheHealthCheckDown) {
  http::ServerOptions o;
  o.max_connections = 3;
  o.reserved_health_connections = 1;
  start(o);
  net::io_context io;
  tcp::endpoint ep{net::ip::make_address("127.0.0.1"), port_};
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back(io);
    idle.back().connect(ep);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(stats().active_connections, 3);
  auto h = get("/healthz");
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->status, 200) << "the reserved slot serves the health check";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto api = raw("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(api.rfind("HTTP/1.1 503", 0), 0u) << "the reserved slot serves nothing else: " << api;
  EXPECT_GE(stats().health_only_admitted, 2u);
}

TEST_F(ServerFixture, CapsConnectionsPerClientAddress) {
  http::ServerOptions o;
  o.max_connections_per_address = 2;
  o.reserved_health_connections = 0;
  start(o);
  net::io_context io;
  tcp::endpoint ep{net::ip::make_address("127.0.0.1"), port_};
  tcp::socket a(io), b(io), c(io);
  a.connect(ep);
  b.connect(ep);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.connect(ep);
  char byte;
  boost::system::error_code ec;
  c.read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_EQ(stats().connections_rejected, 1u);
  // Another address is not affected (127.0.0.2 is loopback too, and a different client).
  tcp::socket d(io);
  d.open(tcp::v4());
  d.bind({net::ip::make_address("127.0.0.2"), 0});
  d.connect(ep);
  net::write(d, net::buffer(std::string("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")));
  std::string out;
  net::read(d, net::dynamic_buffer(out), ec);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
}

TEST_F(ServerFixture, AnswersMisdirectedToAForeignHost) {
  start();
  auto evil = raw("GET /api/v1/status HTTP/1.1\r\nHost: evil.example:" + std::to_string(port_) +
                  "\r\n\r\n");
  EXPECT_EQ(evil.rfind("HTTP/1.1 421", 0), 0u) << evil;
  EXPECT_EQ(evil.find("samples"), std::string::npos);
  auto local = raw("GET /api/v1/status HTTP/1.1\r\nHost: localhost:" + std::to_string(port_) +
                   "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(local.rfind("HTTP/1.1 200", 0), 0u) << local.substr(0, 200);
  auto health = raw("GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(health.rfind("HTTP/1.1 200", 0), 0u) << "the constant health check is not checked";
  EXPECT_EQ(stats().misdirected, 1u);
}

// A symlink placed in the archive must not turn a download into a read of any file.
TEST_F(ServerFixture, DownloadsNeverFollowSymlinksOutOfTheArchive) {
  start();
  auto archive = dir_ / "archive";
  auto outside = dir_ / "outside";
  std::filesystem::create_directories(archive / "web");
  std::filesystem::create_directories(outside);
  std::ofstream(outside / "secret.txt") << "TOP SECRET";
  std::ofstream(archive / "web" / "real.heapsnapshot") << "{\"snapshot\":{}}";
  std::filesystem::create_symlink(outside / "secret.txt", archive / "web" / "link.heapsnapshot");
  std::filesystem::create_directory_symlink(outside, archive / "dirlink");
  std::filesystem::create_directory(archive / "web" / "dir.heapsnapshot");
  store_.root_dir = archive;
  store_.items = {testing::info("web/20231114T224000Z-real", 1'700'001'600),
                  testing::info("web/20231114T224100Z-link", 1'700'001'660),
                  testing::info("web/20231114T224200Z-dirlink", 1'700'001'720),
                  testing::info("web/20231114T224300Z-dir", 1'700'001'780)};
  store_.files = {{store_.items[0].id, archive / "web" / "real.heapsnapshot"},
                  {store_.items[1].id, archive / "web" / "link.heapsnapshot"},
                  {store_.items[2].id, archive / "dirlink" / "secret.txt"},
                  {store_.items[3].id, archive / "web" / "dir.heapsnapshot"}};
  http::Headers auth{{"Authorization", "Bearer tok"}};
  auto ok = get("/api/v1/snapshots/" + store_.items[0].id + "/download", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "{\"snapshot\":{}}");
  for (int i = 1; i < 4; ++i) {
    auto r = get("/api/v1/snapshots/" + store_.items[i].id + "/download", auth);
    ASSERT_TRUE(r) << store_.items[i].id;
    EXPECT_EQ(r->status, 404) << store_.items[i].id;
    EXPECT_EQ(r->body.find("TOP SECRET"), std::string::npos);
  }
}

TEST_F(ServerFixture, StopClosesOpenConnections) {
  start();
  net::io_context io;
  tcp::socket a(io);
  a.connect({net::ip::make_address("127.0.0.1"), port_});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(stats().active_connections, 1);
  std::promise<void> done;
  net::post(io_, [&] {
    server_->stop();
    done.set_value();
  });
  done.get_future().get();
  char byte;
  boost::system::error_code ec;
  a.read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec);
  tcp::socket b(io);
  b.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
  EXPECT_TRUE(ec) << "no longer listening";
}

TEST(ServerBind, PortInUseIsAClearError) {
  net::io_context io;
  auto noop = [](const http::ServerRequest&, http::Responder r) {
    r(http::ServerResponse::text(200, ""));
  };
  http::ServerOptions o;
  o.port = 0;
  http::Server first(io, o, noop);
  ASSERT_TRUE(first.start());
  o.port = first.port();
  http::Server second(io, o, noop);
  auto st = second.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, core::Errc::bind);
  EXPECT_NE(st.error().message.find(std::to_string(o.port)), std::string::npos);
}

}  // namespace
}  // namespace leakwatch::api
