#include "api/sse_session.hpp"

namespace vitalsd::api::detail {

using asio::redirect_error;
using asio::use_awaitable;

SseSession::SseSession(std::shared_ptr<State> state, std::unique_ptr<Stream> stream,
                       StreamRequest request)
    : EventStream(std::move(state), std::move(request), peer_address(stream->socket())),
      stream_(std::move(stream)) {}

void SseSession::shutdown() {
  boost::system::error_code ec;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_->socket().close(ec);
}

asio::awaitable<bool> SseSession::write(const std::vector<asio::const_buffer>& buffers) {
  boost::system::error_code ec;
  // A client that does not read is cut off by the idle timeout, whatever it is sent.
  stream_->expires_after(state()->settings.idle_timeout);
  co_await asio::async_write(*stream_, buffers, redirect_error(use_awaitable, ec));
  co_return !ec && !closed();
}

asio::awaitable<bool> SseSession::open() {
  static const std::string kHead =
      "HTTP/1.1 200 OK\r\nServer: vitalsd\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: keep-alive\r\n";
  static const std::string kPlain = kHead + "\r\nretry: 2000\n\n";
  static const std::string kTls =
      kHead + "Strict-Transport-Security: " + kStrictTransportSecurity + "\r\n\r\nretry: 2000\n\n";
  buffers_.assign(1, asio::buffer(stream_->tls() ? kTls : kPlain));
  co_return co_await write(buffers_);
}

asio::awaitable<bool> SseSession::send_page(const queries::EventPage& page) {
  text_.clear();
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    text_ += "id: " + std::to_string(page.seqs[i]) + "\ndata: ";
    text_ += page.events[i];
    text_ += "\n\n";
  }
  buffers_.assign(1, asio::buffer(text_));
  co_return co_await write(buffers_);
}

asio::awaitable<bool> SseSession::send_live(std::span<const Frame> frames) {
  // The frames' text is shared with every other SSE subscriber: gathered, not copied.
  buffers_.clear();
  for (const auto& f : frames) buffers_.push_back(asio::buffer(*f.text));
  co_return co_await write(buffers_);
}

asio::awaitable<bool> SseSession::heartbeat() {
  static const std::string kBeat = ": heartbeat\n\n";
  buffers_.assign(1, asio::buffer(kBeat));
  co_return co_await write(buffers_);
}

}  // namespace vitalsd::api::detail
