#include "leakwatch/http/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include "leakwatch/core/log.h"

namespace leakwatch::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------------
// RateLimiter

RateLimiter::RateLimiter(double rate_per_second, double burst, std::size_t max_keys)
    : rate_(rate_per_second),
      burst_(std::max(1.0, burst)),
      max_keys_(std::max<std::size_t>(1, max_keys)) {}

bool RateLimiter::allow(const std::string& key, TimePoint now, double* retry_after_seconds) {
  if (rate_ <= 0) return true;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  } else {
    double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    if (elapsed > 0) {
      it->second.tokens = std::min(burst_, it->second.tokens + elapsed * rate_);
      it->second.last = now;
    }
  }
  if (it->second.tokens >= 1.0) {
    it->second.tokens -= 1.0;
    return true;
  }
  if (retry_after_seconds) *retry_after_seconds = (1.0 - it->second.tokens) / rate_;
  return false;
}

void RateLimiter::evict(TimePoint now) {
  // Drop every bucket that would be full by now: forgetting it changes nothing.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double elapsed = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + elapsed * rate_ >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() < max_keys_) return;
  // Still full (a flood from many addresses): drop the stalest half.
  std::vector<std::pair<TimePoint, std::string>> order;
  order.reserve(buckets_.size());
  for (const auto& [k, b] : buckets_)
    order.emplace_back(b.last, k);
  std::sort(order.begin(), order.end());
  for (std::size_t i = 0; i < order.size() / 2 + 1 && i < order.size(); ++i) {
    buckets_.erase(order[i].second);
  }
}

// ---------------------------------------------------------------------------------------------
// parse_listen

core::Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return core::make_error(core::Errc::invalid_listen,
                            "listen address '" + listen + "': " + why +
                                " (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)");
  };
  std::string host;
  std::string port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("unterminated IPv6 address");
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("missing port");
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("IPv6 addresses must be in brackets");
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || p != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("invalid port '" + port_text + "'");
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  error_code aec;
  net::ip::make_address(host, aec);
  if (aec) return bad("'" + host + "' is not an IP address");
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

// ---------------------------------------------------------------------------------------------
// Host check

bool host_allowed(std::string_view host, const ServerOptions& o) {
  while (!host.empty() && (host.front() == ' ' || host.front() == '\t'))
    host.remove_prefix(1);
  while (!host.empty() && (host.back() == ' ' || host.back() == '\t'))
    host.remove_suffix(1);
  if (host.empty()) return true;  // no Host: not a browser, so not a rebinding attack
  std::string name;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = std::string(host.substr(1, close - 1));
    auto rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
  } else {
    auto colon = host.find(':');
    if (colon != std::string_view::npos && host.find(':', colon + 1) != std::string_view::npos)
      return false;  // a bare IPv6 address is not a valid Host
    name = std::string(host.substr(0, colon));
  }
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return false;
  if (name == "localhost") return true;
  for (const auto& a : o.allowed_hosts) {
    if (a == "*" || a == name) return true;
  }
  error_code ec;
  auto ip = net::ip::make_address(name, ec);
  if (ec) return false;  // a DNS name nobody configured: what rebinding looks like
  auto listen = net::ip::make_address(o.address, ec);
  if (ec) return false;
  // An IP literal in Host means the browser's origin is that address itself, so it cannot be a
  // rebinding; still, only addresses this server answers on are accepted.
  if (listen.is_unspecified()) return true;
  if (listen.is_loopback() && ip.is_loopback()) return true;
  return ip == listen;
}

// ---------------------------------------------------------------------------------------------
// Session

namespace {

class Session;

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::io_context& io, ServerOptions options, Handler h)
      : io(io),
        opts(std::move(options)),
        handler(std::move(h)),
        acceptor(io),
        retry_timer(io),
        limiter(opts.rate_limit_per_second, opts.rate_limit_burst) {}

  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  void stop();

  net::io_context& io;
  ServerOptions opts;
  Handler handler;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  RateLimiter limiter;
  ServerStats stats;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<std::string, int> per_address;  // open sessions by client address
  int health_only = 0;                               // sessions in a reserved health slot
  bool stopped = false;
  std::uint16_t port = 0;
  std::chrono::steady_clock::time_point last_reject_log{};
};

