// One client connection: reads requests one at a time (pipelined requests wait in the buffer),
// bounded by the header timeout, the idle timeout, an 8 KiB header and the body limit.
#pragma once

#include <boost/beast/core.hpp>
#include <memory>

#include "api/state.hpp"

namespace vitalsd::api::detail {

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<State> state, asio::ip::tcp::socket socket);
  ~HttpSession() override;
  void run();
  void close() override;

 private:
  asio::awaitable<void> loop();
  asio::awaitable<void> refuse(unsigned status, std::string_view code, std::string_view detail);
  asio::awaitable<void> linger();

  std::shared_ptr<State> state_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool moved_ = false;  // the socket went to an SSE session
};

}  // namespace vitalsd::api::detail
