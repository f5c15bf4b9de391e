// The live event stream as Server-Sent Events (GET /api/v1/events with Accept:
// text/event-stream, or /api/v1/events/stream): `id:` is the seq, `data:` the event's JSON,
// a `: heartbeat` comment every 15 s. The subscription itself is EventStream's.
#pragma once

#include <boost/beast/core.hpp>

#include "api/event_stream.hpp"
#include "api/stream.hpp"

namespace vitalsd::api::detail {

class SseSession final : public EventStream {
 public:
  SseSession(std::shared_ptr<State> state, std::unique_ptr<Stream> stream, StreamRequest request);

 private:
  asio::awaitable<bool> open() override;
  asio::awaitable<bool> send_page(const queries::EventPage& page) override;
  asio::awaitable<bool> send_live(std::span<const Frame> frames) override;
  asio::awaitable<bool> heartbeat() override;
  void shutdown() override;

  asio::awaitable<bool> write(const std::vector<asio::const_buffer>& buffers);

  std::unique_ptr<Stream> stream_;
  std::vector<asio::const_buffer> buffers_;
  std::string text_;
};

}  // namespace vitalsd::api::detail