namespace {

// Opens a file to serve: never through a symlink in the last component (O_NOFOLLOW), regular files
// only, and when `root` is given the opened file must lie under it once resolved (a symlinked
// directory inside the archive cannot point the download elsewhere). Returns the fd or -1 with
// `ec` set.
int open_served_file(const std::filesystem::path& file,
                     const std::optional<std::filesystem::path>& root, error_code& ec) {
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    ec = error_code(errno, boost::system::generic_category());
    return -1;
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && root) {
    std::error_code fec;
    auto resolved = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), fec);
    auto base = std::filesystem::canonical(*root, fec);
    if (fec) {
      ok = false;
    } else {
      auto r = resolved.lexically_relative(base);
      ok = !r.empty() && *r.begin() != "..";
    }
  }
  if (!ok) {
    ::close(fd);
    ec = error_code(ENOENT, boost::system::generic_category());
    return -1;
  }
  // O_NONBLOCK only guarded the open (a FIFO would have blocked); reads of a regular file ignore
  // it.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// Releases a session on the io thread even when the last reference is dropped elsewhere (a
// Responder destroyed by a worker thread).
struct SessionHold {
  std::shared_ptr<Session> session;
  ~SessionHold();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::Impl> server, tcp::socket socket, std::string remote,
          bool health_only)
      : server_(std::move(server)),
        stream_(std::move(socket)),
        remote_(std::move(remote)),
        health_only_(health_only) {}

  ~Session() {
    server_->sessions.erase(this);
    --server_->stats.active_connections;
    if (health_only_) {
      --server_->health_only;
    } else if (auto it = server_->per_address.find(remote_);
               it != server_->per_address.end() && --it->second <= 0) {
      server_->per_address.erase(it);
    }
  }

  void start() {
    server_->sessions[this] = weak_from_this();
    ++server_->stats.active_connections;
    if (health_only_)
      ++server_->health_only;
    else
      ++server_->per_address[remote_];
    do_read();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  void send(ServerResponse res) {
    if (closed_) return;
    if (res.file) {
      bhttp::file_body::value_type body;
      error_code ec;
      int fd = open_served_file(*res.file, res.file_root, ec);
      if (fd >= 0) {
        beast::file f;
        f.native_handle(fd);
        body.reset(std::move(f), ec);
      }
      if (ec) {
        core::logger("http")->warn("event=file_open_failed error=\"{}\"", ec.message());
        send(ServerResponse::text(404, "not found"));
        return;
      }
      auto size = body.size();
      if (head_) {
        bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(res.status), 11};
        fill_headers(r, res);
        r.content_length(size);
        write_string(std::move(r));
        return;
      }
      file_res_.emplace(std::piecewise_construct, std::make_tuple(std::move(body)),
                        std::make_tuple(static_cast<bhttp::status>(res.status), 11));
      fill_headers(*file_res_, res);
      file_res_->content_length(size);
      file_sr_.emplace(*file_res_);
      write_some(*file_sr_);
      return;
    }
    bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(res.status), 11};
    fill_headers(r, res);
    auto size = res.body.size();
    if (!head_) r.body() = std::move(res.body);
    r.content_length(size);
    write_string(std::move(r));
  }

 private:
  template <class Msg>
  void fill_headers(Msg& r, const ServerResponse& res) {
    r.set(bhttp::field::server, server_->opts.server_name);
    if (!res.content_type.empty()) r.set(bhttp::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers)
      r.set(k, v);
    keep_alive_ = keep_alive_ && !res.close && !server_->stopped;
    r.keep_alive(keep_alive_);
  }

  void write_string(bhttp::response<bhttp::string_body> r) {
    str_res_.emplace(std::move(r));
    str_sr_.emplace(*str_res_);
    write_some(*str_sr_);
  }

  void do_read() {
    parser_.emplace();
    auto limit = server_->opts.max_request_bytes;
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, 0xffffffffu)));
    parser_->body_limit(limit);
    // buffer_ keeps bytes read past the previous request (pipelining).
    stream_.expires_after(
        health_only_ ? std::min(server_->opts.read_timeout, server_->opts.health_read_timeout)
                     : server_->opts.read_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (closed_) return;
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      close();
      return;
    }
    if (ec) {
      ++server_->stats.bad_requests;
      keep_alive_ = false;
      head_ = false;
      int status = 400;
      std::string text = "bad request";
      if (ec == bhttp::error::body_limit) {
        status = 413;
        text = "request too large (limit " + std::to_string(server_->opts.max_request_bytes) +
               " bytes)";
      } else if (ec == bhttp::error::header_limit) {
        status = 431;
        text = "request headers too large (limit " +
               std::to_string(server_->opts.max_request_bytes) + " bytes)";
      }
      auto res = ServerResponse::text(status, text);
      res.close = true;
      send(std::move(res));
      return;
    }

    auto msg = parser_->release();
    ServerRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    ++server_->stats.requests;

    if (health_only_) {
      // A reserved slot serves one health check and nothing else.
      keep_alive_ = false;
      if (req.path != server_->opts.health_path) {
        auto res = ServerResponse::text(503, "server busy: too many connections");
        res.set_header("Retry-After", "5");
        res.close = true;
        send(std::move(res));
        return;
      }
    }

    const auto& host_exempt = server_->opts.host_check_exempt;
    if (std::find(host_exempt.begin(), host_exempt.end(), req.path) == host_exempt.end() &&
        !host_allowed(req.header("host"), server_->opts)) {
      ++server_->stats.misdirected;
      auto res = ServerResponse::text(
          421, "misdirected request: this Host is not served here (see server.allowed_hosts)");
      res.close = true;
      send(std::move(res));
      return;
    }

    const auto& exempt = server_->opts.rate_limit_exempt;
    if (std::find(exempt.begin(), exempt.end(), req.path) == exempt.end()) {
      double retry = 0;
      if (!server_->limiter.allow(remote_, std::chrono::steady_clock::now(), &retry)) {
        ++server_->stats.rate_limited;
        auto res = ServerResponse::text(429, "too many requests");
        res.set_header("Retry-After",
                       std::to_string(std::max(1, static_cast<int>(std::ceil(retry)))));
        send(std::move(res));
        return;
      }
    }

    auto hold = std::make_shared<SessionHold>();
    hold->session = shared_from_this();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    Responder respond = [hold, responded](ServerResponse res) {
      if (responded->exchange(true)) return;
      auto session = std::move(hold->session);
      if (!session) return;
      auto ex = session->executor();
      net::post(ex, [session = std::move(session), res = std::move(res)]() mutable {
        session->send(std::move(res));
      });
    };
    try {
      server_->handler(req, respond);
    } catch (const std::exception& e) {
      core::logger("http")->error("event=handler_exception path={} error=\"{}\"", req.path,
                                  e.what());
      respond(ServerResponse::text(500, "internal error"));
    }
  }

  template <class Body>
  void write_some(bhttp::serializer<false, Body>& sr) {
    stream_.expires_after(server_->opts.write_timeout);
    bhttp::async_write_some(stream_, sr,
                            [self = shared_from_this(), &sr](error_code ec, std::size_t) {
                              self->on_write_some(ec, sr);
                            });
  }

  template <class Body>
  void on_write_some(error_code ec, bhttp::serializer<false, Body>& sr) {
    if (ec) {
      if (ec != net::error::operation_aborted) {
        core::logger("http")->debug("event=write_failed error=\"{}\"", ec.message());
      }
      close();
      return;
    }
    if (!sr.is_done()) {
      write_some(sr);
      return;
    }
    str_sr_.reset();
    str_res_.reset();
    file_sr_.reset();
    file_res_.reset();
    if (!keep_alive_ || closed_) {
      close();
      return;
    }
    do_read();
  }

  std::shared_ptr<Server::Impl> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool health_only_ = false;
  bool keep_alive_ = false;
  bool head_ = false;
  bool closed_ = false;
  std::optional<bhttp::response<bhttp::string_body>> str_res_;
  std::optional<bhttp::serializer<false, bhttp::string_body>> str_sr_;
  std::optional<bhttp::response<bhttp::file_body>> file_res_;
  std::optional<bhttp::serializer<false, bhttp::file_body>> file_sr_;
};

