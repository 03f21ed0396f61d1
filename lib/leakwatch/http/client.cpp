#include "leakwatch/http/client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace leakwatch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using core::Error;
using core::make_error;
using core::Result;
using Clock = std::chrono::steady_clock;

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  }
  return {};
}

namespace {

constexpr std::size_t kErrorBodyCap = 64 * 1024;
constexpr std::size_t kChunk = 64 * 1024;

struct Deadline {
  Clock::time_point total_end;
  std::chrono::milliseconds idle;
  std::chrono::milliseconds total;

  // Time allowed for the next operation: the idle timeout, never past the total deadline.
  std::optional<Clock::duration> next() const {
    auto left = total_end - Clock::now();
    if (left <= Clock::duration::zero()) return std::nullopt;
    return std::min<Clock::duration>(idle, left);
  }
  bool total_expired() const { return Clock::now() >= total_end; }
};

std::string secs(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Error timeout_error(const Deadline& dl, const Url& url, const char* during) {
  if (dl.total_expired())
    return make_error(core::Errc::timeout, std::string(during) + " " + url.redacted() +
                                               ": total time limit of " + secs(dl.total) +
                                               " exceeded");
  return make_error(core::Errc::timeout, std::string(during) + " " + url.redacted() +
                                             ": no data for " + secs(dl.idle) + " (idle timeout)");
}

Error net_error(const beast::error_code& ec, const Deadline& dl, const Url& url,
                const char* during) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out)
    return timeout_error(dl, url, during);
  if (ec == bhttp::error::body_limit)
    return make_error(core::Errc::too_large,
                      "response from " + url.redacted() + " exceeds the size limit");
  if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream ||
      ec == asio::error::eof || ec == asio::error::connection_reset)
    return make_error(core::Errc::protocol,
                      std::string(during) + " " + url.redacted() +
                          ": connection closed before the response was complete");
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == asio::ssl::error::get_stream_category())
    return make_error(core::Errc::tls,
                      std::string(during) + " " + url.redacted() + ": " + ec.message());
  if (ec.category() == beast::error_code(bhttp::error::bad_version).category())
    return make_error(core::Errc::protocol,
                      std::string(during) + " " + url.redacted() + ": " + ec.message());
  return make_error(core::Errc::io,
                    std::string(during) + " " + url.redacted() + ": " + ec.message());
}

void set_expiry(beast::tcp_stream& s, Clock::duration d) {
  s.expires_after(d);
}
template <class S>
void set_expiry(beast::ssl_stream<S>& s, Clock::duration d) {
  beast::get_lowest_layer(s).expires_after(d);
}

