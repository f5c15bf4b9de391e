// `vitalsctl archive`: moves what is older than --before out of the live journal into a
// complete, verifiable archive file, leaving a `journal.archived` checkpoint in the live chain
// (docs/auditing.md#archiving). Order: verify the live journal, write the archive to a
// temporary file, verify it, fsync, rename; only then delete from the live journal and append
// the checkpoint in one transaction. A failure at any step leaves the live journal unchanged.
#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/json_text.hpp"
#include "core/time.hpp"
#include "ctl/offline.hpp"
#include "store/audit.hpp"
#include "store/event.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Holds <state_dir>/vitalsd.lock, the daemon's own lock, for the whole run.
class StateLock {
 public:
  ~StateLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Empty on success, else the reason; `busy` when another process holds it.
  std::string take(const fs::path& path, bool& busy) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) return fmt::format("cannot open the lock {}: {}", path.string(), strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      busy = true;
      return fmt::format(
          "{} is in use by a running vitalsd (lock {} held): stop the daemon, then archive",
          path.parent_path().string(), path.string());
    }
    return {};
  }

 private:
  int fd_ = -1;
};

std::optional<std::string> fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return fmt::format("cannot open {}: {}", p.string(), strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return fmt::format("cannot fsync {}: {}", p.string(), strerror(err));
  return std::nullopt;
}

