// The API's transport (docs/tls.md): Beast's tcp_stream (with its timeouts) and, when [api] tls
// is on, TLS over it (HTTPS, and WSS / SSE over HTTPS). One type for the HTTP, SSE and WebSocket
// sessions, so request handling is the same either way. Not movable (the TLS layer refers to
// the TCP stream): a session hands it on as a unique_ptr.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <map>
#include <memory>
#include <string>

#include "net/asio.hpp"
#include "net/tls.hpp"

#include <spdlog/spdlog.h>

namespace vitalsd::api::detail {

// Strict-Transport-Security on every answer over TLS (docs/tls.md): browsers use only HTTPS for
// this host for a year after. No includeSubDomains: the daemon speaks for its own host only.
inline constexpr const char* kStrictTransportSecurity = "max-age=31536000";

// The listener's TLS: the context, and failed handshakes logged once per client address and
// reason (a client retrying every second logs one line). Touched on the server's strand.
struct TlsServer {
  std::shared_ptr<net::ssl::context> context;
  net::HandshakeFailures failed;
  void result(const asio::ip::address& peer, const std::string& error);
};

class Stream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  Stream(asio::ip::tcp::socket socket, const std::shared_ptr<TlsServer>& tls)
      : tcp_(std::move(socket)) {
    if (tls)
      tls_ = std::make_unique<net::ssl::stream<boost::beast::tcp_stream&>>(tcp_, *tls->context);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  asio::ip::tcp::socket& socket() { return tcp_.socket(); }
  bool tls() const { return tls_ != nullptr; }
  template <class Duration>
  void expires_after(Duration d) {
    tcp_.expires_after(d);
  }
  void expires_at(std::chrono::steady_clock::time_point t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }

  // The server side of the TLS handshake; at once without TLS.
  template <class Token>
  auto async_handshake(Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          if (tls_)
            tls_->async_handshake(net::ssl::stream_base::server, std::move(handler));
          else
            asio::post(tcp_.get_executor(), [h = std::move(handler)]() mutable {
              std::move(h)(boost::system::error_code{});
            });
        },
        token);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_)
            tls_->async_read_some(b, std::move(handler));
          else
            tcp_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_)
            tls_->async_write_some(b, std::move(handler));
          else
            tcp_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

 private:
  boost::beast::tcp_stream tcp_;
  std::unique_ptr<net::ssl::stream<boost::beast::tcp_stream&>> tls_;
};

// WebSocket close over a Stream (Beast finds these by argument-dependent lookup): the TCP
// connection is shut down; a TLS close_notify is not waited for.
inline void teardown(boost::beast::role_type, Stream& stream, boost::system::error_code& ec) {
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream.socket().close(ec);
}

template <class Handler>
void async_teardown(boost::beast::role_type role, Stream& stream, Handler&& handler) {
  boost::system::error_code ec;
  teardown(role, stream, ec);
  asio::post(stream.get_executor(),
             [h = std::forward<Handler>(handler), ec]() mutable { std::move(h)(ec); });
}

// Beast closes the lowest layer on a WebSocket timeout (found by argument-dependent lookup).
inline void beast_close_socket(Stream& stream) {
  boost::system::error_code ec;
  stream.socket().close(ec);
}

inline void TlsServer::result(const asio::ip::address& peer, const std::string& error) {
  const auto who = peer.to_string();
  if (!failed.changed(who, error) || error.empty()) return;
  spdlog::warn(
      "api: TLS handshake from {} failed: {} (closed; logged again only when this "
      "changes)",
      who, error);
}

}  // namespace vitalsd::api::detail
