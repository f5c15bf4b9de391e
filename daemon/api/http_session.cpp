#include "api/http_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/http.hpp>

#include "api/handler.hpp"
#include "api/sse_session.hpp"
#include "api/ws_session.hpp"

namespace vitalsd::api::detail {

namespace beast = boost::beast;
using asio::redirect_error;
using asio::use_awaitable;

namespace {

// RFC 9112 §6.1, §6.3: what frames a request body must be unambiguous, or a proxy in front of
// us and we could split the connection into different requests. Only `Transfer-Encoding:
// chunked` (any case, surrounding whitespace) is accepted, given once and without
// Content-Length; anything else is refused before a body byte is read. Beast alone reads
// "xchunked" or "identity" plus Content-Length by the length, and "chunked, identity" as no
// body at all.
std::optional<std::string> framing_error(const http::request_parser<http::string_body>& parser) {
  const auto& head = parser.get();
  const auto [first, last] = head.equal_range(http::field::transfer_encoding);
  if (first == last) return std::nullopt;
  if (std::next(first) != last) return "Transfer-Encoding is given more than once";
  auto value = std::string_view(first->value().data(), first->value().size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (!beast::iequals(beast::string_view(value.data(), value.size()), "chunked"))
    return "the only Transfer-Encoding accepted is chunked";
  if (head.count(http::field::content_length) > 0)
    return "Transfer-Encoding and Content-Length together";
  return std::nullopt;
}

}  // namespace

HttpSession::HttpSession(std::shared_ptr<State> state, asio::ip::tcp::socket socket,
                         const asio::ip::address& address, std::shared_ptr<TlsServer> tls)
    : state_(std::move(state)),
      tls_(std::move(tls)),
      stream_(std::make_unique<Stream>(std::move(socket), tls_)),
      buffer_(Limits::kHeaderBytes + state_->settings.body_limit_bytes + 64 * 1024),
      address_(address),
      accepted_(std::chrono::steady_clock::now()) {
  state_->add(this, address_, net::Standing::idle);
}

HttpSession::~HttpSession() {
  state_->remove(this);
}

void HttpSession::run() {
  asio::co_spawn(
      state_->strand, [self = shared_from_this()]() { return self->loop(); }, asio::detached);
}

void HttpSession::close() {
  if (moved_) return;
  boost::system::error_code ec;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_->socket().close(ec);
}

asio::awaitable<void> HttpSession::refuse(unsigned status, std::string_view code,
                                          std::string_view detail) {
  auto r = error(status, code, detail);
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::connection, "close");
  if (stream_->tls()) res.set(http::field::strict_transport_security, kStrictTransportSecurity);
  res.body() = std::move(r.body);
  res.prepare_payload();
  boost::system::error_code ec;
  stream_->expires_after(state_->settings.idle_timeout);
  co_await http::async_write(*stream_, res, redirect_error(use_awaitable, ec));
}

// After refusing a request whose body we did not read: close our side for writing, then read
// and drop what the client still sends for a moment, so that it sees our answer rather than
// a reset.
asio::awaitable<void> HttpSession::linger() {
  boost::system::error_code ec;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  std::size_t dropped = 0;
  const auto until = std::chrono::steady_clock::now() + Limits::kLinger;
  std::array<char, 16 * 1024> sink;
  while (!ec && dropped < 16 * 1024 * 1024 && std::chrono::steady_clock::now() < until) {
    stream_->expires_at(until);
    dropped +=
        co_await stream_->async_read_some(asio::buffer(sink), redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<void> HttpSession::loop() {
  auto self = shared_from_this();
  const auto& cfg = state_->settings;
  // No temporaries with destructors inside co_await expressions (g++ 12 destroys them twice).
  const std::string too_large = "the body is larger than " + std::to_string(cfg.body_limit_bytes) +
                                " bytes ([api] body_limit_bytes)";
  // The first request's header is due header_timeout after the accept: a client that connects
  // and sends nothing (or drips) holds its slot no longer than that.
  auto header_due = accepted_ + cfg.header_timeout;
  bool first = true;
  if (stream_->tls()) {
    // HTTPS: the handshake first, within the same header timeout. A plain-text client, or one
    // that refuses our certificate, is closed (logged once per address and reason).
    boost::system::error_code ec;
    stream_->expires_at(header_due);
    co_await stream_->async_handshake(redirect_error(use_awaitable, ec));
    const std::string failure = ec ? ec.message() : std::string();
    tls_->result(address_, failure);
    if (ec) {
      stream_->socket().close(ec);
      co_return;
    }
  }
  try {
    while (!state_->stopped) {
      boost::system::error_code ec;
      if (!first) {
        state_->mark(this, net::Standing::idle);
        // Between requests: the idle timeout. A pipelined request already in the buffer skips it.
        if (buffer_.size() == 0) {
          stream_->expires_after(cfg.idle_timeout);
          const auto n = co_await stream_->async_read_some(buffer_.prepare(4096),
                                                           redirect_error(use_awaitable, ec));
          if (ec) break;
          buffer_.commit(n);
        }
        // From the first byte to the end of the header (and the body): the header timeout.
        header_due = std::chrono::steady_clock::now() + cfg.header_timeout;
      }
      first = false;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(Limits::kHeaderBytes));
      parser.body_limit(cfg.body_limit_bytes);
      stream_->expires_at(header_due);
      co_await http::async_read_header(*stream_, buffer_, parser,
                                       redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        co_await refuse(413, "payload_too_large", too_large);
        co_await linger();
        break;
      }
      if (ec == http::error::header_limit) {
        co_await refuse(431, "header_too_large", "the request header is larger than 8 KiB");
        break;
      }
      if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
          ec == asio::error::eof || ec == asio::error::operation_aborted ||
          ec == asio::error::connection_reset)
        break;
      if (ec) {
        co_await refuse(400, "bad_request", "malformed HTTP request");
        break;
      }
      if (!state_->connections.contains(this)) break;  // evicted while its request arrived
      if (auto bad = framing_error(parser)) {
        // Named, not a temporary (see too_large above).
        const std::string detail = *bad + " (RFC 9112); the connection is closed";
        co_await refuse(400, "bad_request", detail);
        co_await linger();
        break;
      }
      auto& head = parser.get();
      const auto cl = parser.content_length();
      if (cl && *cl > cfg.body_limit_bytes) {
        co_await refuse(413, "payload_too_large", too_large);
        co_await linger();
        break;
      }
      if (!parser.is_done()) {
        if (beast::iequals(head[http::field::expect], "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, 11};
          co_await http::async_write(*stream_, cont, redirect_error(use_awaitable, ec));
          if (ec) break;
        }
        co_await http::async_read(*stream_, buffer_, parser, redirect_error(use_awaitable, ec));
        if (ec == http::error::body_limit) {
          co_await refuse(413, "payload_too_large", too_large);
          co_await linger();
          break;
        }
        if (ec == beast::error::timeout || ec == asio::error::eof ||
            ec == http::error::partial_message || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset)
          break;
        if (ec) {
          co_await refuse(400, "bad_request", "malformed HTTP request body");
          break;
        }
      }
      stream_->expires_never();
      state_->mark(this, net::Standing::busy);
      Request req = parser.release();
      const bool keep_alive = req.keep_alive();
      const bool head_only = req.method() == http::verb::head;
      auto out = co_await handle(state_, req, address_);
      if (state_->stopped) break;
      if (out.stream) {
        moved_ = true;
        if (out.stream->websocket)
          std::make_shared<WsSession>(state_, std::move(stream_), std::move(req),
                                      std::move(*out.stream))
              ->run();
        else
          std::make_shared<SseSession>(state_, std::move(stream_), std::move(*out.stream))->run();
        co_return;
      }
      http::response<http::string_body> res{static_cast<http::status>(out.response.status),
                                            req.version()};
      res.set(http::field::server, "vitalsd");
      res.set(http::field::content_type, out.response.content_type);
      res.set(http::field::cache_control, "no-store");
      if (stream_->tls()) res.set(http::field::strict_transport_security, kStrictTransportSecurity);
      for (const auto& [name, value] : out.response.headers) res.set(name, value);
      if (out.response.challenge) res.set(http::field::www_authenticate, "Bearer");
      if (!out.response.allow.empty()) res.set(http::field::allow, out.response.allow);
      if (!out.response.upgrade.empty()) res.set(http::field::upgrade, out.response.upgrade);
      res.keep_alive(keep_alive);
      res.body() = std::move(out.response.body);
      res.prepare_payload();
      if (head_only) res.body().clear();
      stream_->expires_after(cfg.idle_timeout);
      if (head_only) {
        http::response_serializer<http::string_body> sr{res};
        co_await http::async_write_header(*stream_, sr, redirect_error(use_awaitable, ec));
      } else {
        co_await http::async_write(*stream_, res, redirect_error(use_awaitable, ec));
      }
      if (ec || !keep_alive) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("api: connection failed: {}", e.what());
  }
  boost::system::error_code ignored;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_->socket().close(ignored);
}

}  // namespace vitalsd::api::detail
