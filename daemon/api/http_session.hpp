// One client connection: reads requests one at a time (pipelined requests wait in the buffer),
// bounded by the header timeout (the first request's header must be complete that long after
// the connection was accepted, each later one that long after its first byte), the idle
// timeout between requests, an 8 KiB header and the body limit. A body framed ambiguously (a
// Transfer-Encoding other than chunked, or one with Content-Length) is 400 and the connection
// closed before the body is read. Over TLS every answer carries Strict-Transport-Security. It
// is `idle` for the connection caps until a request is read to its end, `busy` while it is
// answered.
#pragma once

#include <boost/beast/core.hpp>
#include <memory>

#include "api/state.hpp"
#include "api/stream.hpp"

namespace vitalsd::api::detail {

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  // `tls` set: HTTPS (the TLS handshake comes first, within the header timeout).
  HttpSession(std::shared_ptr<State> state, asio::ip::tcp::socket socket,
              const asio::ip::address& address, std::shared_ptr<TlsServer> tls = nullptr);
  ~HttpSession() override;
  void run();
  void close() override;

 private:
  asio::awaitable<void> loop();
  asio::awaitable<void> refuse(unsigned status, std::string_view code, std::string_view detail);
  asio::awaitable<void> linger();

  std::shared_ptr<State> state_;
  std::shared_ptr<TlsServer> tls_;
  std::unique_ptr<Stream> stream_;
  boost::beast::flat_buffer buffer_;
  asio::ip::address address_;
  std::chrono::steady_clock::time_point accepted_;
  bool moved_ = false;  // the socket went to an SSE session
};

}  // namespace vitalsd::api::detail
