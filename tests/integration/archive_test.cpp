// `vitalsctl archive` with the real binaries on real files: the archive and what remains both
// verify, tampering with what remains (or with the archive checkpoint) is still caught, the
// daemon's lock and bad arguments are refused with the database untouched, and vitalsd carries
// on appending to an archived journal with the chain intact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/time.hpp"
#include "integration/one_chair_daemon.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/journal_fixture.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
using store::test_fixture::file_bytes;
const std::string kCtl = VITALSD_BIN_DIR "/vitalsctl";

std::string run_daemon(const test::TempDir& dir, std::chrono::milliseconds how_long) {
  return test::run_one_chair_daemon(dir, how_long);
}

// The clinic fixture (one ended session, 2026-09) followed by a daemon run (today): the
// session's records are older than --before, the daemon's are not.
struct Archived {
  test::TempDir dir;
  std::string db;
  std::filesystem::path out;
  std::int64_t last_archived = 0;  // seq
  std::int64_t events_before = 0;
};

const std::string kBefore = core::format_iso8601(store::test_fixture::T0 + 24h);

void prepare(Archived& a) {
  store::test_fixture::write_clinic_journal(a.dir / "state");
  run_daemon(a.dir, 1500ms);
  a.db = (a.dir / "state/vitals.db").string();
  a.out = a.dir / "archive";
  std::filesystem::create_directories(a.out);
  store::Db r(a.db, store::Db::Mode::read_only);
  a.events_before = r.scalar_int("SELECT count(*) FROM events");
  a.last_archived = r.scalar_int("SELECT max(seq) FROM events WHERE at < '" + kBefore + "'");
}

std::pair<int, std::string> archive(Archived& a, const std::string& name = "arc") {
  return test::run({kCtl, "archive", "--db", a.db, "--before", kBefore, "--out", a.out.string(),
                    "--by", "auditor-1"},
                   a.dir / name);
}

std::pair<int, std::string> verify(const std::string& db, const test::TempDir& dir,
                                   const std::string& name) {
  return test::run({kCtl, "audit", "verify", "--db", db}, dir / name);
}

std::string archive_file(const Archived& a) {
  return (a.out / ("vitals-archive-1-" + std::to_string(a.last_archived) + ".db")).string();
}

