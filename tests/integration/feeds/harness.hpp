// Feed tests: a real journal on a temp state_dir whose commits reach the feeds through an
// io_context thread (as in vitalsd's main), a real MLLP receiver on 127.0.0.1 and a real MQTT
// subscriber.
#pragma once

#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "feeds/feed.hpp"
#include "hl7/message.hpp"
#include "hl7/mllp.hpp"
#include "hl7/msh.hpp"
#include "net/asio.hpp"
#include "store/journal.hpp"
#include "store/sqlite.hpp"
#include "support/mllp_receiver.hpp"
#include "support/mqtt_subscriber.hpp"
#include "support/run_on.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::test {

template <class Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds timeout = std::chrono::seconds{15}) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return pred();
}

inline core::Timestamp now_ms() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

// An alert transition event as the alarm engine's records produce it (store/records.cpp).
inline store::Event alert_event(const std::string& transition, std::int64_t alert_id,
                                const std::string& state, double value,
                                const std::string& priority = "high") {
  nlohmann::json a{{"id", alert_id},          {"session", 1},
                   {"monitor", "chair-1"},    {"rule", "nibp_sys_high"},
                   {"kind", "physiological"}, {"parameter", "nibp_sys"},
                   {"mdc_code", 150021},      {"value", value},
                   {"unit", "mm[Hg]"},        {"limit", 160},
                   {"priority", priority},    {"state", state},
                   {"escalated", false}};
  return store::Event{
      "alert." + transition, now_ms(), "chair-1", 1,
      nlohmann::json{{"alert", a}, {"priority", priority}, {"rule", "nibp_sys_high"}}};
}

class FeedHarness {
  // The harness writes alert events without the session rows they would come with: the
  // background integrity check would report that, so it is off here (tests/unit/store has it).
  static store::Journal::Options options(const std::filesystem::path& state) {
    store::Journal::Options o{state};
    o.integrity_interval = std::chrono::milliseconds{0};
    return o;
  }

 public:
  FeedHarness() : journal_(options(dir_.path() / "state")) {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    journal_.start([this](const std::vector<store::CommittedEventPtr>& events) {
      {
        const auto t = std::chrono::steady_clock::now();
        std::lock_guard lock(times_mutex_);
        for (const auto& e : events) committed_at_[e->seq] = t;
      }
      asio::post(io_, [this, events] {
        for (auto& f : feeds_) f->notify(events);
      });
    });
    // A monitor and a session, so ORU^R40 has a patient (PID) and a location (PV1).
    journal_.write(
        [](store::Db& db) -> std::optional<std::string> {
          return db.exec(
              "INSERT INTO monitors (id, driver, location, configured_at) VALUES "
              "('chair-1', 'simulator', 'Infusion room 2', '2026-01-01T00:00:00.000Z');"
              "INSERT INTO sessions (id, monitor, patient, protocol, phase, phase_since, "
              "started_at, started_by) VALUES (1, 'chair-1', 'P-200', 'ketamine-iv', 'infusing', "
              "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'nurse-1')");
        },
        store::Durability::urgent);
    sync();
  }
  ~FeedHarness() {
    on_io([this] {
      for (auto& f : feeds_) f->stop();
      feeds_.clear();
    });
    journal_.stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  store::Journal& journal() { return journal_; }
  asio::io_context& io() { return io_; }
  std::filesystem::path database() const { return dir_.path() / "state" / "vitals.db"; }

  // Runs fn on the io thread and waits for it.
  void on_io(const std::function<void()>& fn) { run_on(io_, fn); }
  // Waits until everything recorded so far is committed.
  void sync() {
    std::promise<void> done;
    journal_.when_committed([&] { done.set_value(); });
    done.get_future().wait();
  }

  feeds::Feed& add(core::FeedConfig cfg, feeds::Tuning tuning = fast()) {
    feeds::Feed* out = nullptr;
    on_io([&] {
      auto made = feeds::make_feeds(io_, {cfg}, "site-a", journal_, database(), tuning);
      out = made.at(0).get();
      feeds_.push_back(std::move(made.at(0)));
      out->start();
    });
    return *out;
  }
  // Stops and destroys every feed (a daemon restart, as far as the feeds can tell).
  void remove_all() {
    on_io([this] {
      for (auto& f : feeds_) f->stop();
      feeds_.clear();
    });
    sync();
  }

  // Records e and returns its own seq. Not the journal's last seq after the commit: a feed may
  // have recorded events of its own (feed.rejected, feed.undelivered) in between, more often on
  // a busy machine. The seq is read in e's own transaction, just before e is inserted (the
  // harness records no observations, so no observations event comes between).
  std::int64_t record(store::Event e) {
    auto seq = std::make_shared<std::int64_t>(0);
    journal_.record(std::move(e), store::Durability::urgent,
                    [seq](store::Db& db) -> std::optional<std::string> {
                      *seq = db.scalar_int("SELECT coalesce(max(seq), 0) + 1 FROM events");
                      return std::nullopt;
                    });
    sync();
    return *seq;
  }

  // Per-path latency: event committed (on_commit, writer thread) -> message handed to the
  // socket (Tuning::on_sent). Install with tuning.on_sent = h.latency_hook().
  std::function<void(const std::string&, std::int64_t)> latency_hook() {
    return [this](const std::string&, std::int64_t seq) {
      const auto t = std::chrono::steady_clock::now();
      std::lock_guard lock(times_mutex_);
      if (auto it = committed_at_.find(seq); it != committed_at_.end() && !sent_at_.count(seq))
        sent_at_[seq] = t - it->second;
    };
  }
  // {p50, p99} in microseconds of the latencies seen so far.
  std::pair<double, double> latency_percentiles() {
    std::vector<double> us;
    {
      std::lock_guard lock(times_mutex_);
      for (const auto& [seq, d] : sent_at_)
        us.push_back(std::chrono::duration<double, std::micro>(d).count());
    }
    if (us.empty()) return {0, 0};
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
      return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
    };
    return {at(0.5), at(0.99)};
  }

  static feeds::Tuning fast() {
    feeds::Tuning t;
    t.backoff_initial = std::chrono::milliseconds{50};
    t.backoff_max = std::chrono::milliseconds{200};
    t.tick = std::chrono::milliseconds{50};
    return t;
  }

  // Rows of the events table of one type (read-only connection of the test).
  std::vector<nlohmann::json> events_of(const std::string& type) {
    store::Db db(database(), store::Db::Mode::read_only);
    store::Stmt s(db, "SELECT seq, payload FROM events WHERE type = ? ORDER BY seq");
    s.bind(1, type);
    std::vector<nlohmann::json> out;
    while (s.step()) {
      auto j = nlohmann::json::parse(s.text(1));
      j["seq"] = s.int64(0);
      out.push_back(j);
    }
    return out;
  }
  std::int64_t cursor(const std::string& feed) {
    store::Db db(database(), store::Db::Mode::read_only);
    store::Stmt s(db, "SELECT delivered FROM feed_cursors WHERE feed = ?");
    s.bind(1, feed);
    return s.step() ? s.int64(0) : -1;
  }

 private:
  TempDir dir_;
  store::Journal journal_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<feeds::Feed>> feeds_;  // io thread only
  std::mutex times_mutex_;
  std::map<std::int64_t, std::chrono::steady_clock::time_point> committed_at_;
  std::map<std::int64_t, std::chrono::steady_clock::duration> sent_at_;
};

}  // namespace vitalsd::test
