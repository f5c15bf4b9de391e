#include "store/journal.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/json_text.hpp"
#include "store/readings.hpp"
#include "store/schema.hpp"

namespace vitalsd::store {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// The storage_failed technical alert, as the payload of storage.failed / storage.recovered
// (an `alert` object as alert events have, so feeds announce it like any alarm).
nlohmann::json storage_alert(const std::string& state, const std::string& error,
                             const std::filesystem::path& database) {
  return {{"rule", "storage_failed"},
          {"kind", "storage_failed"},
          {"priority", "high"},
          {"error", error},
          {"database", database.string()},
          {"alert",
           {{"id", "storage_failed"},
            {"rule", "storage_failed"},
            {"kind", "storage_failed"},
            {"priority", "high"},
            {"state", state}}}};
}

}  // namespace

Journal::Journal(Options options) : options_(std::move(options)) {
  const auto& dir = options_.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StoreError("state_dir " + dir.string() + " cannot be created: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec))
    throw StoreError("state_dir " + dir.string() + " is not a directory");

  // One daemon per state_dir: a second one would interleave seqs.
  const auto lock_path = dir / "vitalsd.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0)
    throw StoreError("state_dir " + dir.string() + " is not writable: " + errno_text());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw StoreError("state_dir " + dir.string() + " is in use by another vitalsd (lock " +
                     lock_path.string() + " held)");
  }

  database_ = dir / "vitals.db";
  try {
    // Read-only first: a foreign, empty, newer or corrupt file is refused untouched (the WAL
    // switch below would rewrite its header), and the chain's tail is verified.
    const auto existing = check_existing(database_, options_.integrity_tail);
    db_ = std::make_unique<Db>(database_, std::filesystem::exists(database_)
                                              ? Db::Mode::read_write
                                              : Db::Mode::read_write_create);
    const auto mode_err = db_->exec("PRAGMA journal_mode=WAL");
    if (mode_err)
      throw StoreError("database " + database_.string() + " cannot be used: " + *mode_err);
    migrate(*db_);
    db_->exec_or_throw("PRAGMA synchronous=NORMAL", "set-up");
    db_->exec_or_throw("PRAGMA foreign_keys=ON", "set-up");
    Stmt last(*db_, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    if (last.step()) {
      last_seq_ = last.int64(0);
      last_hash_ = last.text(1);
    } else {
      last_hash_ = kGenesisHash;
    }
    stats_.last_seq = last_seq_;
    load_reading_keys();
    if (const auto* broken = new_break(existing)) {
      // Never extended silently: the break is the first thing committed.
      startup_break_ = break_seq(*broken);
      spdlog::error("journal integrity: {} is broken: {}; raising journal_integrity",
                    database_.string(), audit::to_string(*broken));
      record(integrity_event(existing, *broken, "start-up",
                             std::chrono::time_point_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now())),
             Durability::urgent);
    }
  } catch (...) {
    db_.reset();
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

Journal::~Journal() {
  stop();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Journal::register_monitors(const std::vector<core::MonitorConfig>& monitors,
                                core::Timestamp now) {
  Stmt up(*db_,
          "INSERT INTO monitors (id, driver, location, configured_at) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT(id) DO UPDATE SET driver = ?2, location = ?3, configured_at = ?4");
  db_->exec_or_throw("BEGIN IMMEDIATE", "registering monitors");
  for (const auto& m : monitors) {
    up.reset();
    up.bind(1, m.id).bind(2, m.driver).bind(3, m.location).bind(4, core::format_iso8601(now));
    up.step();
    if (!up.ok()) {
      db_->exec("ROLLBACK");
      throw StoreError("database " + database_.string() +
                       ": registering monitors failed: " + db_->error_message());
    }
  }
  db_->exec_or_throw("COMMIT", "registering monitors");
}

void Journal::start(std::function<void(const std::vector<CommittedEventPtr>&)> on_commit) {
  JournalHooks hooks;
  hooks.on_commit = std::move(on_commit);
  start(std::move(hooks));
}

void Journal::start(JournalHooks hooks) {
  hooks_ = std::move(hooks);
  thread_ = std::thread([this] { run(); });
  if (options_.integrity_interval.count() > 0)
    integrity_ = std::make_unique<IntegrityWatch>(
        *this, IntegrityWatch::Options{database_, options_.state_dir / "checkpoints.jsonl",
                                       options_.integrity_first_after, options_.integrity_interval,
                                       startup_break_});
}

void Journal::record(std::vector<core::Observation> observations, Receipt receipt) {
  if (observations.empty()) {
    if (receipt) when_committed([receipt = std::move(receipt)] { receipt(true); });
    return;
  }
  std::lock_guard lock(mutex_);
  Item item{std::move(observations), std::nullopt, {}, {}, std::move(receipt)};
  if (receipt_urgent(item)) urgent_pending_ = true;
  queue_.push_back(std::move(item));
  wake_.notify_one();
}

void Journal::record(Event event, Durability durability, Apply apply) {
  std::vector<Event> announce;
  {
    std::lock_guard lock(mutex_);
    Item item{{}, std::move(event), std::move(apply), {}, {}};
    // While storage fails, what cannot be written is published from memory at once.
    if (announce_on_record_ && hooks_.on_uncommitted) {
      item.announced = true;
      announce.push_back(*item.event);
    }
    queue_.push_back(std::move(item));
    if (durability == Durability::urgent) urgent_pending_ = true;
    wake_.notify_one();
  }
  if (!announce.empty()) hooks_.on_uncommitted(announce);
}

void Journal::write(Apply apply, Durability durability) {
  std::lock_guard lock(mutex_);
  queue_.push_back(Item{{}, std::nullopt, std::move(apply), {}, {}});
  if (durability == Durability::urgent) urgent_pending_ = true;
  wake_.notify_one();
}

void Journal::when_committed(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && thread_.joinable()) {
      queue_.push_back(Item{{}, std::nullopt, {}, std::move(fn), {}});
      urgent_pending_ = true;
      wake_.notify_one();
      return;
    }
  }
  fn();
}

void Journal::stop() {
  if (integrity_) integrity_->stop();  // before the writer: it may still record a finding
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

JournalStats Journal::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string Journal::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

StorageStatus Journal::storage() const {
  std::lock_guard lock(mutex_);
  StorageStatus s = storage_;
  if (s.failing)  // what arrived since the last retry waits in the queue
    for (const auto& item : queue_) {
      s.backlog_observations += item.observations.size();
      if (item.event) ++s.backlog_events;
    }
  return s;
}

std::string Journal::unwritten() const {
  std::lock_guard lock(mutex_);
  return unwritten_;
}

void Journal::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Item> batch;
  std::vector<CommittedEventPtr> committed;
  std::chrono::milliseconds retry{0};
  bool urgent = false;  // sticky until the batch is committed
  std::optional<Clock::time_point> give_up_at;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      if (retry.count() > 0) {
        // The last commit failed: wait a little (a stop does not cut the wait short, so a
        // failing disk is retried at this pace until stop_timeout), then try again.
        wake_.wait_for(lock, retry);
      } else {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        // Give a batch time to fill, unless something urgent is waiting.
        if (!stopping_ && !urgent_pending_)
          wake_.wait_for(lock, options_.batch_window, [&] { return stopping_ || urgent_pending_; });
      }
      urgent = urgent || urgent_pending_;
      urgent_pending_ = false;
      stopping = stopping_;
      for (auto& item : queue_) batch.push_back(std::move(item));
      queue_.clear();
      if (failing_.load()) {
        // What the writer holds, so storage() counts it while this retry runs.
        storage_.backlog_observations = 0;
        storage_.backlog_events = 0;
        for (const auto& item : batch) {
          storage_.backlog_observations += item.observations.size();
          if (item.event) ++storage_.backlog_events;
        }
      }
    }
    if (stopping && !give_up_at) give_up_at = Clock::now() + options_.stop_timeout;
    if (!batch.empty()) {
      committed.clear();
      if (commit(batch, urgent, committed)) {
        retry = std::chrono::milliseconds{0};
        urgent = false;
        if (failing_.load()) storage_recovered(committed);
        if (hooks_.on_commit && !committed.empty()) hooks_.on_commit(committed);
        for (auto& item : batch) {
          if (item.committed) item.committed();
          if (item.receipt) item.receipt(true);
        }
        batch.clear();
      } else {
        storage_failed(batch);
        retry = std::min(options_.retry_max, std::max(options_.retry_initial, retry * 2));
        if (stopping && Clock::now() >= *give_up_at) {
          // Give up at exit: say what is lost; the senders of held observations get no ACK.
          std::size_t n_obs = 0;
          std::map<std::string, int> types;
          for (auto& item : batch) {
            n_obs += item.observations.size();
            if (item.event) ++types[item.event->type];
            if (item.receipt) item.receipt(false);
          }
          std::size_t n_events = 0;
          std::string names;
          for (const auto& [type, n] : types) {
            n_events += static_cast<std::size_t>(n);
            names += (names.empty() ? "" : ", ") + type;
          }
          std::lock_guard lock(mutex_);
          unwritten_ = std::to_string(n_events) + " events" +
                       (names.empty() ? "" : " (" + names + ")") + " and " + std::to_string(n_obs) +
                       " observations";
          return;
        }
        continue;
      }
    }
    if (stopping) {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
    }
  }
}

