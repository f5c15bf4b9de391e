// Internal: what the HL7 and MQTT feeds share — the strand, the outbox, backoff with jitter, the
// periodic tick, logging once per state change, and the status snapshot.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
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

class FeedBase {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;
  FeedBase(asio::io_context& io, core::FeedConfig cfg, std::string site, store::Journal& journal,
           const std::filesystem::path& database, Tuning tuning, TypeFilter filter);
  virtual ~FeedBase() = default;

  FeedStatus status() const {
    std::lock_guard lock(status_mutex_);
    return status_;
  }

 protected:
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
  bool connected_ = false;
  std::string last_problem_;

 private:
  mutable std::mutex status_mutex_;
  FeedStatus status_;
};

}  // namespace vitalsd::feeds::detail
