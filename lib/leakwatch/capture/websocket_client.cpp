#include "leakwatch/capture/websocket_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace leakwatch::capture {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using core::make_error;

struct WebSocketClient::Impl {
  Impl(asio::io_context& io, std::uint64_t max) : ws(io), timer(io) {
    ws.read_message_max(static_cast<std::size_t>(max));
    ws.auto_fragment(false);
  }

  websocket::stream<beast::tcp_stream> ws;
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  bool timed_out = false;
  bool open = false;

  // Closes the socket when `deadline` passes: the pending operation then fails and is reported as
  // a timeout. Re-armed before every operation.
  // Once the deadline has closed the socket, every later operation reports the timeout too.
  void arm(Clock::time_point deadline, const std::shared_ptr<Impl>& self) {
    timer.expires_at(deadline);
    timer.async_wait([weak = std::weak_ptr<Impl>(self)](const boost::system::error_code& ec) {
      auto me = weak.lock();
      if (ec || !me) return;
      me->timed_out = true;
      beast::error_code ignored;
      beast::get_lowest_layer(me->ws).socket().close(ignored);
    });
  }
  void disarm() { timer.cancel(); }
  bool expired(Clock::time_point deadline) {
    if (Clock::now() < deadline) return false;
    timed_out = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    return true;
  }

  core::Error error(const beast::error_code& ec, const char* during) const {
    std::string what = std::string(during) + ": ";
    if (timed_out) return make_error(core::Errc::timeout, what + "deadline passed");
    if (ec == websocket::error::buffer_overflow || ec == websocket::error::message_too_big)
      return make_error(core::Errc::too_large, what + "a message exceeds the size limit");
    if (ec == websocket::error::closed || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        ec == beast::http::error::end_of_stream)
      return make_error(core::Errc::closed, what + "the peer closed the connection");
    if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable)
      return make_error(core::Errc::connect, what + ec.message());
    const beast::error_code ws_error = websocket::error::closed;
    const beast::error_code http_error = beast::http::error::bad_version;
    if (ec.category() == ws_error.category() || ec.category() == http_error.category())
      return make_error(core::Errc::protocol, what + ec.message());
    return make_error(core::Errc::io, what + ec.message());
  }
};

WebSocketClient::WebSocketClient(asio::io_context& io, std::uint64_t max_message_bytes)
    : impl_(std::make_shared<Impl>(io, max_message_bytes)) {}

WebSocketClient::~WebSocketClient() {
  impl_->disarm();
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

bool WebSocketClient::is_open() const {
  return impl_->open && impl_->ws.is_open();
}

asio::awaitable<core::Status> WebSocketClient::connect(const std::string& ip, std::uint16_t port,
                                                       const std::string& target,
                                                       Clock::time_point deadline) {
  auto self = impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) co_return make_error(core::Errc::connect, "not an IP address: " + ip);
  tcp::endpoint ep(addr, port);
  self->arm(deadline, self);
  co_await beast::get_lowest_layer(self->ws).socket().async_connect(
      ep, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    self->disarm();
    if (self->timed_out) co_return make_error(core::Errc::timeout, "connecting: deadline passed");
    co_return make_error(core::Errc::connect, "connecting: " + ec.message());
  }
  std::string host = addr.is_v6() ? "[" + ip + "]" : ip;
  self->ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "leakwatch/0.1");
  }));
  websocket::response_type res;
  co_await self->ws.async_handshake(res, host + ":" + std::to_string(port), target,
                                    asio::redirect_error(asio::use_awaitable, ec));
  self->disarm();
  if (ec) {
    auto e = self->error(ec, "WebSocket handshake");
    if (e.code != core::Errc::timeout) {
      e.code = core::Errc::protocol;
      if (res.result_int() != 0)
        e.message += " (HTTP " + std::to_string(res.result_int()) + ": not a WebSocket endpoint)";
    }
    co_return e;
  }
  self->open = true;
  co_return core::ok_status();
}

asio::awaitable<core::Status> WebSocketClient::send(const std::string& text,
                                                    Clock::time_point deadline) {
  auto self = impl_;
  beast::error_code ec;
  self->ws.text(true);
  if (self->timed_out || self->expired(deadline))
    co_return make_error(core::Errc::timeout, "sending: deadline passed");
  self->arm(deadline, self);
  co_await self->ws.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
  self->disarm();
  if (ec) co_return self->error(ec, "sending");
  co_return core::ok_status();
}

asio::awaitable<core::Result<std::string_view>> WebSocketClient::read(Clock::time_point deadline) {
  auto self = impl_;
  beast::error_code ec;
  self->buffer.consume(self->buffer.size());
  if (self->timed_out || self->expired(deadline))
    co_return make_error(core::Errc::timeout, "reading: deadline passed");
  self->arm(deadline, self);
  co_await self->ws.async_read(self->buffer, asio::redirect_error(asio::use_awaitable, ec));
  self->disarm();
  if (ec) {
    self->open = false;
    co_return self->error(ec, "reading");
  }
  if (!self->ws.got_text()) co_return make_error(core::Errc::protocol, "reading: a binary message");
  auto data = self->buffer.cdata();
  co_return std::string_view(static_cast<const char*>(data.data()), data.size());
}

asio::awaitable<void> WebSocketClient::close(Clock::time_point deadline) {
  auto self = impl_;
  if (self->open && self->ws.is_open()) {
    beast::error_code ec;
    self->arm(deadline, self);
    co_await self->ws.async_close(websocket::close_code::normal,
                                  asio::redirect_error(asio::use_awaitable, ec));
    self->disarm();
  }
  self->open = false;
  beast::error_code ignored;
  beast::get_lowest_layer(self->ws).socket().close(ignored);
}

}  // namespace leakwatch::capture