bool Journal::receipt_urgent(const Item& item) {
  // A peer waits for this receipt (an HL7 ACK): commit now rather than after the batch window;
  // what arrives while that commit runs joins the next one (group commit).
  return static_cast<bool>(item.receipt);
}

void Journal::bound_backlog(std::vector<Item>& batch) {
  std::size_t held = 0;
  for (const auto& item : batch) held += item.observations.size();
  if (held <= options_.max_backlog_observations) return;
  std::size_t excess = held - options_.max_backlog_observations;
  std::map<std::string, std::uint64_t> dropped;
  std::uint64_t n = 0;
  for (auto& item : batch) {
    if (excess == 0) break;
    if (item.observations.empty()) continue;
    const auto k = std::min(excess, item.observations.size());
    for (std::size_t i = 0; i < k; ++i) ++dropped[item.observations[i].monitor];
    item.observations.erase(item.observations.begin(),
                            item.observations.begin() + static_cast<std::ptrdiff_t>(k));
    excess -= k;
    n += k;
    if (item.receipt) std::exchange(item.receipt, {})(false);
  }
  std::erase_if(batch, [](const Item& item) {
    return item.observations.empty() && !item.event && !item.apply && !item.committed &&
           !item.receipt;
  });
  std::lock_guard lock(mutex_);
  storage_.dropped_observations += n;
  for (const auto& [monitor, count] : dropped) storage_.dropped_by_monitor[monitor] += count;
}

