// Alert feeds: publishers that push committed journal events to clinic systems (docs/feeds.md).
//
// Every feed delivers at least once, in seq order, from its own cursor in `feed_cursors`: it
// reads the events after its cursor from the database (its own read-only connection), sends
// them, and advances the cursor through the journal only after the receiver acknowledged. A
// restart or a reconnect resumes exactly where it stopped.
//
//   auto feeds = feeds::make_feeds(io, config.feeds, config.daemon.site, journal, db_path);
//   for (auto& f : feeds) f->start();
//   journal.start([&](const auto& events) {            // writer thread
//     asio::post(io, [&, events] { for (auto& f : feeds) f->notify(events); });
//   });
//   ...
//   for (auto& f : feeds) f->stop();                   // before io stops
//
// Threading: each feed runs all its work on its own strand of `io`, so start/notify/stop may be
// called from any thread (they post), and the io_context may run on one or more threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/feed.hpp"
#include "net/asio.hpp"
#include "store/event.hpp"
#include "store/journal.hpp"

namespace vitalsd::feeds {

// What a feed reports about itself (thread-safe snapshot; for the API, logs and tests).
struct FeedStatus {
  std::string name;
  std::string type;  // hl7 | mqtt
  std::string endpoint;
  bool connected = false;          // hl7: TCP connected; mqtt: CONNACK accepted
  std::int64_t delivered = 0;      // the cursor: last seq the feed is done with
  std::uint64_t sent = 0;          // messages written (resends included)
  std::uint64_t acknowledged = 0;  // events acknowledged by the receiver
  std::uint64_t rejected = 0;      // events given up: AR, or the retry window over (feed.rejected)
  std::uint64_t reconnects = 0;    // connection attempts after the first
  std::size_t queued = 0;          // events read and not yet acknowledged
  bool undelivered = false;        // feed_undelivered raised and not yet cleared
  std::string last_error;          // empty while healthy
};

class Feed {
 public:
  virtual ~Feed() = default;
  virtual const std::string& name() const = 0;
  // Reads the cursor and connects. Never throws; problems are logged and retried.
  virtual void start() = 0;
  // Events just committed, in seq order. Called after the commit (persist before publish).
  virtual void notify(const std::vector<store::CommittedEventPtr>& events) = 0;
  // Events the journal cannot commit yet (storage failing), marked "persisted": false: sent
  // once, best effort, outside the cursor (no retry; each comes again with its seq once it is
  // committed). Fail loud through every path that still works.
  virtual void notify_uncommitted(const std::vector<store::Event>& events) = 0;
  // Closes the connection and cancels every timer; nothing is lost (the cursor stays where the
  // receiver's last acknowledgement put it). Idempotent.
  virtual void stop() = 0;
  virtual FeedStatus status() const = 0;
};

// Knobs that are not configuration: defaults suit production; tests shorten them.
struct Tuning {
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  std::size_t max_queue = 1000;         // events held in memory per feed; the rest stay in the DB
  std::size_t mqtt_window = 16;         // QoS 1 messages in flight before PUBACKs
  std::chrono::milliseconds tick{250};  // undelivered check, MQTT keepalive housekeeping
  // Called on the feed's strand when a message carrying event `seq` was handed to the socket
  // (hl7: the MLLP frame written; mqtt: the PUBLISH written). Latency measurements.
  std::function<void(const std::string& feed, std::int64_t seq)> on_sent;
};

// One feed per config entry (type hl7 or mqtt). An entry without a name is named after its type
// ("hl7", or "hl7-2" for the second one). Opens each feed's read-only database connection:
// throws store::StoreError when `database` cannot be opened (start-up only).
std::vector<std::unique_ptr<Feed>> make_feeds(asio::io_context& io,
                                              const std::vector<core::FeedConfig>& configs,
                                              const std::string& site, store::Journal& journal,
                                              const std::filesystem::path& database,
                                              Tuning tuning = {});

// The event types a feed sends when its config lists none.
std::vector<std::string> default_event_types(std::string_view feed_type);

}  // namespace vitalsd::feeds
