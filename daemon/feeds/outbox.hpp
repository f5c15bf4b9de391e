// What every feed shares: the event-type filter, the delivery cursor, the queue of events not yet
// acknowledged (fed by notify, refilled from the database), and the feed_undelivered alarm.
// Not thread-safe: a feed uses it from its strand only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/event.hpp"
#include "store/journal.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::feeds {

// Which event types a feed sends: glob patterns ("alert.*", "*", "session.started"), minus
// exclusions. Same semantics in C++ (fnmatch) and SQL (GLOB).
class TypeFilter {
 public:
  TypeFilter() = default;
  TypeFilter(std::vector<std::string> include, std::vector<std::string> exclude = {})
      : include_(std::move(include)), exclude_(std::move(exclude)) {}
  bool matches(const std::string& type) const;
  // "(type GLOB ? OR ...) AND type NOT GLOB ? ..." with the patterns to bind, in order.
  std::string sql() const;
  std::vector<std::string> params() const;
  const std::vector<std::string>& include() const { return include_; }
  const std::vector<std::string>& exclude() const { return exclude_; }

 private:
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
};

class Outbox {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string feed;
    std::string type;
    std::string endpoint;
    TypeFilter filter;
    std::size_t max_queue = 1000;
    std::chrono::milliseconds undelivered_after{60'000};
  };

  // Opens the read-only connection; throws store::StoreError.
  Outbox(store::Journal& journal, const std::filesystem::path& database, Options options);

  // Reads the cursor (a feed seen for the first time starts at the end of the journal and
  // records that at once), whether the feed's last outage (feed.undelivered) is still open, and
  // fills the queue. Returns an error message instead of throwing.
  std::optional<std::string> load();
  // Events just committed: queued when they follow what was read, else read later from the DB.
  void offer(const std::vector<store::CommittedEventPtr>& events);
  // Reads from the database while the queue has room and the database has more.
  std::optional<std::string> refill();

  // Events read and not yet done with, oldest first.
  const std::deque<store::CommittedEventPtr>& queue() const { return queue_; }
  bool empty() const { return queue_.empty(); }
  // The receiver acknowledged every queued event up to and including `seq`.
  void delivered(std::int64_t seq);
  // The front event is given up (AR, or its retry window over): journaled as feed.rejected,
  // the cursor moves on, and feed_undelivered is raised (cleared by the next delivery).
  void rejected(std::int64_t seq, const std::string& code, const std::string& text, int attempts);
  // The front event cannot be expressed by this feed (an HL7 feed and an event without an alert):
  // the cursor moves on, nothing is journaled.
  void passed_over(std::int64_t seq);

  // Raises feed_undelivered when nothing was delivered for undelivered_after while something
  // is pending. `reason` says why (the last connection error).
  void check(const std::string& reason);

  std::int64_t cursor() const { return cursor_; }
  bool undelivered() const { return raised_; }
  store::Db& db() { return *db_; }
  const Options& options() const { return options_; }

 private:
  void push(store::CommittedEventPtr e);
  // Journals feed.undelivered (the feed_undelivered alert) unless it is raised already.
  void raise(const std::string& reason);
  void advance_cursor(std::int64_t seq);
  void clear_undelivered(std::int64_t seq, const std::string& reason);
  void persist_cursor();
  std::int64_t pending_count();

  store::Journal& journal_;
  std::unique_ptr<store::Db> db_;
  Options options_;
  std::deque<store::CommittedEventPtr> queue_;
  std::int64_t cursor_ = 0;     // last seq done with (acknowledged, rejected or passed over)
  std::int64_t read_upto_ = 0;  // every event <= this is queued, done with, or filtered out
  bool caught_up_ = false;      // the DB had nothing after read_upto_ at the last read
  std::optional<Clock::time_point> stall_since_;
  bool raised_ = false;
};

// A committed event rebuilt from an `events` row (columns: seq, at, type, monitor, session,
// payload, hash); an `observations` event with its readings read from `db`.
store::CommittedEventPtr event_from_row(store::Db& db, store::Stmt& s);

}  // namespace vitalsd::feeds