TEST(Archive, MovesTheEndedSessionAndBothPartsVerify) {
  Archived a;
  prepare(a);
  ASSERT_GT(a.last_archived, 10);
  auto [rc, out] = archive(a);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("archived seq 1.." + std::to_string(a.last_archived)), std::string::npos)
      << out;
  ASSERT_TRUE(std::filesystem::is_regular_file(archive_file(a))) << out;

  std::tie(rc, out) = verify(archive_file(a), a.dir, "va");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("seq 1.." + std::to_string(a.last_archived) + ","), std::string::npos) << out;
  EXPECT_NE(out.find("1 sessions"), std::string::npos) << out;

  std::tie(rc, out) = verify(a.db, a.dir, "vl");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("archived: seq 1.." + std::to_string(a.last_archived)), std::string::npos)
      << out;
  EXPECT_NE(out.find("by auditor-1"), std::string::npos) << out;

  store::Db live(a.db, store::Db::Mode::read_only);
  EXPECT_EQ(live.scalar_int("SELECT min(seq) FROM events"), a.last_archived + 1);
  EXPECT_EQ(live.scalar_int("SELECT count(*) FROM sessions"), 0);
  EXPECT_EQ(live.scalar_int("SELECT count(*) FROM alerts"), 0);
  EXPECT_EQ(live.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'chair-1'"), 0);
  EXPECT_EQ(live.scalar_int("SELECT count(*) FROM events"), a.events_before - a.last_archived + 1);
  store::Stmt s(live, "SELECT payload FROM events WHERE type = 'journal.archived'");
  ASSERT_TRUE(s.step());
  const auto p = nlohmann::json::parse(s.text(0));
  EXPECT_EQ(p["last_seq"], a.last_archived);
  EXPECT_EQ(p["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(p["by"], "auditor-1");
  store::Db arc(archive_file(a), store::Db::Mode::read_only);
  store::Stmt h(arc, "SELECT hash FROM events WHERE seq = ?");
  h.bind(1, a.last_archived);
  ASSERT_TRUE(h.step());
  EXPECT_EQ(p["last_hash"], h.text(0));
  EXPECT_EQ(arc.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'chair-a'"), 0);
}

TEST(Archive, TheDaemonAppendsToAnArchivedJournalWithTheChainIntact) {
  Archived a;
  prepare(a);
  ASSERT_EQ(archive(a).first, 0);
  std::int64_t checkpoint = 0;
  {
    store::Db r(a.db, store::Db::Mode::read_only);
    checkpoint = r.scalar_int("SELECT seq FROM events WHERE type = 'journal.archived'");
  }
  const auto log = run_daemon(a.dir, 1500ms);
  EXPECT_EQ(log.find("journal integrity"), std::string::npos) << log;
  store::Db r(a.db, store::Db::Mode::read_only);
  EXPECT_GT(r.scalar_int("SELECT max(seq) FROM events"), checkpoint + 1);
  EXPECT_EQ(r.scalar_int("SELECT count(*) FROM events WHERE type = 'journal.integrity'"), 0);
  auto [rc, out] = verify(a.db, a.dir, "v");
  EXPECT_EQ(rc, 0) << out;
}

TEST(Archive, TamperingWithWhatRemainsIsStillCaught) {
  Archived a;
  prepare(a);
  ASSERT_EQ(archive(a).first, 0);
  const auto n = a.last_archived + 1;
  const auto copy = [&](const std::string& name) {
    const auto p = (a.dir / name).string();
    std::filesystem::copy_file(a.db, p);
    return p;
  };
  {  // An edited event after the cut.
    const auto db = copy("edited.db");
    store::Db w(db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("UPDATE events SET payload = json_set(payload, '$.x', 1) WHERE seq = " +
                        std::to_string(n + 2)));
    auto [rc, out] = verify(db, a.dir, "v1");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("seq " + std::to_string(n + 2) + ":"), std::string::npos) << out;
  }
  {  // More rows deleted after the cut, as if they had been archived too.
    const auto db = copy("deleted.db");
    store::Db w(db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("DELETE FROM events WHERE seq < " + std::to_string(n + 3)));
    auto [rc, out] = verify(db, a.dir, "v2");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("seq " + std::to_string(n) + ".." + std::to_string(n + 2) + " are missing"),
              std::string::npos)
        << out;
  }
  {  // An edited observation row after the cut.
    const auto db = copy("row.db");
    store::Db w(db, store::Db::Mode::read_write);
    const auto id = w.scalar_int("SELECT max(id) FROM observations");
    ASSERT_FALSE(
        w.exec("UPDATE observations SET value = value + 1 WHERE id = " + std::to_string(id)));
    auto [rc, out] = verify(db, a.dir, "v3");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find(".." + std::to_string(id) + " do not match the sha256"), std::string::npos)
        << out;
  }
}

TEST(Archive, AWrongOrMissingArchiveCheckpointIsCaught) {
  Archived a;
  prepare(a);
  ASSERT_EQ(archive(a).first, 0);
  const auto n = std::to_string(a.last_archived + 1);
  {  // Without the checkpoint, a journal starting after seq 1 is a journal whose head was cut.
    const auto db = (a.dir / "missing.db").string();
    std::filesystem::copy_file(a.db, db);
    store::Db w(db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("DELETE FROM events WHERE type = 'journal.archived'"));
    auto [rc, out] = verify(db, a.dir, "v1");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("seq 1.." + std::to_string(a.last_archived) + " are missing"),
              std::string::npos)
        << out;
  }
  {  // A checkpoint claiming another last hash: its own hash breaks.
    const auto db = (a.dir / "wrong.db").string();
    std::filesystem::copy_file(a.db, db);
    store::Db w(db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("UPDATE events SET payload = json_set(payload, '$.last_hash', '" +
                        std::string(64, 'a') + "') WHERE type = 'journal.archived'"));
    auto [rc, out] = verify(db, a.dir, "v2");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("seq " + n + ": prev_hash does not match"), std::string::npos) << out;
    EXPECT_NE(out.find("the row was altered"), std::string::npos) << out;
  }
  {  // A checkpoint claiming more was archived than was: the rows still there are named.
    const auto db = (a.dir / "more.db").string();
    std::filesystem::copy_file(a.db, db);
    store::Db w(db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("UPDATE events SET payload = json_set(payload, '$.last_seq', " + n +
                        ") WHERE type = 'journal.archived'"));
    auto [rc, out] = verify(db, a.dir, "v3");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("records them as moved"), std::string::npos) << out;
  }
}