void Journal::storage_failed(std::vector<Item>& batch) {
  const bool began = !failing_.load();
  StorageStatus snapshot;
  {
    // From here on record() announces what it queues; what is queued already joins the batch
    // and is announced below, so no event is missed.
    std::lock_guard lock(mutex_);
    failing_.store(true);
    for (auto& item : queue_) batch.push_back(std::move(item));
    queue_.clear();
    if (began) {
      storage_ = StorageStatus{};
      storage_.failing = true;
      storage_.since = core::Timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now()));
    }
    storage_.error = last_error_;
    ++storage_.failed_commits;
  }
  bound_backlog(batch);
  std::vector<Event> fresh;
  std::size_t obs = 0, events = 0;
  for (auto& item : batch) {
    obs += item.observations.size();
    if (!item.event) continue;
    ++events;
    if (!item.announced) {
      item.announced = true;
      fresh.push_back(*item.event);
    }
  }
  {
    std::lock_guard lock(mutex_);
    storage_.backlog_observations = obs;
    storage_.backlog_events = events;
    snapshot = storage_;
  }
  if (began) {
    fresh.insert(fresh.begin(), Event{"storage.failed", snapshot.since, "", std::nullopt,
                                      storage_alert("active", snapshot.error, database_)});
  }
  if (!fresh.empty() && hooks_.on_uncommitted) hooks_.on_uncommitted(fresh);
  if (began) {
    // From now on record() announces what it queues, after storage.failed itself; what was
    // queued before is announced by the next retry.
    {
      std::lock_guard lock(mutex_);
      announce_on_record_ = true;
    }
    if (hooks_.on_storage) hooks_.on_storage(snapshot);
  }
}

