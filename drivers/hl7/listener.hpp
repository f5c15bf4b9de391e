// The PCD-01 / PCD-04 MLLP listener shared by every `driver = "hl7"` monitor of a daemon.
//
// It accepts many clients on the io_context (no thread per client; every handler runs on one
// strand), decodes MLLP frames, parses each message with vitalsd::hl7, routes it to the monitor
// whose source matches (drivers/hl7/convert.hpp), buffers the observations (and ORU^R40 alarms)
// per monitor and wakes that monitor's driver, and answers every message with an ACK (AA / AE /
// AR). A message whose observations or alarms are taken is answered AA only once the taker
// settles their receipt as committed (persist before acknowledge); many messages may wait for
// their commit at once (pipelining), and each client's ACKs go out in the order its messages
// came. Each client is bounded on its own: message size, bytes of garbage, unread ACKs, idle
// time; a bad client is answered or closed and never delays the others. Idle clients never lock
// a sender out: at max_clients (or max_clients_per_address for the new client's address) the
// client idle longest is closed to make room. Rules: docs/hl7-monitors.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/observation.hpp"
#include "core/tls.hpp"
#include "drivers/driver.hpp"
#include "net/asio.hpp"

namespace vitalsd::drivers::hl7 {

struct ListenerOptions {
  std::string listen = "127.0.0.1:2575";  // host:port; port 0 picks a free one (tests)
  std::size_t max_message_bytes = 1 << 20;
  std::map<std::string, std::string> codes;  // vendor OBX-3 code -> parameter name
  std::size_t max_clients = 256;
  std::size_t max_clients_per_address = 64;  // a gateway or central station sends for many
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{2}};
  std::size_t max_garbage_bytes = 4096;  // non-MLLP bytes in a row before a client is closed
  std::size_t max_unsent_ack_bytes = 256 * 1024;  // reading pauses above this
  std::size_t max_buffered_observations = 4096;   // per monitor, between two polls
  std::size_t max_pending_acks = 1024;            // per client: messages waiting for their commit
  // tls.enabled: MLLP over TLS only (TLS 1.2 minimum); a sender that fails the handshake is
  // logged once per address and reason, and closed; it never delays the others.
  core::TlsConfig tls;
};

struct ListenerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  // at a cap with no client to evict (never, today: all evictable)
  std::uint64_t evicted = 0;  // the longest-idle client closed to make room for a new one
  std::uint64_t closed_idle = 0;
  std::uint64_t closed_garbage = 0;
  std::uint64_t frames = 0;
  std::uint64_t aa = 0, ae = 0, ar = 0;
  std::uint64_t oversize = 0;
  std::uint64_t truncated = 0;
  std::uint64_t garbage_bytes = 0;
  std::uint64_t observations = 0;          // buffered for a monitor
  std::uint64_t alarms = 0;                // the monitors' own alarms (ORU^R40) buffered
  std::uint64_t dropped_observations = 0;  // buffer full: the oldest were dropped (AE)
  std::uint64_t not_stored = 0;            // messages answered AE because they were not stored
  std::size_t clients = 0;                 // connected now
  std::uint64_t tls_failures = 0;          // TLS handshakes that failed (plain text, bad cert)
  // Text that is not UTF-8 (core/text.hpp): messages that held some, and the replacements
  // (U+FFFD) made in them before anything else read them.
  std::uint64_t invalid_utf8_messages = 0;
  std::uint64_t invalid_utf8_replaced = 0;
};

// What arrived for one source since the last take().
struct Delivery {
  std::vector<core::Observation> observations;
  std::optional<std::chrono::steady_clock::time_point> last_message;  // ever, for this source
  std::size_t messages = 0;  // messages routed to the source since the last take()
  std::string problem;       // the last AE text for this source since the last take()
  std::size_t dropped = 0;   // observations dropped since the last take() (buffer full)
  // One per message taken: settle with true once its observations are committed, false when
  // they will not be; the sender is answered AA or AE then. Thread-safe, exactly once each.
  std::vector<std::function<void(bool committed)>> receipts;
  // Codes with values that map to no parameter, new since the last take(); each code is
  // reported once per source for the life of the listener.
  std::vector<UnmappedCode> unmapped;
  // The monitor's own alarms (ORU^R40), in the order they came; their messages' receipts are
  // in `receipts`.
  std::vector<MonitorAlarm> alarms;
};

class Listener {
 public:
  // Binds and starts accepting. Throws std::runtime_error with a one-line reason.
  Listener(asio::io_context& io, ListenerOptions options);
  ~Listener();  // closes the acceptor and every client
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  asio::ip::tcp::endpoint local_endpoint() const;
  const ListenerOptions& options() const;

  // A monitor's source. Throws std::runtime_error when another monitor has it.
  void add_source(const std::string& source, const std::string& monitor_id);
  void remove_source(const std::string& source);
  // Called (posted to the io_context) when a message for `source` has been buffered.
  void set_ready(const std::string& source, std::function<void()> ready);
  Delivery take(const std::string& source);

  ListenerStats stats() const;

  struct Server;

 private:
  std::shared_ptr<Server> server_;
};

}  // namespace vitalsd::drivers::hl7
