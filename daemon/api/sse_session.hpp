// One Server-Sent Events subscriber (GET /api/v1/events with Accept: text/event-stream, or
// /api/v1/events/stream): catch-up from the database after the client's seq, then live
// frames from publish(). A bounded queue; a subscriber that falls too far behind is cut off
// (it resumes by seq) and never slows the others. Heartbeat comments keep proxies open and
// find dead clients.
#pragma once

#include <boost/beast/core.hpp>
#include <deque>
#include <memory>

#include "api/handler.hpp"
#include "api/state.hpp"

namespace vitalsd::api::detail {

class SseSession : public Connection,
                   public Subscriber,
                   public std::enable_shared_from_this<SseSession> {
 public:
  SseSession(std::shared_ptr<State> state, boost::beast::tcp_stream stream, StreamRequest request);
  ~SseSession() override;
  void run();
  void close() override;
  void deliver(const std::vector<Frame>& frames) override;

 private:
  asio::awaitable<void> loop();
  asio::awaitable<bool> write(const std::vector<asio::const_buffer>& buffers);

  std::shared_ptr<State> state_;
  boost::beast::tcp_stream stream_;
  StreamRequest request_;
  asio::steady_timer wake_;
  bool live_ = false;          // catch-up done: frames from deliver() go out
  std::int64_t last_seq_ = 0;  // the last seq sent or queued
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool overflowed_ = false;
  bool closed_ = false;
};

}  // namespace vitalsd::api::detail
