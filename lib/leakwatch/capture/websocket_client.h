#pragma once
// A small Boost.Beast WebSocket client (plain TCP, text messages) for the Node inspector: C++20
// coroutines on the caller's io_context, every operation bounded by a deadline, and the peer
// treated as hostile: one message is capped at `max_message_bytes` (Beast stops reading there),
// text frames must be valid UTF-8 (Beast checks), and no exception leaves an operation — errors
// come back as core::Error with codes timeout, connect, protocol (not a WebSocket / bad frame),
// too_large, closed (the peer closed or reset the connection) and io.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::capture {

class WebSocketClient {
 public:
  using Clock = std::chrono::steady_clock;

  WebSocketClient(boost::asio::io_context& io, std::uint64_t max_message_bytes);
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // TCP connect to an IP literal and the WebSocket handshake (Host header "<ip>:<port>").
  boost::asio::awaitable<core::Status> connect(const std::string& ip, std::uint16_t port,
                                               const std::string& target,
                                               Clock::time_point deadline);
  boost::asio::awaitable<core::Status> send(const std::string& text, Clock::time_point deadline);
  // The next message; the view stays valid until the next read().
  boost::asio::awaitable<core::Result<std::string_view>> read(Clock::time_point deadline);
  // A polite close (bounded by `deadline`), then the socket is closed whatever happened.
  boost::asio::awaitable<void> close(Clock::time_point deadline);
  bool is_open() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::capture