// Sends the request and reads the response on an established stream.
template <class Stream>
asio::awaitable<Result<Response>> exchange(Stream& stream, const Request& req,
                                           StreamHandler* handler, const Deadline& dl) {
  beast::error_code ec;
  // A span over the caller's bytes: the body is serialized from where it is, never copied.
  const std::string_view payload =
      req.body_view.empty() ? std::string_view(req.body) : req.body_view;
  bhttp::request<bhttp::span_body<const char>> msg{bhttp::string_to_verb(req.method),
                                                   req.url.target, 11};
  if (msg.method() == bhttp::verb::unknown) msg.method_string(req.method);
  bool default_port =
      (req.url.port == 80 && !req.url.tls()) || (req.url.port == 443 && req.url.tls());
  std::string host =
      req.url.host.find(':') != std::string::npos ? "[" + req.url.host + "]" : req.url.host;
  msg.set(bhttp::field::host, default_port ? host : host + ":" + std::to_string(req.url.port));
  msg.set(bhttp::field::user_agent, "leakwatch/0.1");
  msg.set(bhttp::field::connection, "close");
  for (const auto& [k, v] : req.headers)
    msg.set(k, v);
  if (!req.content_type.empty()) msg.set(bhttp::field::content_type, req.content_type);
  msg.body() = beast::span<const char>(payload.data(), payload.size());
  msg.prepare_payload();

  auto d = dl.next();
  if (!d) co_return timeout_error(dl, req.url, "sending to");
  set_expiry(stream, *d);
  co_await bhttp::async_write(stream, msg, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return net_error(ec, dl, req.url, "sending to");

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(32 * 1024);
  parser.body_limit(
      boost::none);  // enforced below, so error bodies and streamed bodies share one rule
  d = dl.next();
  if (!d) co_return timeout_error(dl, req.url, "waiting for");
  set_expiry(stream, *d);
  co_await bhttp::async_read_header(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return net_error(ec, dl, req.url, "waiting for");

  Response resp;
  resp.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get())
    resp.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));

  bool success = resp.status >= 200 && resp.status < 300;
  bool to_handler = handler && success;
  if (handler && handler->on_head) {
    auto st = handler->on_head(resp);
    if (!st.ok()) co_return st.error();
  }
  std::uint64_t cap = to_handler || !handler ? req.max_body_bytes : kErrorBodyCap;
  if (auto len = parser.content_length(); len && *len > cap && (to_handler || !handler))
    co_return make_error(core::Errc::too_large, "response from " + req.url.redacted() +
                                                    " announces " + std::to_string(*len) +
                                                    " bytes, over the limit of " +
                                                    std::to_string(cap));

  // Beast sizes each socket read by the buffer's spare capacity (at least 512 bytes): left at the
  // size the header needed, a 1 GB body would take ~2 million 512-byte reads and file writes.
  buffer.reserve(kChunk);
  std::uint64_t received = 0;
  std::vector<char> chunk(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    d = dl.next();
    if (!d) co_return timeout_error(dl, req.url, "reading from");
    set_expiry(stream, *d);
    // One socket read per step, so the idle timeout is re-armed whenever bytes arrive (a whole
    // async_read would have to fill the chunk buffer within one idle period).
    co_await bhttp::async_read_some(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    std::size_t n = chunk.size() - parser.get().body().size;
    if (n > 0) {
      received += n;
      if (received > cap) {
        if (!to_handler && handler) break;  // error text: keep what we have
        co_return make_error(core::Errc::too_large, "response from " + req.url.redacted() +
                                                        " exceeds the limit of " +
                                                        std::to_string(cap) + " bytes");
      }
      std::string_view data(chunk.data(), n);
      if (to_handler) {
        if (handler->on_data) {
          auto st = handler->on_data(data);
          if (!st.ok()) co_return st.error();
        }
      } else {
        resp.body.append(data);
      }
    }
    if (ec) {
      auto err = net_error(ec, dl, req.url, "reading from");
      if (err.code == core::Errc::protocol && parser.content_length())
        err.message += " (got " + std::to_string(received) + " of " +
                       std::to_string(*parser.content_length()) + " bytes)";
      co_return err;
    }
  }
  co_return resp;
}

