// The HTTP API (docs/api.md): Boost.Beast on the daemon's io_context, bearer tokens with
// roles, JSON in and out, reads through its own read-only SQLite connection, nurse actions
// through api::Actions, and the live event stream (SSE).
//
// Threading: construct, start(), stop() and publish() on the io_context's thread (or before
// it runs / after it stopped). All connection work runs on one strand of that io_context.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "api/actions.hpp"
#include "net/asio.hpp"
#include "settings/settings.hpp"
#include "store/event.hpp"

namespace vitalsd::api {

namespace detail {
struct Frame;
struct State;
class Listener;
}  // namespace detail

struct ServerStats {
  std::uint64_t requests = 0;
  std::uint64_t unauthorized = 0;          // 401 answers
  std::uint64_t forbidden = 0;             // 403 answers
  std::uint64_t delayed_unauthorized = 0;  // 401s held back (repeated failures, one address)
  std::uint64_t refused_connections = 0;   // at a cap with every connection busy
  std::uint64_t evicted_connections = 0;   // closed to make room for a new one (idle longest)
  std::size_t connections = 0;
  std::size_t subscribers = 0;       // event streams (SSE and WebSocket)
  std::size_t live_subscribers = 0;  // of which past their catch-up
  std::uint64_t stream_overflows = 0;
};

class Server {
 public:
  // Throws std::runtime_error on a bad token table (start-up).
  Server(asio::io_context& io, const settings::ApiSettings& settings, Actions& actions,
         std::filesystem::path database);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the read-only database connection and binds the listener. Throws
  // std::runtime_error with a one-line reason when it cannot (start-up).
  void start();
  // Closes the listener and every connection. Idempotent.
  void stop();
  // The bound address (port 0 in the settings picks an ephemeral port).
  asio::ip::tcp::endpoint local_endpoint() const;

  // Committed events, in seq order, for the live stream. Serialised once here; cheap.
  void publish(const std::vector<store::CommittedEventPtr>& events);

  // Events that could not be committed yet (storage is failing), for the live stream: sent at
  // once with "seq": null and "persisted": false and no SSE id, so a client's resume point does
  // not move. Each is sent again with its seq once it is committed.
  void publish_uncommitted(const std::vector<store::Event>& events);

  // Reload: the new token table (checked first: on a bad one this throws std::runtime_error
  // and the old table stays). Requests already authenticated finish as they were; event streams
  // of a token removed or given a new secret are closed, and its browser sessions end.
  void set_tokens(const std::vector<settings::Token>& tokens);

  // Read on the strand; approximate from other threads.
  ServerStats stats() const;

 private:
  // Hands frames to every subscriber, on the strand.
  void deliver(std::vector<detail::Frame> frames);

  std::shared_ptr<detail::State> state_;
  std::shared_ptr<detail::Listener> listener_;
  asio::ip::tcp::endpoint endpoint_;
};

}  // namespace vitalsd::api
