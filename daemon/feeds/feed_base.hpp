// Internal: what the HL7 and MQTT feeds share — the strand, the outbox, backoff with jitter, the
// life cycle around the outbox (start: load the cursor and connect; notify: offer and send;
// the periodic tick: retry the load, the undelivered check, send; stop), logging once per state
// change, and the status snapshot. A transport (hl7_feed.cpp, mqtt_feed.cpp) says how to
// connect, how to send what the outbox holds, what its tick adds, and how to shut.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "core/feed.hpp"
#include "feeds/feed.hpp"
#include "feeds/outbox.hpp"
#include "net/asio.hpp"

namespace vitalsd::feeds::detail {

// Exponential backoff with jitter: the n-th delay is uniform in [base/2, base], base doubling
// from `initial` up to `max`.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), base_(initial), rng_(std::random_device{}()) {}
  std::chrono::milliseconds next() {
    const auto base = base_;
    base_ = std::min(max_, base_ * 2);
    std::uniform_int_distribution<long long> d(base.count() / 2, base.count());
    return std::chrono::milliseconds{d(rng_)};
  }
  void reset() { base_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, base_;
  std::mt19937_64 rng_;
};

// The config's event_types, or the feed type's defaults (feed.cpp).
TypeFilter make_filter(const core::FeedConfig& cfg);

// "host:port" or "[v6]:port".
bool split_endpoint(const std::string& endpoint, std::string& host, std::string& port);

class FeedBase : public std::enable_shared_from_this<FeedBase> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  FeedBase(asio::io_context& io, core::FeedConfig cfg, std::string site, store::Journal& journal,
           const std::filesystem::path& database, Tuning tuning, TypeFilter filter);
  virtual ~FeedBase() = default;
  FeedBase(const FeedBase&) = delete;
  FeedBase& operator=(const FeedBase&) = delete;

  // Callable from any thread: each runs on the strand.
  void start();
  void notify(const std::vector<store::CommittedEventPtr>& events);
  // Events not committed yet (storage failing): queued apart from the outbox (bounded, the
  // oldest dropped) and sent by the transport before the outbox, once, without retry.
  void notify_uncommitted(const std::vector<store::Event>& events);
  void stop();
  // Only when no thread runs the io_context.
  void stop_now() { do_stop(); }
  const std::string& name() const { return cfg_.name; }

  FeedStatus status() const {
    std::lock_guard lock(status_mutex_);
    return status_;
  }

 protected:
  // The transport's part, each on the strand.
  virtual void connect() = 0;
  // Sends what the outbox holds, as far as the connection and the transport's window allow.
  virtual void send_more() = 0;
  // After the undelivered check of each tick (MQTT: keepalive housekeeping).
  virtual void tick() {}
  // stop(): cancel the transport's timers and close its connection.
  virtual void shut() = 0;
  // The reason feed_undelivered gives when the feed saw no error ("no ACK from the receiver").
  [[nodiscard]] virtual std::string waiting_for() const = 0;

  template <class T>
  std::shared_ptr<T> self() {
    return std::static_pointer_cast<T>(shared_from_this());
  }

  // Logs a problem once per change of its text; `healthy()` logs the recovery once.
  void problem(const std::string& what);
  void healthy(const std::string& what);
  // Publishes the fields only the strand knows into the status snapshot.
  void update_status();
  template <class F>
  void with_status(F&& f) {
    std::lock_guard lock(status_mutex_);
    f(status_);
  }

  asio::io_context& io_;
  Strand strand_;
  core::FeedConfig cfg_;
  std::string site_;
  Tuning tuning_;
  Outbox outbox_;
  Backoff backoff_;
  std::string host_, port_;
  bool stopped_ = false;
  bool started_ = false;
  bool loaded_ = false;  // the outbox read its cursor (retried every tick until it does)
  bool connected_ = false;
  std::string last_problem_;
  static constexpr std::size_t kMaxUncommitted = 64;
  std::deque<store::CommittedEventPtr> uncommitted_;  // seq 0, strand only

 private:
  void do_start();
  void do_notify(const std::vector<store::CommittedEventPtr>& events);
  void do_stop();
  void load();
  void schedule_tick();
  void on_tick();

  asio::steady_timer tick_timer_;
  mutable std::mutex status_mutex_;
  FeedStatus status_;
};

// The Feed a factory returns for a transport (stops it when destroyed).
std::unique_ptr<Feed> handle(std::shared_ptr<FeedBase> impl, asio::io_context& io);

}  // namespace vitalsd::feeds::detail