void Journal::storage_recovered(std::vector<CommittedEventPtr>& committed) {
  StorageStatus was;
  {
    std::lock_guard lock(mutex_);
    was = storage_;
    storage_ = StorageStatus{};
  }
  failing_.store(false);
  {
    std::lock_guard lock(mutex_);
    announce_on_record_ = false;
  }
  // Give the space the WAL took back to the file system, so the next burst does not eat it.
  db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto now = core::Timestamp(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  nlohmann::json by_monitor = nlohmann::json::object();
  for (const auto& [m, n] : was.dropped_by_monitor) by_monitor[m] = n;
  const auto down_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - was.since);
  auto recovered = storage_alert("cleared", was.error, database_);
  recovered["failed_at"] = core::format_iso8601(was.since);
  recovered["outage_ms"] = down_ms.count();
  recovered["failed_commits"] = was.failed_commits;
  recovered["dropped_observations"] = was.dropped_observations;
  recovered["dropped_by_monitor"] = by_monitor;
  std::vector<Item> pair;
  pair.push_back(Item{{},
                      Event{"storage.failed", was.since, "", std::nullopt,
                            storage_alert("active", was.error, database_)},
                      {},
                      {},
                      {}});
  pair.push_back(Item{
      {}, Event{"storage.recovered", now, "", std::nullopt, std::move(recovered)}, {}, {}, {}});
  std::vector<CommittedEventPtr> more;
  if (commit(pair, true, more)) {
    committed.insert(committed.end(), more.begin(), more.end());
  } else {
    // Failing again at once: the pair waits in the queue; the fault goes on.
    std::lock_guard lock(mutex_);
    for (auto it = pair.rbegin(); it != pair.rend(); ++it)
      queue_.insert(queue_.begin(), std::move(*it));
  }
  was.failing = false;
  if (hooks_.on_storage) hooks_.on_storage(was);
}

void Journal::roll_back() {
  db_->exec("ROLLBACK");
  forget_added_keys();
}

void Journal::count_failed(const std::string& error) {
  std::lock_guard lock(mutex_);
  ++stats_.failed_commits;
  last_error_ = error;
}

bool Journal::commit(std::vector<Item>& batch, bool urgent,
                     std::vector<CommittedEventPtr>& committed) {
  // A statement that cannot be prepared (the schema unreadable on a failing disk) is a failed
  // commit like any other, never an exception on the writer thread. Only SQLite's failures
  // (StoreError, or an error code) are storage faults: any other exception is a bug in what an
  // item carried, handled item by item (commit_isolating), and never storage_failed.
  try {
    return commit_batch(batch, urgent, committed);
  } catch (const StoreError& e) {
    roll_back();
    count_failed(e.what());
    return false;
  } catch (const std::exception& e) {
    roll_back();
    return commit_isolating(batch, urgent, committed, e.what());
  }
}

bool Journal::commit_isolating(std::vector<Item>& batch, bool urgent,
                               std::vector<CommittedEventPtr>& committed, const std::string& what) {
  spdlog::error(
      "journal: an error that is not a storage fault while writing {} items: {}; writing them "
      "one by one (a bug: please report it with this line)",
      batch.size(), what);
  // Each item in a commit of its own. What commits is published and settled here; an item that
  // fails again for the same kind of reason is refused: its event is journaled in its place as
  // `journal.refused` (type, monitor, session, the error), its rows and readings are not, and
  // its sender is told it was not stored. A storage fault on the way stops here: what is left
  // in `batch` takes the storage path, as any failed commit.
  std::vector<Item> left;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::vector<Item> one;
    one.push_back(std::move(batch[i]));
    std::vector<CommittedEventPtr> part;
    bool ok = false;
    std::string bug;
    try {
      ok = commit_batch(one, urgent, part);
    } catch (const StoreError& e) {
      roll_back();
      count_failed(e.what());
    } catch (const std::exception& e) {
      roll_back();
      bug = e.what();
    }
    if (!bug.empty()) {
      auto& item = one.front();
      spdlog::error("journal: refused {}{}: {}",
                    item.event ? "event " + item.event->type : std::string("a row write"),
                    item.observations.empty()
                        ? std::string()
                        : " with " + std::to_string(item.observations.size()) + " readings",
                    bug);
      {
        std::lock_guard lock(mutex_);
        ++stats_.refused_items;
      }
      if (item.receipt) std::exchange(item.receipt, {})(false);
      Item refused;
      refused.committed = std::move(item.committed);
      nlohmann::json payload{{"error", bug}, {"observations", item.observations.size()}};
      if (item.event) payload["type"] = item.event->type;
      refused.event = Event{
          "journal.refused",
          item.event ? item.event->at
                     : core::Timestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now())),
          item.event ? item.event->monitor : std::string(),
          item.event ? item.event->session : std::nullopt, std::move(payload)};
      one.clear();
      one.push_back(std::move(refused));
      try {
        ok = commit_batch(one, urgent, part);
      } catch (const std::exception& e) {
        roll_back();
        count_failed(e.what());
      }
    }
    if (!ok) {  // storage: this item and the rest wait for the retry
      left.push_back(std::move(one.front()));
      for (std::size_t k = i + 1; k < batch.size(); ++k) left.push_back(std::move(batch[k]));
      break;
    }
    if (hooks_.on_commit && !part.empty()) hooks_.on_commit(part);
    for (auto& item : one) {
      if (item.committed) item.committed();
      if (item.receipt) item.receipt(true);
    }
  }
  batch = std::move(left);
  committed.clear();
  return batch.empty();
}

