#include "api/sse_session.hpp"

#include <spdlog/spdlog.h>

#include "store/queries.hpp"

namespace vitalsd::api::detail {

using asio::redirect_error;
using asio::use_awaitable;

namespace {
constexpr int kCatchUpPage = 500;
constexpr std::size_t kBatch = 256;  // frames per write
}  // namespace

SseSession::SseSession(std::shared_ptr<State> state, boost::beast::tcp_stream stream,
                       StreamRequest request)
    : state_(std::move(state)),
      stream_(std::move(stream)),
      request_(std::move(request)),
      wake_(state_->strand),
      last_seq_(request_.after) {
  state_->connections.insert(this);
  state_->subscribers.insert(this);
}

SseSession::~SseSession() {
  state_->subscribers.erase(this);
  state_->connections.erase(this);
}

void SseSession::run() {
  asio::co_spawn(
      state_->strand, [self = shared_from_this()]() { return self->loop(); }, asio::detached);
}

void SseSession::close() {
  closed_ = true;
  boost::system::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
  wake_.cancel();
}

void SseSession::deliver(const std::vector<Frame>& frames) {
  if (!live_ || closed_) return;  // during catch-up the database has them
  bool added = false;
  for (const auto& f : frames) {
    if (f.event->seq <= last_seq_) continue;
    last_seq_ = f.event->seq;
    if (!request_.filter.empty() && !request_.filter.matches(f.event->event)) continue;
    if (queue_.size() >= Limits::kSseQueue) {
      overflowed_ = true;
      spdlog::warn(
          "api: event stream of {} fell {} events behind; disconnected (it resumes by seq)",
          request_.actor, queue_.size());
      close();
      return;
    }
    queue_.push_back(f.text);
    added = true;
  }
  if (added) wake_.cancel();
}

asio::awaitable<bool> SseSession::write(const std::vector<asio::const_buffer>& buffers) {
  boost::system::error_code ec;
  // A client that does not read is cut off by the idle timeout, whatever it is sent.
  stream_.expires_after(state_->settings.idle_timeout);
  co_await asio::async_write(stream_, buffers, redirect_error(use_awaitable, ec));
  co_return !ec && !closed_;
}

asio::awaitable<void> SseSession::loop() {
  auto self = shared_from_this();
  try {
    static const std::string kHead =
        "HTTP/1.1 200 OK\r\nServer: vitalsd\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: keep-alive\r\n\r\n"
        "retry: 2000\n\n";
    std::vector<asio::const_buffer> one{asio::buffer(kHead)};
    if (!co_await write(one)) co_return;

    // Catch-up from the journal. The switch to live happens in the same strand step as the
    // last (short) page was read, so no committed event falls between the two.
    while (!live_) {
      auto page = queries::events(*state_->db, last_seq_, kCatchUpPage, request_.filter);
      std::string text;
      for (std::size_t i = 0; i < page.events.size(); ++i) {
        text += "id: " + std::to_string(page.seqs[i]) + "\ndata: ";
        text += page.events[i];
        text += "\n\n";
      }
      if (page.more) {
        last_seq_ = page.next;
      } else {
        // Nothing newer is committed than what this read saw: skip non-matching seqs too.
        last_seq_ = std::max(page.next, last_seq_);
        live_ = true;
      }
      if (!text.empty()) {
        one.assign(1, asio::buffer(text));
        if (!co_await write(one)) co_return;
      }
    }

    std::vector<std::shared_ptr<const std::string>> sending;
    std::vector<asio::const_buffer> buffers;
    while (!closed_) {
      if (queue_.empty()) {
        boost::system::error_code ec;
        wake_.expires_after(Limits::kSseHeartbeat);
        co_await wake_.async_wait(redirect_error(use_awaitable, ec));
        if (closed_) break;
        if (!ec && queue_.empty()) {
          static const std::string kBeat = ": heartbeat\n\n";
          buffers.assign(1, asio::buffer(kBeat));
          if (!co_await write(buffers)) break;
        }
        continue;
      }
      sending.clear();
      buffers.clear();
      while (!queue_.empty() && sending.size() < kBatch) {
        sending.push_back(std::move(queue_.front()));
        queue_.pop_front();
        buffers.push_back(asio::buffer(*sending.back()));
      }
      if (!co_await write(buffers)) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("api: event stream failed: {}", e.what());
  }
  close();
}

}  // namespace vitalsd::api::detail
