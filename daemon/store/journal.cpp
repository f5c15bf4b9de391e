#include "store/journal.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "store/schema.hpp"

namespace vitalsd::store {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

nlohmann::json observation_payload(const core::Observation& o, std::int64_t id) {
  nlohmann::json j{{"id", id},
                   {"parameter", core::to_string(o.parameter)},
                   {"mdc_code", core::info(o.parameter).mdc_code},
                   {"unit", o.unit},
                   {"validity", core::to_string(o.validity)},
                   {"received_at", core::format_iso8601(o.received_at)}};
  j["value"] = std::isfinite(o.value) ? nlohmann::json(o.value) : nlohmann::json();
  j["device_time"] =
      o.device_time ? nlohmann::json(core::format_iso8601(*o.device_time)) : nlohmann::json();
  if (o.measurement_id) j["measurement_id"] = *o.measurement_id;
  return j;
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
  on_commit_ = std::move(on_commit);
  thread_ = std::thread([this] { run(); });
  if (options_.integrity_interval.count() > 0)
    integrity_ = std::make_unique<IntegrityWatch>(
        *this, IntegrityWatch::Options{database_, options_.state_dir / "checkpoints.jsonl",
                                       options_.integrity_first_after, options_.integrity_interval,
                                       startup_break_});
}

void Journal::record(std::vector<core::Observation> observations) {
  if (observations.empty()) return;
  std::lock_guard lock(mutex_);
  queue_.push_back(Item{std::move(observations), std::nullopt, {}, {}});
  wake_.notify_one();
}

void Journal::record(Event event, Durability durability, Apply apply) {
  std::lock_guard lock(mutex_);
  queue_.push_back(Item{{}, std::move(event), std::move(apply), {}});
  if (durability == Durability::urgent) urgent_pending_ = true;
  wake_.notify_one();
}

void Journal::write(Apply apply, Durability durability) {
  std::lock_guard lock(mutex_);
  queue_.push_back(Item{{}, std::nullopt, std::move(apply), {}});
  if (durability == Durability::urgent) urgent_pending_ = true;
  wake_.notify_one();
}

void Journal::when_committed(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && thread_.joinable()) {
      queue_.push_back(Item{{}, std::nullopt, {}, std::move(fn)});
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

void Journal::run() {
  std::vector<Item> batch;
  std::vector<CommittedEventPtr> committed;
  std::chrono::milliseconds retry{0};
  for (;;) {
    bool urgent = false;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      if (retry.count() > 0) {
        // The last commit failed: wait a little, then try again with what we kept.
        wake_.wait_for(lock, retry, [&] { return stopping_; });
      } else {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        // Give a batch time to fill, unless something urgent is waiting.
        if (!stopping_ && !urgent_pending_)
          wake_.wait_for(lock, options_.batch_window, [&] { return stopping_ || urgent_pending_; });
      }
      urgent = urgent_pending_;
      urgent_pending_ = false;
      stopping = stopping_;
      for (auto& item : queue_) batch.push_back(std::move(item));
      queue_.clear();
    }
    if (!batch.empty()) {
      committed.clear();
      if (commit(batch, urgent, committed)) {
        retry = std::chrono::milliseconds{0};
        if (on_commit_ && !committed.empty()) on_commit_(committed);
        for (auto& item : batch)
          if (item.committed) item.committed();
        batch.clear();
      } else {
        retry = std::min(std::chrono::milliseconds{5000},
                         std::max(std::chrono::milliseconds{100}, retry * 2));
        if (stopping && retry >= std::chrono::milliseconds{1600}) return;  // give up at exit
        if (urgent) {
          std::lock_guard lock(mutex_);
          urgent_pending_ = true;
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

bool Journal::commit(std::vector<Item>& batch, bool urgent,
                     std::vector<CommittedEventPtr>& committed) {
  auto fail = [&](const std::string& what) {
    db_->exec("ROLLBACK");
    std::lock_guard lock(mutex_);
    ++stats_.failed_commits;
    last_error_ = what;
    return false;
  };
  db_->exec(urgent ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  if (auto err = db_->exec("BEGIN IMMEDIATE")) return fail("begin: " + *err);

  static constexpr const char* kInsertObservation =
      "INSERT INTO observations (monitor, session, parameter, mdc_code, value, unit, "
      "device_time, received_at, validity, measurement_id) VALUES (?,?,?,?,?,?,?,?,?,?)";
  static constexpr const char* kInsertEvent =
      "INSERT INTO events (seq, at, type, monitor, session, payload, prev_hash, hash) "
      "VALUES (?,?,?,?,?,?,?,?)";
  Stmt ins_obs(*db_, kInsertObservation);
  Stmt ins_ev(*db_, kInsertEvent);
  std::int64_t seq = last_seq_;
  std::string hash = last_hash_;
  std::uint64_t n_obs = 0;
  struct Written {
    std::int64_t seq;
    Event event;
    std::string hash;
  };
  std::vector<Written> events;

  auto add_event = [&](Event e) -> bool {
    const auto at = core::format_iso8601(e.at);
    const auto payload = e.payload.dump();
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
    events.push_back({seq, std::move(e), std::move(h)});
    return true;
  };

  for (auto& item : batch) {
    for (const auto& o : item.observations) {
      ins_obs.reset();
      ins_obs.bind(1, o.monitor).bind(2, o.session).bind(3, core::to_string(o.parameter));
      ins_obs.bind(4, static_cast<std::int64_t>(core::info(o.parameter).mdc_code));
      ins_obs.bind(5, o.value).bind(6, o.unit);
      ins_obs.bind(
          7, o.device_time ? std::optional(core::format_iso8601(*o.device_time)) : std::nullopt);
      ins_obs.bind(8, core::format_iso8601(o.received_at)).bind(9, core::to_string(o.validity));
      ins_obs.bind(10, o.measurement_id
                           ? std::optional(static_cast<std::int64_t>(*o.measurement_id))
                           : std::nullopt);
      ins_obs.step();
      if (!ins_obs.ok()) return fail("insert observation: " + db_->error_message());
      const auto id = db_->last_insert_rowid();
      Event e{"observation", o.received_at, o.monitor, o.session, observation_payload(o, id)};
      if (!add_event(std::move(e))) return fail("insert event: " + db_->error_message());
      ++n_obs;
    }
    if (item.apply)
      if (auto err = item.apply(*db_)) return fail(*err);
    if (item.event && !add_event(*item.event)) return fail("insert event: " + db_->error_message());
  }
  if (auto err = db_->exec("COMMIT")) return fail("commit: " + *err);

  last_seq_ = seq;
  last_hash_ = hash;
  committed.reserve(events.size());
  for (auto& w : events) {
    auto c = std::make_shared<CommittedEvent>();
    c->seq = w.seq;
    c->json = event_json(w.seq, w.event);
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

}  // namespace vitalsd::store