SessionHold::~SessionHold() {
  if (!session) return;
  auto ex = session->executor();
  net::post(ex, [s = std::move(session)]() mutable { s.reset(); });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

void Server::Impl::do_accept() {
  acceptor.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (stopped || ec == net::error::operation_aborted) return;
  if (ec) {
    // e.g. EMFILE: retry shortly instead of spinning.
    core::logger("http")->warn("event=accept_failed error=\"{}\"", ec.message());
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](error_code tec) {
      if (!tec && !self->stopped) self->do_accept();
    });
    return;
  }
  ++stats.connections_accepted;
  std::string remote;
  {
    error_code rec;
    auto ep = socket.remote_endpoint(rec);
    if (!rec) remote = ep.address().to_string();
  }
  auto it = per_address.find(remote);
  int from_here = it == per_address.end() ? 0 : it->second;
  bool regular = stats.active_connections - health_only < opts.max_connections &&
                 from_here < opts.max_connections_per_address;
  bool health = !regular && health_only < opts.reserved_health_connections;
  if (regular || health) {
    if (health) ++stats.health_only_admitted;
    std::make_shared<Session>(shared_from_this(), std::move(socket), std::move(remote), health)
        ->start();
  } else {
    ++stats.connections_rejected;
    auto now = std::chrono::steady_clock::now();
    if (now - last_reject_log > std::chrono::seconds(10)) {
      last_reject_log = now;
      core::logger("http")->warn(
          "event=connection_rejected reason=connection_caps max_connections={} "
          "max_per_address={} rejected_total={}",
          opts.max_connections, opts.max_connections_per_address, stats.connections_rejected);
    }
    error_code cec;
    socket.close(cec);
  }
  do_accept();
}