TEST(Archive, ALaterArchiveHoldsThePreviousCheckpointAndBothVerify) {
  Archived a;
  prepare(a);
  ASSERT_EQ(archive(a).first, 0);
  std::int64_t checkpoint = 0;
  std::string checkpoint_at;
  {
    store::Db r(a.db, store::Db::Mode::read_only);
    checkpoint = r.scalar_int("SELECT seq FROM events WHERE type = 'journal.archived'");
    store::Stmt s(r, "SELECT at FROM events WHERE seq = ?");
    s.bind(1, checkpoint);
    ASSERT_TRUE(s.step());
    checkpoint_at = s.text(0);
  }
  // A cut before the first archive's checkpoint would leave the second archive unexplained.
  const auto before = file_bytes(a.db);
  auto [rc, out] =
      test::run({kCtl, "archive", "--db", a.db, "--before", checkpoint_at, "--out", a.out.string()},
                a.dir / "a2");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("previous archive checkpoint (seq " + std::to_string(checkpoint) + ")"),
            std::string::npos)
      << out;
  EXPECT_EQ(file_bytes(a.db), before);

  // Everything up to now, the first checkpoint included.
  const auto tomorrow = core::format_iso8601(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) +
      24h);
  std::tie(rc, out) = test::run(
      {kCtl, "archive", "--db", a.db, "--before", tomorrow, "--out", a.out.string()}, a.dir / "a3");
  ASSERT_EQ(rc, 0) << out;
  const auto second = (a.out / ("vitals-archive-" + std::to_string(a.last_archived + 1) + "-" +
                                std::to_string(checkpoint) + ".db"))
                          .string();
  std::tie(rc, out) = verify(second, a.dir, "v2");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("archived: seq 1.." + std::to_string(a.last_archived)), std::string::npos)
      << out;
  std::tie(rc, out) = verify(archive_file(a), a.dir, "v1");
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = verify(a.db, a.dir, "v3");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("archived: seq " + std::to_string(a.last_archived + 1) + ".." +
                     std::to_string(checkpoint)),
            std::string::npos)
      << out;
  store::Db r(a.db, store::Db::Mode::read_only);
  EXPECT_EQ(r.scalar_int("SELECT count(*) FROM events"), 1);
  EXPECT_EQ(r.scalar_int("SELECT count(*) FROM observations"), 0);
}

TEST(Archive, VerifyChecksTheArchiveFileAgainstTheSha256ItsCheckpointRecorded) {
  Archived a;
  prepare(a);
  ASSERT_EQ(archive(a).first, 0);
  std::int64_t checkpoint = 0;
  {
    store::Db r(a.db, store::Db::Mode::read_only);
    checkpoint = r.scalar_int("SELECT seq FROM events WHERE type = 'journal.archived'");
  }
  const auto live_bytes = file_bytes(a.db);
  auto check = [&](const std::string& file, const std::string& name) {
    return test::run({kCtl, "audit", "verify", "--db", a.db, "--archive", file}, a.dir / name);
  };
  auto [rc, out] = check(archive_file(a), "c1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok: SHA-256 "), std::string::npos) << out;
  EXPECT_NE(
      out.find("recorded by the journal.archived checkpoint at seq " + std::to_string(checkpoint)),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("seq 1.." + std::to_string(a.last_archived) + " verified"), std::string::npos)
      << out;

  // The same file name, one observation edited after archiving: named by its hash, exit 1.
  const auto edited_dir = a.dir / "edited";
  std::filesystem::create_directories(edited_dir);
  const auto edited = (edited_dir / std::filesystem::path(archive_file(a)).filename()).string();
  std::filesystem::copy_file(archive_file(a), edited);
  {
    store::Db w(edited, store::Db::Mode::read_write);
    ASSERT_FALSE(
        w.exec("UPDATE observations SET value = value + 1 WHERE id = (SELECT min(id) "
               "FROM observations)"));
  }
  std::tie(rc, out) = check(edited, "c2");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("BROKEN: SHA-256"), std::string::npos) << out;
  EXPECT_NE(out.find("differs from"), std::string::npos) << out;
  EXPECT_NE(out.find("checkpoint at seq " + std::to_string(checkpoint)), std::string::npos) << out;
  EXPECT_NE(out.find("not the one that was written"), std::string::npos) << out;

  // A file the journal never archived (here the live journal itself).
  const auto other = (a.dir / "other.db").string();
  std::filesystem::copy_file(a.db, other);
  std::tie(rc, out) = check(other, "c3");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("recorded by none of the journal's 1 archive checkpoints"), std::string::npos)
      << out;

  // No such file: the archive cannot be checked at all.
  std::tie(rc, out) = check((a.dir / "nowhere.db").string(), "c4");
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("no such file"), std::string::npos) << out;

  // --json carries the same verdict per archive.
  std::tie(rc, out) =
      test::run({kCtl, "audit", "verify", "--json", "--db", a.db, "--archive", archive_file(a)},
                a.dir / "c5");
  EXPECT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(j.contains("archives")) << out;
  EXPECT_EQ(j["archives"][0]["ok"], true);
  EXPECT_EQ(j["archives"][0]["checkpoint_seq"], checkpoint);
  EXPECT_EQ(file_bytes(a.db), live_bytes);  // read-only throughout
}

