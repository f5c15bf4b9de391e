// The journal: the one writer of the database. It owns the read-write connection and a thread;
// everyone else hands it records through a queue. Observations are batched (a commit at most
// every batch window), stored as compact `readings` rows chained by one `observations` event
// per run of them (store/readings.hpp); urgent events (alerts, sessions, user actions) are
// committed at once with synchronous=FULL. Every committed event gets the next gapless `seq` and a
// hash linking it to the previous one, and only after the commit is it handed to `on_commit`
// (persist before publish).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "store/event.hpp"
#include "store/integrity.hpp"
#include "store/readings.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::store {

enum class Durability {
  batched,  // committed with the next batch (observations, monitor state)
  urgent,   // committed now, synchronous=FULL (alerts, sessions, user actions)
};

// Extra rows written in the same transaction as the events they go with (sessions, alerts).
// Runs on the writer thread; returns an error message to roll the whole batch back.
using Apply = std::function<std::optional<std::string>(Db&)>;

// What the writer does when the disk misbehaves (full, EIO, read-only, locked): it keeps what
// it could not write in memory (bounded: observations are dropped oldest first and counted;
// events, session and alert rows never), retries with backoff, and reports the fault and the
// recovery through the hooks below. docs/reliability.md.
struct StorageStatus {
  bool failing = false;
  core::Timestamp since{};                 // when the first commit of this fault failed
  std::string error;                       // SQLite's message for the last failed commit
  std::uint64_t failed_commits = 0;        // of this fault
  std::uint64_t dropped_observations = 0;  // of this fault, oldest first
  std::map<std::string, std::uint64_t> dropped_by_monitor;
  std::size_t backlog_observations = 0;  // held in memory, not yet written
  std::size_t backlog_events = 0;        // events held (never dropped)
};

// Called when a commit has taken the observations it came with (true), or when they were
// dropped from the bounded backlog during a storage fault (false). Exactly once, on the writer
// thread or, for a journal that is stopped, on the caller's.
using Receipt = std::function<void(bool committed)>;

struct JournalHooks {
  // After each commit, the committed events in seq order. Must not block.
  std::function<void(const std::vector<CommittedEventPtr>&)> on_commit;
  // A storage fault began (status.failing) or ended (!status.failing, with what it dropped).
  std::function<void(const StorageStatus&)> on_storage;
  // Events that cannot be committed yet (storage is failing): published from memory, marked
  // not persisted. Called from the writer thread or from record()'s caller. Must not block.
  std::function<void(const std::vector<Event>&)> on_uncommitted;
};

struct JournalStats {
  std::uint64_t observations = 0;
  std::uint64_t events = 0;
  std::uint64_t commits = 0;
  std::uint64_t failed_commits = 0;
  std::int64_t last_seq = 0;
  // Items refused after an error that was not a storage fault (a bug): each is journaled as a
  // `journal.refused` event in its place (docs/events.md).
  std::uint64_t refused_items = 0;
};

class Journal {
 public:
  struct Options {
    std::filesystem::path state_dir;
    std::chrono::milliseconds batch_window{100};  // at most 200 ms (issue 2)
    // Storage faults: observations held in memory at most (then the oldest are dropped).
    std::size_t max_backlog_observations = 100'000;
    std::chrono::milliseconds retry_initial{100};
    std::chrono::milliseconds retry_max{1000};
    // stop() while storage fails keeps retrying this long, then gives up (see unwritten()).
    std::chrono::milliseconds stop_timeout{10'000};
    // Integrity (issue 17, docs/auditing.md): the chain's last events verified at start-up,
    // the whole journal in the background `integrity_first_after` after start() and then every
    // `integrity_interval` (zero: no background check).
    std::int64_t integrity_tail = 1000;
    std::chrono::milliseconds integrity_first_after{std::chrono::seconds{10}};
    std::chrono::milliseconds integrity_interval{std::chrono::hours{1}};
  };

