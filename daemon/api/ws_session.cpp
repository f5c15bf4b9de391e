#include "api/ws_session.hpp"

#include <spdlog/spdlog.h>

namespace vitalsd::api::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::redirect_error;
using asio::use_awaitable;

WsSession::WsSession(std::shared_ptr<State> state, std::unique_ptr<Stream> stream, Request upgrade,
                     StreamRequest request)
    : EventStream(std::move(state), std::move(request), peer_address(stream->socket())),
      stream_(std::move(stream)),
      ws_(*stream_),
      upgrade_(std::move(upgrade)) {}

void WsSession::shutdown() {
  boost::system::error_code ec;
  auto& socket = beast::get_lowest_layer(ws_).socket();
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

asio::awaitable<bool> WsSession::open() {
  // The WebSocket's own timers replace the TCP stream's (Beast's rule: never both).
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = state()->settings.header_timeout;
  timeouts.idle_timeout = 2 * Limits::kSseHeartbeat;  // a ping after 15 s, closed 15 s later
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(
      websocket::stream_base::decorator([tls = stream_->tls()](websocket::response_type& res) {
        res.set(beast::http::field::server, "vitalsd");
        if (tls) res.set(beast::http::field::strict_transport_security, kStrictTransportSecurity);
      }));
  ws_.read_message_max(kMaxClientMessage);
  ws_.text(true);
  boost::system::error_code ec;
  co_await ws_.async_accept(upgrade_, redirect_error(use_awaitable, ec));
  if (ec) {
    spdlog::info("api: WebSocket handshake with {} failed: {}", request().actor, ec.message());
    co_return false;
  }
  upgrade_ = {};
  // Reads run beside the writes: Beast answers control frames (ping, close) only while a read
  // is pending, and a data message from the client is refused there.
  asio::co_spawn(
      state()->strand,
      [self = std::static_pointer_cast<WsSession>(shared_from_this())]() {
        return self->read_loop();
      },
      asio::detached);
  co_return true;
}

asio::awaitable<bool> WsSession::send(std::string_view json) {
  boost::system::error_code ec;
  co_await ws_.async_write(asio::buffer(json.data(), json.size()),
                           redirect_error(use_awaitable, ec));
  co_return !ec && !closed() && !closing_;
}

asio::awaitable<bool> WsSession::send_page(const queries::EventPage& page) {
  for (const auto& event : page.events)
    if (!co_await send(event)) co_return false;
  co_return true;
}

asio::awaitable<bool> WsSession::send_live(std::span<const Frame> frames) {
  // The event's JSON is the one the journal made at commit, shared by every subscriber.
  for (const auto& f : frames)
    if (!co_await send(f.event->json)) co_return false;
  co_return true;
}

asio::awaitable<bool> WsSession::heartbeat() {
  // Beast's keep-alive pings are the heartbeat (see open()); nothing to write here.
  co_return !closed() && !closing_;
}

asio::awaitable<void> WsSession::close_with(websocket::close_code code, std::string reason) {
  if (closing_ || closed()) co_return;
  closing_ = true;
  websocket::close_reason why{code, reason};
  boost::system::error_code ec;
  co_await ws_.async_close(why, redirect_error(use_awaitable, ec));
  close();
}

asio::awaitable<void> WsSession::explain_overflow() {
  std::string reason = "fell behind; resume with ?after=" + std::to_string(sent_seq());
  co_await close_with(websocket::close_code::try_again_later, std::move(reason));
}

asio::awaitable<void> WsSession::read_loop() {
  auto self = shared_from_this();
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  const auto n = co_await ws_.async_read(buffer, redirect_error(use_awaitable, ec));
  if (closed() || closing_) co_return;
  if (!ec) {
    spdlog::warn("api: WebSocket event stream of {} was sent a {}-byte message; closed (1003)",
                 request().actor, n);
    co_await close_with(websocket::close_code::unknown_data,
                        "this stream takes no messages; resume with ?after=SEQ");
    co_return;
  }
  if (ec != websocket::error::closed && ec != asio::error::operation_aborted &&
      ec != asio::error::eof && ec != asio::error::connection_reset)
    spdlog::warn("api: WebSocket event stream of {} closed: {}", request().actor, ec.message());
  close();
}

}  // namespace vitalsd::api::detail