TEST(Archive, RefusedWhileTheDaemonHoldsTheLock) {
  Archived a;
  prepare(a);
  const auto before = file_bytes(a.db);
  const int fd = ::open((a.dir / "state/vitalsd.lock").c_str(), O_RDWR | O_CREAT, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto [rc, out] = archive(a);
  ::close(fd);
  EXPECT_EQ(rc, 5) << out;
  EXPECT_NE(out.find("in use by a running vitalsd"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(a.db), before);
  EXPECT_TRUE(std::filesystem::is_empty(a.out));
}

TEST(Archive, BadArgumentsLeaveEverythingUntouched) {
  Archived a;
  prepare(a);
  const auto before = file_bytes(a.db);
  auto [rc, out] = test::run(
      {kCtl, "archive", "--db", a.db, "--before", "last tuesday", "--out", a.out.string()},
      a.dir / "b1");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--before last tuesday"), std::string::npos) << out;
  std::ofstream(a.dir / "plain") << "x";
  for (const auto& dir : {(a.dir / "plain").string(), (a.dir / "no/such").string()}) {
    std::tie(rc, out) = test::run(
        {kCtl, "archive", "--db", a.db, "--before", "2027-01-01", "--out", dir}, a.dir / "b2");
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("not a writable directory"), std::string::npos) << out;
  }
  std::tie(rc, out) = test::run({kCtl, "archive", "--db", (a.dir / "none.db").string(), "--before",
                                 "2027-01-01", "--out", a.out.string()},
                                a.dir / "b3");
  EXPECT_EQ(rc, 3) << out;
  EXPECT_EQ(file_bytes(a.db), before);
  EXPECT_TRUE(std::filesystem::is_empty(a.out));
  // An archive file already there is never overwritten.
  std::ofstream(archive_file(a)) << "earlier";
  std::tie(rc, out) = archive(a, "b4");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("exists already"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(a.db), before);
  EXPECT_EQ(file_bytes(archive_file(a)), "earlier");
  std::filesystem::remove(archive_file(a));

  // A database of a newer schema and a foreign file: refused, left as they were, nothing written.
  std::filesystem::create_directories(a.dir / "newer");
  const auto newer = (a.dir / "newer/vitals.db").string();
  std::filesystem::copy_file(a.db, newer);
  {
    store::Db w(newer, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("PRAGMA user_version = 99"));
  }
  const auto newer_bytes = file_bytes(newer);
  std::tie(rc, out) = test::run(
      {kCtl, "archive", "--db", newer, "--before", kBefore, "--out", a.out.string()}, a.dir / "b5");
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("newer"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(newer), newer_bytes);
  std::filesystem::create_directories(a.dir / "foreign");
  const auto foreign = (a.dir / "foreign/vitals.db").string();
  std::ofstream(foreign) << std::string(4096, 'x');
  std::tie(rc, out) =
      test::run({kCtl, "archive", "--db", foreign, "--before", kBefore, "--out", a.out.string()},
                a.dir / "b6");
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("not a database"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(foreign), std::string(4096, 'x'));
  EXPECT_TRUE(std::filesystem::is_empty(a.out));
}

TEST(Archive, AnOpenSessionIsNeverSplit) {
  // Only the fixture's session, cut in its middle: it moves whole or not at all, and it stays.
  test::TempDir dir;
  store::test_fixture::write_clinic_journal(dir / "state");
  const auto db = (dir / "state/vitals.db").string();
  const auto before = file_bytes(db);
  std::filesystem::create_directories(dir / "out");
  auto [rc, out] = test::run(
      {kCtl, "archive", "--db", db, "--before",
       core::format_iso8601(store::test_fixture::T0 + 600s), "--out", (dir / "out").string()},
      dir / "a");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nothing to archive"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(db), before);
  EXPECT_TRUE(std::filesystem::is_empty(dir / "out"));
}

TEST(Archive, ABrokenJournalIsNotArchived) {
  Archived a;
  prepare(a);
  {
    store::Db w(a.db, store::Db::Mode::read_write);
    ASSERT_FALSE(w.exec("UPDATE observations SET value = 1 WHERE id = 3"));
  }
  const auto before = file_bytes(a.db);
  auto [rc, out] = archive(a);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("refusing to archive a broken journal"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(a.db), before);
  EXPECT_TRUE(std::filesystem::is_empty(a.out));
}

}  // namespace
}  // namespace vitalsd