bool Journal::commit_batch(std::vector<Item>& batch, bool urgent,
                           std::vector<CommittedEventPtr>& committed) {
  auto fail = [&](const std::string& what) {
    roll_back();
    count_failed(what);
    return false;
  };
  db_->exec(urgent ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  digest_.reset();  // a commit rolled back mid-run leaves nothing in the next one's digest
  if (auto err = db_->exec("BEGIN IMMEDIATE")) return fail("begin: " + *err);

  static constexpr const char* kInsertReading =
      "INSERT INTO readings (seq, source, session, kind, value, received_ms, device_ms, "
      "validity, measurement_id) VALUES (?,?,?,?,?,?,?,?,?)";
  static constexpr const char* kInsertEvent =
      "INSERT INTO events (seq, at, type, monitor, session, payload, prev_hash, hash) "
      "VALUES (?,?,?,?,?,?,?,?)";
  Stmt ins_obs(*db_, kInsertReading);
  Stmt ins_ev(*db_, kInsertEvent);
  std::int64_t seq = last_seq_;
  std::string hash = last_hash_;
  std::uint64_t n_obs = 0;
  struct Written {
    std::int64_t seq;
    Event event;
    std::string hash;
    std::string readings_json;  // `observations` events: the readings as the API shows them
  };
  std::vector<Written> events;
  std::string at;

  auto add_event = [&](Event e, std::string readings_json = {}) -> bool {
    at.clear();
    core::append_iso8601(at, e.at);
    const auto payload = core::json_text(e.payload);
    const auto next = seq + 1;
    auto h = chain_hash(hash, next, at, e.type, e.monitor, e.session, payload);
    ins_ev.reset();
    ins_ev.bind(1, next).bind(2, at).bind(3, e.type);
    if (e.monitor.empty())
      ins_ev.bind_null(4);
    else
      ins_ev.bind(4, e.monitor);
    ins_ev.bind(5, e.session).bind(6, payload).bind(7, hash).bind(8, h);
    ins_ev.step();
    if (!ins_ev.ok()) return false;
    seq = next;
    hash = h;
    events.push_back({seq, std::move(e), std::move(h), std::move(readings_json)});
    return true;
  };

  // The observations recorded since the last event are written as rows chained by one
  // `observations` event, placed where they were recorded among the other events.
  std::vector<const core::Observation*> pending;
  std::string readings_json;
  auto flush = [&]() -> std::optional<std::string> {
    if (pending.empty()) return std::nullopt;
    const auto next = seq + 1;
    std::int64_t first_id = 0, last_id = 0;
    core::Timestamp newest{};
    readings_json.clear();
    for (const auto* o : pending) {
      const auto source = source_key(o->monitor);
      const auto kind = kind_key(o->parameter, o->unit);
      if (!source || !kind) return "insert reading key: " + db_->error_message();
      ins_obs.reset();
      ins_obs.bind(1, next).bind(2, *source).bind(3, o->session).bind(4, *kind);
      ins_obs.bind(5, o->value).bind(6, o->received_at.time_since_epoch().count());
      ins_obs.bind(7, o->device_time ? std::optional(o->device_time->time_since_epoch().count())
                                     : std::nullopt);
      ins_obs.bind(8, static_cast<std::int64_t>(o->validity));
      ins_obs.bind(9, o->measurement_id
                          ? std::optional(static_cast<std::int64_t>(*o->measurement_id))
                          : std::nullopt);
      ins_obs.step();
      if (!ins_obs.ok()) return "insert reading: " + db_->error_message();
      const auto id = db_->last_insert_rowid();
      if (first_id == 0) first_id = id;
      last_id = id;
      newest = std::max(newest, o->received_at);
      const auto r = reading_of(*o, id, next);
      digest_.add(r);
      if (!readings_json.empty()) readings_json += ',';
      append_reading_json(readings_json, r);
    }
    const auto count = static_cast<std::int64_t>(pending.size());
    Event e{"observations", newest, "", std::nullopt,
            nlohmann::json{{"first_id", first_id},
                           {"last_id", last_id},
                           {"count", count},
                           {"sha256", digest_.hex()}}};
    if (!add_event(std::move(e), readings_json)) return "insert event: " + db_->error_message();
    n_obs += pending.size();
    pending.clear();
    return std::nullopt;
  };

  for (auto& item : batch) {
    for (const auto& o : item.observations) pending.push_back(&o);
    // Rows without an event (a session's state after each reading) join the transaction
    // wherever they come; only an event closes the run of readings before it.
    if (item.apply)
      if (auto err = item.apply(*db_)) return fail(*err);
    if (!item.event) continue;
    if (auto err = flush()) return fail(*err);
    if (!add_event(*item.event)) return fail("insert event: " + db_->error_message());
  }
  if (auto err = flush()) return fail(*err);
  if (auto err = db_->exec("COMMIT")) return fail("commit: " + *err);

  last_seq_ = seq;
  last_hash_ = hash;
  keys_added_.clear();
  committed.reserve(events.size());
  for (auto& w : events) {
    auto c = std::make_shared<CommittedEvent>();
    c->seq = w.seq;
    c->json = w.event.type == "observations"
                  ? observations_event_json(w.seq, w.event, w.readings_json)
                  : event_json(w.seq, w.event);
    c->event = std::move(w.event);
    c->hash = std::move(w.hash);
    committed.push_back(std::move(c));
  }
  std::lock_guard lock(mutex_);
  stats_.observations += n_obs;
  stats_.events += events.size();
  ++stats_.commits;
  stats_.last_seq = last_seq_;
  last_error_.clear();
  return true;
}

void Journal::load_reading_keys() {
  Stmt src(*db_, "SELECT id, monitor FROM observation_sources");
  while (src.step()) sources_.emplace(src.text(1), src.int64(0));
  Stmt kinds(*db_, "SELECT id, parameter, mdc_code, unit FROM observation_kinds");
  while (kinds.step()) {
    const auto p = core::parameter_from_name(kinds.text(1));
    if (!p || static_cast<std::int64_t>(core::info(*p).mdc_code) != kinds.int64(2)) continue;
    kinds_.push_back(KindKey{*p, kinds.text(3), kinds.int64(0)});
  }
}

std::optional<std::int64_t> Journal::source_key(const std::string& monitor) {
  if (const auto it = sources_.find(monitor); it != sources_.end()) return it->second;
  Stmt ins(*db_, "INSERT INTO observation_sources (monitor) VALUES (?)");
  ins.bind(1, monitor);
  ins.step();
  if (!ins.ok()) return std::nullopt;
  const auto id = db_->last_insert_rowid();
  sources_.emplace(monitor, id);
  keys_added_.push_back({monitor, {}, id});
  return id;
}

std::optional<std::int64_t> Journal::kind_key(core::Parameter parameter, const std::string& unit) {
  for (const auto& k : kinds_)
    if (k.parameter == parameter && k.unit == unit) return k.id;
  Stmt ins(*db_, "INSERT INTO observation_kinds (parameter, mdc_code, unit) VALUES (?, ?, ?)");
  ins.bind(1, core::to_string(parameter))
      .bind(2, static_cast<std::int64_t>(core::info(parameter).mdc_code))
      .bind(3, unit);
  ins.step();
  if (!ins.ok()) return std::nullopt;
  const auto id = db_->last_insert_rowid();
  kinds_.push_back(KindKey{parameter, unit, id});
  keys_added_.push_back({{}, parameter, id});
  return id;
}

void Journal::forget_added_keys() {
  for (const auto& added : keys_added_) {
    if (added.parameter)
      std::erase_if(kinds_, [&](const KindKey& k) { return k.id == added.id; });
    else
      sources_.erase(added.monitor);
  }
  keys_added_.clear();
}

}  // namespace vitalsd::store