  // Creates state_dir, takes its lock, checks an existing vitals.db read-only (nothing is
  // written to a file that is not vitalsd's) and verifies its chain's tail, then opens it (or
  // creates it where no file exists) in WAL mode and migrates it. A broken tail does not stop
  // the daemon: it queues a `journal.integrity` event (a high-priority technical alert),
  // committed first once start() runs.
  // Throws StoreError with a one-line reason: state_dir not creatable or writable, another
  // vitalsd holding the lock, a database that is empty (0 bytes), locked, corrupt, foreign or
  // newer.
  explicit Journal(Options options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::filesystem::path& database() const { return database_; }
  // The first seq (or row) where the start-up check found the journal broken; 0 when intact.
  std::int64_t startup_break() const { return startup_break_; }

  // Records which monitors the config has (upsert; never deletes history). Start-up only.
  void register_monitors(const std::vector<core::MonitorConfig>& monitors, core::Timestamp now);

  // Starts the writer thread. `on_commit` runs on the writer thread after each commit, with
  // the committed events in seq order; it must not block.
  void start(std::function<void(const std::vector<CommittedEventPtr>&)> on_commit);
  void start(JournalHooks hooks);

  // Thread-safe; never block on I/O.
  void record(std::vector<core::Observation> observations, Receipt receipt = {});
  void record(Event event, Durability durability = Durability::batched, Apply apply = {});
  // Rows without an event of their own (a session's growing baseline).
  void write(Apply apply, Durability durability = Durability::batched);
  // Calls `fn` on the writer thread once everything recorded before it is committed (at once
  // if the journal is stopped). Used to answer an API request only after its commit.
  void when_committed(std::function<void()> fn);

  // Commits everything pending, then stops the writer thread. Idempotent.
  void stop();

  JournalStats stats() const;
  StorageStatus storage() const;
  bool storage_failing() const { return failing_.load(std::memory_order_relaxed); }
  // After stop(): what could not be written (empty when everything was), e.g.
  // "3 events (alert.raised, session.started) and 120 observations".
  std::string unwritten() const;
  // Last error the writer met (empty when the last commit succeeded).
  std::string last_error() const;

 private:
  struct Item {
    std::vector<core::Observation> observations;
    std::optional<Event> event;
    Apply apply;
    std::function<void()> committed;
    Receipt receipt;
    bool announced = false;  // handed to on_uncommitted already
  };
  void run();
  bool commit(std::vector<Item>& batch, bool urgent, std::vector<CommittedEventPtr>& committed);
  bool commit_batch(std::vector<Item>& batch, bool urgent,
                    std::vector<CommittedEventPtr>& committed);
  // A commit that failed: its transaction rolled back (and the keys it added forgotten), and
  // counted with SQLite's error.
  void roll_back();
  void count_failed(const std::string& error);
  // After an exception that is not SQLite's: each item in a commit of its own (see .cpp).
  bool commit_isolating(std::vector<Item>& batch, bool urgent,
                        std::vector<CommittedEventPtr>& committed, const std::string& what);
  static bool receipt_urgent(const Item& item);
  // Writer thread: a commit failed / succeeded after failures.
  void storage_failed(std::vector<Item>& batch);
  void storage_recovered(std::vector<CommittedEventPtr>& committed);
  // Drops the oldest observations above the bound; returns how many.
  void bound_backlog(std::vector<Item>& batch);

  Options options_;
  std::filesystem::path database_;
  int lock_fd_ = -1;
  std::unique_ptr<Db> db_;
  JournalHooks hooks_;
  std::atomic<bool> failing_{false};
  StorageStatus storage_;            // guarded by mutex_
  std::string unwritten_;            // guarded by mutex_
  bool announce_on_record_ = false;  // guarded by mutex_: storage.failed is out
  std::int64_t startup_break_ = 0;
  std::unique_ptr<IntegrityWatch> integrity_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Item> queue_;
  bool urgent_pending_ = false;
  bool stopping_ = false;
  std::thread thread_;

  // Writer-thread state.
  // The readings' keys (schema 7): monitor -> observation_sources.id, (parameter, unit) ->
  // observation_kinds.id, added to in the transaction that first needs one (and forgotten
  // again when that transaction rolls back).
  struct KindKey {
    core::Parameter parameter;
    std::string unit;
    std::int64_t id;
  };
  struct AddedKey {
    std::string monitor;
    std::optional<core::Parameter> parameter;
    std::int64_t id;
  };
  void load_reading_keys();
  std::optional<std::int64_t> source_key(const std::string& monitor);
  std::optional<std::int64_t> kind_key(core::Parameter parameter, const std::string& unit);
  void forget_added_keys();
  std::unordered_map<std::string, std::int64_t> sources_;
  std::vector<KindKey> kinds_;
  std::vector<AddedKey> keys_added_;
  ReadingDigest digest_;
  std::int64_t last_seq_ = 0;
  std::string last_hash_;
  JournalStats stats_;
  std::string last_error_;
};

}  // namespace vitalsd::store
