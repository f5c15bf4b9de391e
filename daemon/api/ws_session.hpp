// The live event stream over WebSocket (GET /api/v1/events/ws?after=SEQ, RFC 6455): one text
// message per event, the event's JSON exactly as the SSE `data:` line and the journal page show
// it (its "seq" is the resume point). The subscription itself is EventStream's.
//
// The stream only sends. Beast answers pings and sends one every 15 s of client silence; a
// client that does not answer it within 15 s more is cut off. A data message from the client
// closes the stream with 1003 (and a reason); a message over 1 KiB with 1009; a frame that
// breaks RFC 6455 with 1002 or 1007 (Beast's own checks). A subscriber that falls 4096 events
// behind is closed with 1013 and a reason naming the seq to resume after.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/event_stream.hpp"
#include "api/stream.hpp"

namespace vitalsd::api::detail {

class WsSession final : public EventStream {
 public:
  WsSession(std::shared_ptr<State> state, std::unique_ptr<Stream> stream, Request upgrade,
            StreamRequest request);

  static constexpr std::size_t kMaxClientMessage = 1024;

 private:
  asio::awaitable<bool> open() override;
  asio::awaitable<bool> send_page(const queries::EventPage& page) override;
  asio::awaitable<bool> send_live(std::span<const Frame> frames) override;
  asio::awaitable<bool> heartbeat() override;
  void shutdown() override;
  [[nodiscard]] bool explains_overflow() const override { return true; }
  asio::awaitable<void> explain_overflow() override;
  [[nodiscard]] bool closing() const override { return closing_; }

  asio::awaitable<void> read_loop();
  asio::awaitable<bool> send(std::string_view json);
  asio::awaitable<void> close_with(boost::beast::websocket::close_code code, std::string reason);

  std::unique_ptr<Stream> stream_;  // TCP, or TLS over it (WSS)
  boost::beast::websocket::stream<Stream&> ws_;
  Request upgrade_;
  bool closing_ = false;  // a close frame is on its way
};

}  // namespace vitalsd::api::detail
