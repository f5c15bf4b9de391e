// Accepts connections and hands each to an http_session; refuses beyond max_connections.
#pragma once

#include <memory>

#include "api/state.hpp"

namespace vitalsd::api::detail {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  explicit Listener(std::shared_ptr<State> state);
  // Throws std::runtime_error with a one-line reason.
  asio::ip::tcp::endpoint bind(const asio::ip::tcp::endpoint& endpoint);
  void run();
  void stop();

 private:
  void accept();
  std::shared_ptr<State> state_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer backoff_;  // after an accept error (e.g. out of descriptors)
};

}  // namespace vitalsd::api::detail
