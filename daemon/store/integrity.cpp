#include "store/integrity.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/json_text.hpp"
#include "store/journal.hpp"
#include "store/schema.hpp"

namespace vitalsd::store {
namespace {

using nlohmann::json;

core::Timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

std::int64_t break_seq(const audit::Problem& p) {
  return p.seq > 0 ? p.seq : p.row;
}

const audit::Problem* new_break(const audit::Result& r, std::int64_t already) {
  for (const auto& p : r.problems) {
    const auto at = break_seq(p);
    if (at == already) continue;
    if (std::find(r.recorded_breaks.begin(), r.recorded_breaks.end(), at) !=
        r.recorded_breaks.end())
      continue;
    return &p;
  }
  return nullptr;
}

audit::Result check_existing(const std::filesystem::path& database, std::int64_t tail) {
  std::error_code ec;
  if (!std::filesystem::exists(database, ec)) return {};
  const auto size = std::filesystem::file_size(database, ec);
  if (ec) throw StoreError("database " + database.string() + " cannot be read: " + ec.message());
  if (size == 0)
    throw StoreError("database " + database.string() +
                     " is empty (0 bytes), not a vitalsd journal; a new journal is created only "
                     "where no file exists — move the file away to start a new one");
  std::unique_ptr<Db> db;
  try {
    db = std::make_unique<Db>(database, Db::Mode::read_only);
    const auto version = db->scalar_int("PRAGMA user_version");
    if (version > current_schema_version())
      throw StoreError("database " + database.string() + " has schema version " +
                       std::to_string(version) + ", newer than this vitalsd understands (" +
                       std::to_string(current_schema_version()) +
                       "); refusing to touch it — run a newer vitalsd");
    if (version == 0 && db->scalar_int("SELECT count(*) FROM sqlite_schema") > 0)
      throw StoreError("database " + database.string() +
                       " has tables but no vitalsd schema version; it is not a vitalsd database");
    Stmt check(*db, "PRAGMA quick_check(1)");
    if (!check.step() || check.text(0) != "ok")
      throw StoreError("database " + database.string() +
                       " is corrupt: " + (check.ok() ? check.text(0) : db->error_message()));
    if (version == 0) return {};  // an SQLite file without tables yet: migrate creates them
  } catch (const StoreError& e) {
    const std::string what = e.what();
    if (what.find("not a database") != std::string::npos)
      throw StoreError("database " + database.string() +
                       " is not an SQLite database (file is not a database); not a vitalsd "
                       "journal, left untouched");
    throw;
  }
  audit::Options o;
  o.tail = tail;
  o.max_problems = 5;
  auto r = audit::verify(*db, o);
  if (!r.error.empty()) throw StoreError("database " + database.string() + ": " + r.error);
  return r;
}

Event integrity_event(const audit::Result& r, const audit::Problem& first, std::string_view check,
                      core::Timestamp at) {
  json problems = json::array();
  for (const auto& p : r.problems) problems.push_back(audit::to_string(p));
  json payload{{"rule", "journal_integrity"},
               {"priority", "high"},
               {"alert",
                {{"rule", "journal_integrity"},
                 {"kind", "journal_integrity"},
                 {"priority", "high"},
                 {"state", "active"}}},
               {"check", check},
               {"first_broken_seq", break_seq(first)},
               {"table", first.table},
               {"row", first.row},
               {"reason", audit::to_string(first)},
               {"problems", problems},
               {"last_seq", r.last_seq}};
  return Event{"journal.integrity", at, "", std::nullopt, std::move(payload)};
}

Event checkpoint_event(const audit::Result& r, core::Timestamp at) {
  json payload{{"through_seq", r.last_seq},
               {"through_hash", r.last_hash},
               {"through_at", r.last_at},
               {"events", r.events},
               {"observations", r.observations},
               {"sessions", r.sessions},
               {"alerts", r.alerts},
               {"seconds", r.seconds}};
  return Event{"journal.checkpoint", at, "", std::nullopt, std::move(payload)};
}

IntegrityWatch::IntegrityWatch(Journal& journal, Options options)
    : journal_(journal), options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

IntegrityWatch::~IntegrityWatch() {
  stop();
}

void IntegrityWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IntegrityWatch::run() {
  // Low priority: the writer and the I/O threads come first (nice applies per thread on Linux).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
  auto wait = options_.first_after;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, wait, [&] { return stop_.load(); })) return;
    }
    pass();
    wait = options_.interval;
  }
}

void IntegrityWatch::pass() {
  audit::Result r;
  try {
    Db db(options_.database, Db::Mode::read_only);
    db.exec("PRAGMA query_only = 1");
    audit::Options o;
    o.cancel = &stop_;
    o.max_problems = 5;
    r = audit::verify(db, o);
  } catch (const StoreError& e) {
    r.error = e.what();
  }
  if (r.cancelled) return;
  ++passes_;
  if (!r.error.empty()) {
    spdlog::error("journal integrity: background check could not read {}: {}",
                  options_.database.string(), r.error);
    return;
  }
  if (!r.ok()) {
    const auto* p = new_break(r, options_.reported_break);
    if (!p) return;  // every break found is already raised
    options_.reported_break = break_seq(*p);
    spdlog::error("journal integrity: {} is broken: {}; raising journal_integrity",
                  options_.database.string(), audit::to_string(*p));
    journal_.record(integrity_event(r, *p, "background", wall_now()), Durability::urgent);
    return;
  }
  // Clean: a checkpoint, unless nothing but the previous checkpoint was added since.
  if (r.last_seq == 0 || r.last_seq <= last_checkpoint_through_ + 1) return;
  last_checkpoint_through_ = r.last_seq;
  auto event = checkpoint_event(r, wall_now());
  if (!options_.checkpoints.empty()) {
    std::ofstream out(options_.checkpoints, std::ios::app);
    json line = event.payload;
    line["at"] = core::format_iso8601(event.at);
    out << core::json_text(line) << '\n';
    if (!out) spdlog::warn("journal integrity: cannot append to {}", options_.checkpoints.string());
  }
  spdlog::info("journal integrity: {} events verified in {:.1f} s, checkpoint through seq {}",
               r.events, r.seconds, r.last_seq);
  journal_.record(std::move(event), Durability::batched);
}

}  // namespace vitalsd::store
