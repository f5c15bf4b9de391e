// A WebSocket client for tests (Beast, on a real socket) whose reads give up after a limit, so
// that a broken server fails the test rather than hanging it.
#pragma once

#include <gtest/gtest.h>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace vitalsd::test {

class WsClient {
 public:
  // `receive_buffer`: a small SO_RCVBUF (set before connecting) makes a client that does not
  // read fall behind sooner.
  explicit WsClient(std::uint16_t port, int receive_buffer = 0) : ws_(io_) {
    auto& s = ws_.next_layer();
    s.open(asio::ip::tcp::v4());
    if (receive_buffer > 0) s.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    s.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  // The handshake's HTTP status: 101 when upgraded.
  unsigned handshake(const std::string& target, const std::string& token) {
    ws_.set_option(boost::beast::websocket::stream_base::decorator(
        [token](boost::beast::websocket::request_type& r) {
          if (!token.empty()) r.set(boost::beast::http::field::authorization, "Bearer " + token);
        }));
    ws_.handshake(response, "127.0.0.1", target, error);
    return response.result_int();
  }
  // The next message; nullopt when the stream closed (`error`, `reason`) or `limit` passed.
  std::optional<std::string> read(std::chrono::milliseconds limit = std::chrono::seconds{3}) {
    boost::beast::flat_buffer buffer;
    std::optional<boost::system::error_code> done;
    ws_.async_read(buffer, [&](boost::system::error_code ec, std::size_t) { done = ec; });
    io_.restart();
    io_.run_for(limit);
    if (!done) {
      timed_out = true;
      boost::system::error_code ignored;
      ws_.next_layer().close(ignored);
      io_.restart();
      io_.run();
      return std::nullopt;
    }
    if (*done) {
      error = *done;
      return std::nullopt;
    }
    return boost::beast::buffers_to_string(buffer.data());
  }
  // Reads until the event with seq `until` (or the stream ends); returns the seqs seen.
  std::vector<std::int64_t> read_until(std::int64_t until) {
    std::vector<std::int64_t> seqs;
    while (auto m = read()) {
      const auto j = nlohmann::json::parse(*m, nullptr, false);
      if (!j.is_object()) {
        ADD_FAILURE() << "not JSON: " << *m;
        break;
      }
      messages.push_back(j);
      seqs.push_back(j.value("seq", std::int64_t{-1}));
      if (seqs.back() >= until) break;
    }
    return seqs;
  }
  boost::beast::websocket::close_reason reason() const { return ws_.reason(); }
  boost::beast::websocket::stream<asio::ip::tcp::socket>& stream() { return ws_; }

  boost::beast::websocket::response_type response;
  boost::system::error_code error;
  bool timed_out = false;
  std::vector<nlohmann::json> messages;

 private:
  asio::io_context io_;
  boost::beast::websocket::stream<asio::ip::tcp::socket> ws_;
};

}  // namespace vitalsd::test