std::string who(const std::string& by) {
  if (!by.empty()) return by;
  if (const auto* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

std::optional<std::string> parse_before(const std::string& text) {
  auto t = core::parse_iso8601(text);
  if (!t && text.size() == 10) t = core::parse_iso8601(text + "T00:00:00Z");
  if (!t) return std::nullopt;
  return core::format_iso8601(*t);
}

// The cut: the first seq that stays. Starts at the first event at or after --before and moves
// down until no session or alert has events on both sides, every session that moves has ended,
// and no event a feed has not delivered moves.
struct Cut {
  std::int64_t first = 0;  // first seq in the live journal now
  std::int64_t next = 0;   // first seq that stays (N)
  std::int64_t last_seq = 0;
  std::string last_hash;              // of the live journal's last event
  std::int64_t previous_archive = 0;  // seq of the latest journal.archived event, 0 if none
};

struct Group {
  std::int64_t min = 0, max = 0;
  bool ended = false;
};

Cut find_cut(store::Db& db, const std::string& before) {
  Cut c;
  c.first = db.scalar_int("SELECT coalesce(min(seq), 0) FROM events");
  c.last_seq = db.scalar_int("SELECT coalesce(max(seq), 0) FROM events");
  {
    store::Stmt s(db, "SELECT hash FROM events ORDER BY seq DESC LIMIT 1");
    if (s.step()) c.last_hash = s.text(0);
  }
  c.previous_archive =
      db.scalar_int("SELECT coalesce(max(seq), 0) FROM events WHERE type = 'journal.archived'");
  {
    store::Stmt s(db, "SELECT min(seq) FROM events WHERE at >= ?");
    s.bind(1, before);
    c.next = s.step() && !s.is_null(0) ? s.int64(0) : c.last_seq + 1;
  }
  // Feeds: nothing a receiver has not acknowledged moves out.
  {
    store::Stmt s(db, "SELECT min(delivered) FROM feed_cursors");
    if (s.step() && !s.is_null(0)) c.next = std::min(c.next, s.int64(0) + 1);
  }
  std::vector<Group> groups;
  {
    store::Stmt s(db,
                  "SELECT min(seq), max(seq), max(type = 'session.ended') FROM events WHERE "
                  "session IS NOT NULL GROUP BY session");
    while (s.step()) groups.push_back({s.int64(0), s.int64(1), s.int64(2) != 0});
  }
  {
    store::Stmt s(db,
                  "SELECT min(seq), max(seq) FROM events WHERE type >= 'alert.' AND type < "
                  "'alert/' GROUP BY json_extract(payload, '$.alert.id')");
    while (s.step()) groups.push_back({s.int64(0), s.int64(1), true});
  }
  for (bool moved = true; moved;) {
    moved = false;
    for (const auto& g : groups)
      if (g.min < c.next && (g.max >= c.next || !g.ended)) {
        c.next = g.min;
        moved = true;
      }
  }
  return c;
}

// The rows that move with events [first, next): sessions and alerts named by their events.
constexpr const char* kMovedSessions =
    "SELECT json_extract(payload, '$.id') FROM {0}events WHERE type >= 'session.' AND type < "
    "'session/' AND seq < {1}";
constexpr const char* kMovedAlerts =
    "SELECT json_extract(payload, '$.alert.id') FROM {0}events WHERE type >= 'alert.' AND type "
    "< 'alert/' AND seq < {1}";

// Writes events [first, next) and their rows into a new file at `tmp`. Returns an error.
std::optional<std::string> write_archive(const fs::path& live, const fs::path& tmp, const Cut& c) {
  try {
    store::Db a(tmp, store::Db::Mode::read_write_create);
    store::migrate(a);
    store::Stmt att(a, "ATTACH DATABASE ? AS src");
    att.bind(1, live.string());
    att.step();
    if (!att.ok()) return "cannot attach " + live.string() + ": " + a.error_message();
    const auto n = std::to_string(c.next);
    const std::string sql =
        "BEGIN;"
        "INSERT INTO main.events SELECT * FROM src.events WHERE seq < " +
        n + ";" + "INSERT INTO main.readings SELECT * FROM src.readings WHERE seq < " + n + ";" +
        "INSERT INTO main.observation_sources SELECT * FROM src.observation_sources;"
        "INSERT INTO main.observation_kinds SELECT * FROM src.observation_kinds;" +
        "INSERT INTO main.sessions SELECT * FROM src.sessions WHERE id IN (" +
        fmt::format(kMovedSessions, "src.", n) + ");" +
        "INSERT INTO main.alerts SELECT * FROM src.alerts WHERE id IN (" +
        fmt::format(kMovedAlerts, "src.", n) + ");" +
        "INSERT INTO main.monitors SELECT * FROM src.monitors;"
        "COMMIT;";
    if (auto err = a.exec(sql)) {
      a.exec("ROLLBACK");
      return "cannot write the archive " + tmp.string() + ": " + *err;
    }
    if (auto err = a.exec("DETACH DATABASE src"))
      return "cannot write the archive " + tmp.string() + ": " + *err;
  } catch (const std::exception& e) {
    return std::string("cannot write the archive: ") + e.what();
  }
  // Like exports, readable by its owner only: it holds patient references.
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  if (ec) return "cannot write the archive " + tmp.string() + ": " + ec.message();
  return fsync_path(tmp, O_RDONLY);
}

// Deletes events [first, next) and their rows from the live journal and appends the
// journal.archived event, in one transaction. Returns an error (the journal then unchanged).
std::optional<std::string> cut_live(store::Db& db, const Cut& c, const json& payload,
                                    std::int64_t& seq, std::string& hash) {
  if (auto err = db.exec("BEGIN IMMEDIATE")) return "cannot write the journal: " + *err;
  auto fail = [&](const std::string& what) {
    const auto msg = what + ": " + db.error_message();
    db.exec("ROLLBACK");
    return msg;
  };
  try {
    // The daemon's lock is held, but check nothing moved since the verification.
    store::Stmt last(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    if (!last.step() || last.int64(0) != c.last_seq || last.text(1) != c.last_hash) {
      db.exec("ROLLBACK");
      return "the journal changed while archiving; nothing was removed";
    }
    const auto n = std::to_string(c.next);
    const std::string sql =
        "DELETE FROM sessions WHERE id IN (" + fmt::format(kMovedSessions, "", n) + ");" +
        "DELETE FROM alerts WHERE id IN (" + fmt::format(kMovedAlerts, "", n) + ");" +
        "DELETE FROM readings WHERE seq < " + n + ";" + "DELETE FROM events WHERE seq < " + n + ";";
    if (auto err = db.exec(sql)) {
      db.exec("ROLLBACK");
      return "cannot remove the archived rows: " + *err;
    }
    const auto at = core::format_iso8601(
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    const std::string type = "journal.archived";
    const auto text = core::json_text(payload);
    seq = c.last_seq + 1;
    hash = store::chain_hash(c.last_hash, seq, at, type, "", std::nullopt, text);
    store::Stmt ins(db,
                    "INSERT INTO events (seq, at, type, monitor, session, payload, prev_hash, "
                    "hash) VALUES (?, ?, ?, NULL, NULL, ?, ?, ?)");
    ins.bind(1, seq).bind(2, at).bind(3, type).bind(4, text).bind(5, c.last_hash).bind(6, hash);
    ins.step();
    if (!ins.ok()) return fail("cannot append the archive checkpoint");
  } catch (const std::exception& e) {
    db.exec("ROLLBACK");
    return std::string("cannot write the journal: ") + e.what();
  }
  if (auto err = db.exec("COMMIT")) {
    db.exec("ROLLBACK");
    return "cannot commit: " + *err;
  }
  return std::nullopt;
}

store::audit::Result verify_file(const fs::path& p) {
  store::audit::Result r;
  try {
    store::Db db(p, store::Db::Mode::read_only);
    db.exec("PRAGMA query_only = 1");
    r = store::audit::verify(db);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace

int archive(const ArchiveArgs& args) {
  const auto before = parse_before(args.before);
  if (!before) {
    fmt::print(stderr,
               "vitalsctl: --before {}: expected a UTC date or time, e.g. 2026-01-01 or "
               "2026-01-01T00:00:00Z\n",
               args.before);
    return kUsage;
  }
  std::error_code ec;
  const fs::path out(args.out);
  if (args.out.empty() || !fs::is_directory(out, ec) || ::access(out.c_str(), W_OK | X_OK) != 0) {
    fmt::print(stderr, "vitalsctl: --out {}: not a writable directory\n", args.out);
    return kUsage;
  }
  const fs::path live = fs::absolute(args.db, ec);
  if (!fs::is_regular_file(live, ec)) {
    fmt::print(stderr, "vitalsctl: {}: no such database file\n", args.db);
    return kUnreachable;
  }
  if (fs::equivalent(live.parent_path(), out, ec)) {
    fmt::print(stderr, "vitalsctl: --out must not be the state directory of {}\n", args.db);
    return kUsage;
  }

  StateLock lock;
  bool busy = false;
  if (auto err = lock.take(live.parent_path() / "vitalsd.lock", busy); !err.empty()) {
    fmt::print(stderr, "vitalsctl: {}\n", err);
    return busy ? kBusy : kRefused;
  }

  // 1. The live journal must be intact: an archive of a broken journal proves nothing.
  const auto t0 = std::chrono::steady_clock::now();
  auto r = verify_file(live);
  if (!r.error.empty()) {
    fmt::print(stderr, "vitalsctl: {}\n", r.error);
    return kUnreachable;
  }
  if (!r.ok()) {
    fmt::print(stderr, "vitalsctl: refusing to archive a broken journal; nothing changed\n{}",
               store::audit::summary(r));
    return kRefused;
  }

  Cut c;
  try {
    store::Db db(live, store::Db::Mode::read_only);
    if (db.scalar_int("PRAGMA user_version") != store::current_schema_version()) {
      fmt::print(stderr,
                 "vitalsctl: {} has schema version {}, this vitalsctl archives version {}: start "
                 "the matching vitalsd once to migrate it\n",
                 args.db, db.scalar_int("PRAGMA user_version"), store::current_schema_version());
      return kUnreachable;
    }
    c = find_cut(db, *before);
  } catch (const std::exception& e) {
    fmt::print(stderr, "vitalsctl: {}\n", e.what());
    return kUnreachable;
  }
  if (c.next <= c.first || c.first == 0) {
    fmt::print(
        "nothing to archive: no ended session's records older than {} (the journal "
        "starts at seq {}); nothing changed\n",
        *before, c.first);
    return kOk;
  }
  if (c.previous_archive >= c.next) {
    // The archive would start after seq 1 without the checkpoint that explains it.
    fmt::print(stderr,
               "vitalsctl: the previous archive checkpoint (seq {}) is newer than --before {}: "
               "choose a --before after it, so that this archive holds it; nothing changed\n",
               c.previous_archive, *before);
    return kRefused;
  }

  // 2. The archive: written to a temporary name, verified, fsynced, renamed.
  const auto name = fmt::format("vitals-archive-{}-{}.db", c.first, c.next - 1);
  const auto final_path = out / name;
  if (fs::exists(final_path, ec)) {
    fmt::print(stderr,
               "vitalsctl: {} exists already (an earlier run?): check it and move it away; "
               "nothing changed\n",
               final_path.string());
    return kRefused;
  }
  const auto tmp = out / ("." + name + ".tmp");
  fs::remove(tmp, ec);
  auto discard = [&](const fs::path& p) {
    std::error_code ignored;
    fs::remove(p, ignored);
    fs::remove(p.string() + "-journal", ignored);
  };
  if (auto err = write_archive(live, tmp, c)) {
    discard(tmp);
    fmt::print(stderr, "vitalsctl: {}; nothing changed\n", *err);
    return kRefused;
  }
  const auto ar = verify_file(tmp);
  std::string last_hash;
  {
    // The archive must end exactly where the live journal will start.
    try {
      store::Db db(live, store::Db::Mode::read_only);
      store::Stmt s(db, "SELECT hash FROM events WHERE seq = ?");
      s.bind(1, c.next - 1);
      if (s.step()) last_hash = s.text(0);
    } catch (const std::exception&) {
    }
  }
  if (!ar.ok() || ar.first_seq != c.first || ar.last_seq != c.next - 1 ||
      ar.last_hash != last_hash || last_hash.empty()) {
    discard(tmp);
    fmt::print(stderr, "vitalsctl: the archive did not verify; nothing changed\n{}\n",
               store::audit::summary(ar));
    return kRefused;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    discard(tmp);
    fmt::print(stderr, "vitalsctl: cannot write {}: {}; nothing changed\n", final_path.string(),
               strerror(err));
    return kRefused;
  }
  if (auto err = fsync_path(out, O_RDONLY | O_DIRECTORY)) {
    discard(final_path);
    fmt::print(stderr, "vitalsctl: {}; nothing changed\n", *err);
    return kRefused;
  }
  std::string sha;
  if (auto err = sha256_file(final_path, sha)) {
    discard(final_path);
    fmt::print(stderr, "vitalsctl: {}; nothing changed\n", *err);
    return kRefused;
  }

  // 3. The live journal: the moved rows out and the checkpoint in, in one transaction.
  const json payload{{"first_seq", c.first},
                     {"last_seq", c.next - 1},
                     {"last_hash", last_hash},
                     {"first_at", ar.first_at},
                     {"last_at", ar.last_at},
                     {"before", *before},
                     {"file", name},
                     {"sha256", sha},
                     {"events", ar.events},
                     {"observations", ar.observations},
                     {"sessions", ar.sessions},
                     {"alerts", ar.alerts},
                     {"by", who(args.by)}};
  std::int64_t seq = 0;
  std::string hash;
  std::optional<std::string> err;
  try {
    store::Db db(live, store::Db::Mode::read_write);
    err = cut_live(db, c, payload, seq, hash);
    if (!err) db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (err) {
    discard(final_path);
    fmt::print(stderr, "vitalsctl: {}; the journal is unchanged and no archive was kept\n", *err);
    return kRefused;
  }
  const auto after = verify_file(live);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(
      "archived seq {}..{} ({} events, {} observations, {} sessions, {} alerts; {} .. {}) to "
      "{}\nsha256 {}\ncheckpoint in the journal: seq {} (journal.archived); the journal now holds "
      "seq {}..{}\nanchor (keep it): {}:{}\ndone in {:.2f} s\n",
      c.first, c.next - 1, ar.events, ar.observations, ar.sessions, ar.alerts, ar.first_at,
      ar.last_at, final_path.string(), sha, seq, c.next, seq, seq, hash, seconds);
  if (!after.ok()) {
    fmt::print(stderr, "vitalsctl: the journal does not verify after archiving:\n{}\n",
               store::audit::summary(after));
    return kRefused;
  }
  return kOk;
}

}  // namespace vitalsd::ctl
