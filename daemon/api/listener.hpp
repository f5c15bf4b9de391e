// Accepts connections and hands each to an http_session. At a cap (max_connections, or
// max_connections_per_address for the client's address) the connection idle longest is
// closed to make room; the new one is refused only when none can be (docs/api.md).
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "api/state.hpp"
#include "api/stream.hpp"

namespace vitalsd::api::detail {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Throws std::runtime_error when [api] tls is on and its files cannot be used.
  explicit Listener(std::shared_ptr<State> state);
  // Throws std::runtime_error with a one-line reason.
  asio::ip::tcp::endpoint bind(const asio::ip::tcp::endpoint& endpoint);
  void run();
  void stop();

 private:
  void accept();
  void admit(asio::ip::tcp::socket socket);
  // Out of descriptors: closes the connection idle longest (else the oldest stream); false
  // when every connection is busy.
  bool evict_one();
  void report_evictions(std::size_t n);
  std::shared_ptr<State> state_;
  std::shared_ptr<TlsServer> tls_;  // HTTPS / WSS; null: plain HTTP
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer backoff_;  // after an accept error (e.g. out of descriptors)
  std::size_t unreported_ = 0;  // evictions not yet logged
  std::optional<std::chrono::steady_clock::time_point> reported_at_;
};

}  // namespace vitalsd::api::detail