asio::awaitable<Result<Response>> run(Request req, StreamHandler* handler) {
  auto ex = co_await asio::this_coro::executor;
  Deadline dl{Clock::now() + req.total_timeout, req.idle_timeout, req.total_timeout};
  beast::error_code ec;
  auto connect_end = Clock::now() + std::min(req.connect_timeout, req.total_timeout);

  // Resolve, bounded by the connect timeout (the resolver has no timeout of its own).
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer guard(ex);
  guard.expires_at(connect_end);
  guard.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](beast::error_code e) {
    if (!e)
      if (auto r = weak.lock()) r->cancel();
  });
  auto endpoints = co_await resolver->async_resolve(req.url.host, std::to_string(req.url.port),
                                                    asio::redirect_error(asio::use_awaitable, ec));
  guard.cancel();
  if (ec) {
    if (ec == asio::error::operation_aborted)
      co_return make_error(core::Errc::timeout,
                           "resolving " + req.url.origin() + ": connect timeout");
    co_return make_error(core::Errc::resolve,
                         "cannot resolve " + req.url.origin() + ": " + ec.message());
  }

  beast::tcp_stream tcp_stream(ex);
  tcp_stream.expires_at(connect_end);
  co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (ec == beast::error::timeout)
      co_return make_error(core::Errc::timeout, "connecting to " + req.url.origin() +
                                                    ": connect timeout of " +
                                                    secs(req.connect_timeout) + " exceeded");
    co_return make_error(core::Errc::connect,
                         "cannot connect to " + req.url.origin() + ": " + ec.message());
  }

  if (!req.url.tls()) {
    auto r = co_await exchange(tcp_stream, req, handler, dl);
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    co_return r;
  }

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  if (req.tls.verify) {
    ctx.set_default_verify_paths(ec);
    if (!req.tls.ca_file.empty()) {
      ctx.load_verify_file(req.tls.ca_file, ec);
      if (ec)
        co_return make_error(core::Errc::tls,
                             "cannot load CA file " + req.tls.ca_file + ": " + ec.message());
    }
    ctx.set_verify_mode(asio::ssl::verify_peer);
  } else {
    ctx.set_verify_mode(asio::ssl::verify_none);
  }
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), ctx);
  beast::error_code addr_ec;
  asio::ip::make_address(req.url.host, addr_ec);
  bool is_ip = !addr_ec;
  if (!is_ip && !SSL_set_tlsext_host_name(tls.native_handle(), req.url.host.c_str()))
    co_return make_error(core::Errc::tls, "cannot set SNI for " + req.url.origin());
  if (req.tls.verify) {
    // Host-name (or IP address) check done by OpenSSL itself during chain verification, so a
    // mismatch is reported as such (X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH).
    X509_VERIFY_PARAM* param = SSL_get0_param(tls.native_handle());
    int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, req.url.host.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, req.url.host.c_str(), 0);
    if (set != 1)
      co_return make_error(core::Errc::tls,
                           "cannot set the expected host name for " + req.url.origin());
  }
  beast::get_lowest_layer(tls).expires_at(connect_end);
  co_await tls.async_handshake(asio::ssl::stream_base::client,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (ec == beast::error::timeout)
      co_return make_error(core::Errc::timeout,
                           "TLS handshake with " + req.url.origin() + " timed out");
    std::string why = ec.message();
    long verify = SSL_get_verify_result(tls.native_handle());
    if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      why += " (the certificate is not valid for " + req.url.host + ")";
    else if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
             verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
             verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
      why += " (unknown certificate authority: set the CA file for a private CA)";
    co_return make_error(core::Errc::tls,
                         "TLS handshake with " + req.url.origin() + " failed: " + why);
  }
  auto r = co_await exchange(tls, req, handler, dl);
  if (r.ok()) {
    // Best effort close_notify; after an error (timeout, abort) the peer may never answer it.
    beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
    co_await tls.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return r;
}

void spawn(asio::io_context& io, Request req, std::shared_ptr<StreamHandler> handler,
           ResponseCallback done) {
  asio::co_spawn(
      io,
      [req = std::move(req), handler, done = std::move(done)]() mutable -> asio::awaitable<void> {
        std::optional<Result<Response>> r;
        try {
          r.emplace(co_await run(std::move(req), handler.get()));
        } catch (const std::exception& e) {
          r.emplace(make_error(core::Errc::io, std::string("HTTP client failure: ") + e.what()));
        }
        done(std::move(*r));
      },
      asio::detached);
}

}  // namespace

Client::Client(asio::io_context& io) : io_(io) {}
Client::~Client() = default;

void Client::request(Request req, ResponseCallback done) {
  spawn(io_, std::move(req), nullptr, std::move(done));
}

void Client::stream(Request req, StreamHandler handler, ResponseCallback done) {
  spawn(io_, std::move(req), std::make_shared<StreamHandler>(std::move(handler)), std::move(done));
}

namespace {
Result<Response> run_sync(Request req, std::shared_ptr<StreamHandler> handler) {
  asio::io_context io;
  std::optional<Result<Response>> out;
  spawn(io, std::move(req), std::move(handler),
        [&](Result<Response> r) { out.emplace(std::move(r)); });
  io.run();
  if (!out) return make_error(core::Errc::io, "HTTP request did not complete");
  return std::move(*out);
}
}  // namespace

Result<Response> fetch_sync(Request req) {
  return run_sync(std::move(req), nullptr);
}

Result<Response> stream_sync(Request req, StreamHandler handler) {
  return run_sync(std::move(req), std::make_shared<StreamHandler>(std::move(handler)));
}

}  // namespace leakwatch::http
