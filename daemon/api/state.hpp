// What every connection of one api::Server shares (the chat-multi example's shared_state):
// settings, the Actions, token table, the read-only database connection, the live
// connections and the SSE subscribers. Touched only on the server's strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <unordered_set>
#include <vector>

#include "api/actions.hpp"
#include "api/auth.hpp"
#include "api/failure_throttle.hpp"
#include "api/web_session.hpp"
#include "net/asio.hpp"
#include "net/connection_table.hpp"
#include "settings/settings.hpp"
#include "store/event.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::api::detail {

using Strand = asio::strand<asio::io_context::executor_type>;

// A live connection the server can close on stop(), count against the caps and evict.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
};

// One event, serialised once as an SSE frame, shared by every subscriber.
struct Frame {
  store::CommittedEventPtr event;
  std::shared_ptr<const std::string> text;  // "id: N\ndata: {...}\n\n"
};

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void deliver(const std::vector<Frame>& frames) = 0;
  // After a reload of the token table: a subscriber whose token was removed or given another
  // secret ends (as its bearer token or browser session would be refused now).
  virtual void tokens_changed(const Auth& auth) = 0;
};

// The client's address of an accepted socket (unspecified when the peer is already gone).
inline asio::ip::address peer_address(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? asio::ip::address{} : ep.address();
}

struct Limits {
  static constexpr std::size_t kHeaderBytes = 8192;
  static constexpr std::size_t kTargetBytes = 2048;
  static constexpr std::size_t kSseQueue = 4096;  // frames waiting for one subscriber
  static constexpr std::chrono::seconds kSseHeartbeat{15};
  static constexpr std::chrono::seconds kLinger{1};  // reading what a refused client still sends
};

struct State {
  State(asio::io_context& io, const settings::ApiSettings& s, Actions& a,
        std::filesystem::path db_path)
      : strand(asio::make_strand(io)),
        settings(s),
        actions(a),
        auth(s.tokens),
        throttle(s.failure_delay_after, s.failure_delay_max),
        web(db_path.parent_path(), s.web_session_hours),
        database(std::move(db_path)) {}

  Strand strand;
  settings::ApiSettings settings;
  Actions& actions;
  Auth auth;
  FailureThrottle throttle;  // repeated 401s from one address are answered later
  WebSessions web;           // browser sign-in: session cookies and their CSRF tokens
  std::filesystem::path database;
  std::unique_ptr<store::Db> db;  // read-only, opened by start()
  bool stopped = false;

  // Every open connection, with its client's address and standing: idle (waiting for a
  // complete request), serving (an event stream) or busy (a request being answered).
  net::ConnectionTable<Connection> connections;
  std::unordered_set<Subscriber*> subscribers;

  // Counters for tests and logs: written on the strand, read from anywhere (Server::stats()).
  std::atomic<std::uint64_t> requests = 0;
  std::atomic<std::uint64_t> unauthorized = 0;          // 401
  std::atomic<std::uint64_t> forbidden = 0;             // 403
  std::atomic<std::uint64_t> delayed_unauthorized = 0;  // 401s answered late (FailureThrottle)
  std::atomic<std::uint64_t> refused_connections = 0;   // caps reached, nothing to evict
  std::atomic<std::uint64_t> evicted_connections = 0;   // closed to make room (longest idle)
  std::atomic<std::uint64_t> stream_overflows = 0;      // subscribers cut off for falling behind
  std::atomic<std::size_t> open_connections = 0;        // connections.size()
  std::atomic<std::size_t> open_subscribers = 0;        // subscribers.size()
  std::atomic<std::size_t> live_subscribers = 0;        // past their catch-up

  net::ConnectionCaps caps() const {
    return {settings.max_connections, settings.max_connections_per_address};
  }
  void add(Connection* c, const asio::ip::address& address, net::Standing standing) {
    connections.add(c, address);
    connections.mark(c, standing);
    open_connections = connections.size();
  }
  void remove(Connection* c) {
    connections.remove(c);
    open_connections = connections.size();
  }
  void mark(Connection* c, net::Standing standing) { connections.mark(c, standing); }
  void add(Subscriber* s) {
    subscribers.insert(s);
    open_subscribers = subscribers.size();
  }
  void remove(Subscriber* s) {
    subscribers.erase(s);
    open_subscribers = subscribers.size();
  }
};

}  // namespace vitalsd::api::detail
