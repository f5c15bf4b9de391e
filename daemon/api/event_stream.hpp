// One subscriber of the live event journal, whatever the transport (SSE or WebSocket): catch-up
// from the database after the client's seq, then the frames publish() hands out, each seq once
// and in order, with no gap between the two. A bounded queue: a subscriber that falls too far
// behind is cut off (it resumes by seq) and never slows the others or the polling. A heartbeat
// every 15 s keeps proxies open and finds dead clients.
//
// The transports (sse_session, ws_session) only say how to open, how to write a catch-up page
// or a batch of live frames, how to beat, and how to end.
#pragma once

#include <deque>
#include <memory>
#include <span>

#include "api/handler.hpp"
#include "api/state.hpp"

namespace vitalsd::api::detail {

class EventStream : public Connection,
                    public Subscriber,
                    public std::enable_shared_from_this<EventStream> {
 public:
  // `address`: the client's, for the connection caps. A stream is `serving` there: evicted
  // only when no idle connection is left (it resumes by seq).
  EventStream(std::shared_ptr<State> state, StreamRequest request,
              const asio::ip::address& address);
  ~EventStream() override;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  void run();
  void close() final;
  void deliver(const std::vector<Frame>& frames) final;
  void tokens_changed(const Auth& auth) final;

 protected:
  // The transport. Each returns false when the client is gone (the stream then ends).
  virtual asio::awaitable<bool> open() = 0;
  virtual asio::awaitable<bool> send_page(const queries::EventPage& page) = 0;
  virtual asio::awaitable<bool> send_live(std::span<const Frame> frames) = 0;
  virtual asio::awaitable<bool> heartbeat() = 0;
  // Shuts the socket now.
  virtual void shutdown() = 0;
  // A transport that can tell the client why it is cut off after an overflow (WebSocket: a
  // close frame) returns true and says it in explain_overflow(); SSE cannot, and its socket is
  // closed at once.
  [[nodiscard]] virtual bool explains_overflow() const { return false; }
  virtual asio::awaitable<void> explain_overflow() { co_return; }
  // True while the transport closes on its own (a close handshake); the stream then does not
  // shut the socket under it.
  [[nodiscard]] virtual bool closing() const { return false; }

  [[nodiscard]] const std::shared_ptr<State>& state() const { return state_; }
  [[nodiscard]] const StreamRequest& request() const { return request_; }
  [[nodiscard]] bool closed() const { return closed_; }
  // The last seq the client has been sent (written to its socket).
  [[nodiscard]] std::int64_t sent_seq() const { return sent_seq_; }

 private:
  asio::awaitable<void> loop();
  void end();

  std::shared_ptr<State> state_;
  StreamRequest request_;
  asio::steady_timer wake_;
  bool live_ = false;          // catch-up done: frames from deliver() are queued
  std::int64_t last_seq_ = 0;  // the last seq read from the database or queued
  std::int64_t sent_seq_ = 0;
  std::deque<Frame> queue_;
  bool overflowed_ = false;
  bool closed_ = false;
};

}  // namespace vitalsd::api::detail