void Server::Impl::stop() {
  if (stopped) return;
  stopped = true;
  error_code ec;
  acceptor.close(ec);
  retry_timer.cancel();
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [p, w] : sessions) {
    if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live)
    s->close();
}

Server::Server(net::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

Server::~Server() {
  stop();
}

core::Status Server::start() {
  error_code ec;
  auto addr = net::ip::make_address(impl_->opts.address, ec);
  std::string where = impl_->opts.address + ":" + std::to_string(impl_->opts.port);
  if (ec)
    return core::make_error(core::Errc::invalid_listen,
                            "not an IP address: " + impl_->opts.address);
  tcp::endpoint ep(addr, impl_->opts.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code cec;
    a.close(cec);
    return core::make_error(core::Errc::bind, "cannot listen on " + where + ": " + ec.message());
  }
  impl_->port = a.local_endpoint(ec).port();
  impl_->stopped = false;
  core::logger("http")->info("event=listening address={} port={}", impl_->opts.address,
                             impl_->port);
  impl_->do_accept();
  return core::ok_status();
}

std::uint16_t Server::port() const {
  return impl_->port;
}

void Server::stop() {
  impl_->stop();
}

void Server::reconfigure(const ServerOptions& options) {
  auto& o = impl_->opts;
  bool rate_changed = o.rate_limit_per_second != options.rate_limit_per_second ||
                      o.rate_limit_burst != options.rate_limit_burst;
  std::string address = o.address;
  std::uint16_t port = o.port;
  o = options;
  o.address = std::move(address);
  o.port = port;
  if (rate_changed) impl_->limiter = RateLimiter(o.rate_limit_per_second, o.rate_limit_burst);
}

ServerStats Server::stats() const {
  return impl_->stats;
}

}  // namespace leakwatch::http
