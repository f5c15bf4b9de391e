// The daemon's checks of its own journal on real files: a tampered tail raises journal_integrity
// (journaled, so it reaches every subscriber) and is never silently extended; a foreign or empty
// file is refused without a byte written; the background pass checkpoints a clean journal and
// raises a break it finds once.
#include "store/integrity.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "journal_fixture.hpp"
#include "store/schema.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

using namespace std::chrono_literals;
using test_fixture::file_bytes;
using test_fixture::write_clinic_journal;

void tamper(const std::filesystem::path& p, const std::string& sql) {
  Db db(p, Db::Mode::read_write);
  const auto err = db.exec(sql);
  ASSERT_FALSE(err) << sql << ": " << *err;
}

std::vector<nlohmann::json> events_of_type(const std::filesystem::path& p, const char* type) {
  Db db(p, Db::Mode::read_only);
  Stmt s(db, "SELECT seq, payload FROM events WHERE type = ? ORDER BY seq");
  s.bind(1, std::string_view(type));
  std::vector<nlohmann::json> out;
  while (s.step()) {
    auto j = nlohmann::json::parse(s.text(1));
    j["seq"] = s.int64(0);
    out.push_back(j);
  }
  return out;
}

std::int64_t last_seq(const std::filesystem::path& p) {
  Db db(p, Db::Mode::read_only);
  return db.scalar_int("SELECT max(seq) FROM events");
}

Journal::Options quiet(const std::filesystem::path& dir) {
  Journal::Options o{dir};
  o.integrity_interval = {};
  return o;
}

template <class F>
bool eventually(F f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(Integrity, ATamperedTailRaisesJournalIntegrityFirstAndIsNotExtendedSilently) {
  test::TempDir dir;
  const auto w = write_clinic_journal(dir / "state");
  const auto broken = last_seq(w.database) - 2;
  tamper(w.database,
         "UPDATE events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = " + std::to_string(broken));
  std::vector<CommittedEventPtr> published;
  {
    Journal j(quiet(dir / "state"));
    EXPECT_EQ(j.startup_break(), broken);
    j.start([&](const std::vector<CommittedEventPtr>& c) {
      published.insert(published.end(), c.begin(), c.end());
    });
    j.record(Event{"daemon.stopped", test_fixture::T0, "", std::nullopt, {{"reason", "test"}}});
    j.stop();
  }
  // The break is the first thing committed after it, and handed to the feeds like any event.
  ASSERT_GE(published.size(), 2u);
  EXPECT_EQ(published[0]->event.type, "journal.integrity");
  const auto& p = published[0]->event.payload;
  EXPECT_EQ(p["rule"], "journal_integrity");
  EXPECT_EQ(p["priority"], "high");
  EXPECT_EQ(p["alert"]["state"], "active");
  EXPECT_EQ(p["check"], "start-up");
  EXPECT_EQ(p["first_broken_seq"], broken);
  EXPECT_NE(p["reason"].get<std::string>().find(std::to_string(broken)), std::string::npos);
  EXPECT_NE(published[0]->json.find("journal_integrity"), std::string::npos);

  // Verify still names the original break, and only it: what came after links correctly.
  Db db(w.database, Db::Mode::read_only);
  const auto r = audit::verify(db);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].row, broken);
  for (const auto& p2 : r.problems) {  // the chain's links after it are all sound
    if (p2.table == "events") {
      EXPECT_EQ(p2.row, broken) << audit::to_string(p2);
    }
  }
  EXPECT_GT(r.last_seq, broken + 2);
  EXPECT_EQ(r.recorded_breaks, std::vector<std::int64_t>{broken});

  // The next start does not raise the same break again.
  Journal again(quiet(dir / "state"));
  EXPECT_EQ(again.startup_break(), 0);
}

TEST(Integrity, AForeignSqliteFileIsRefusedWithoutAByteWritten) {
  test::TempDir dir;
  {
    Db db(dir / "vitals.db", Db::Mode::read_write_create);
    db.exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x')");
  }
  const auto before = file_bytes(dir / "vitals.db");
  try {
    Journal j(quiet(dir.path()));
    FAIL() << "opened a foreign database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not a vitalsd database"), std::string::npos) << e.what();
  }
  EXPECT_EQ(file_bytes(dir / "vitals.db"), before);  // still a rollback-journal file, not WAL
  EXPECT_FALSE(std::filesystem::exists(dir / "vitals.db-wal"));
}

TEST(Integrity, ANonSqliteFileAndANewerJournalAreRefusedUntouched) {
  test::TempDir dir;
  std::ofstream(dir / "vitals.db") << std::string(4096, 'q');
  try {
    Journal j(quiet(dir.path()));
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not an SQLite database"), std::string::npos) << e.what();
  }
  EXPECT_EQ(file_bytes(dir / "vitals.db"), std::string(4096, 'q'));

  test::TempDir newer;
  {
    Db db(newer / "vitals.db", Db::Mode::read_write_create);
    migrate(db);
    db.exec("PRAGMA user_version = " + std::to_string(current_schema_version() + 1));
  }
  const auto before = file_bytes(newer / "vitals.db");
  EXPECT_THROW(Journal j(quiet(newer.path())), StoreError);
  EXPECT_EQ(file_bytes(newer / "vitals.db"), before);
}

TEST(Integrity, AnEmptyFileIsRefusedAndANewJournalStartsOnlyWhereNoFileExists) {
  test::TempDir dir;
  std::ofstream(dir / "vitals.db").close();
  try {
    Journal j(quiet(dir.path()));
    FAIL() << "started a new journal over an empty file";
  } catch (const StoreError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "vitals.db"), 0u);
  std::filesystem::remove(dir / "vitals.db");
  Journal j(quiet(dir.path()));
  EXPECT_TRUE(std::filesystem::exists(dir / "vitals.db"));
}

TEST(Integrity, TheBackgroundPassCheckpointsACleanJournalAndRaisesABreakOnce) {
  test::TempDir dir;
  const auto w = write_clinic_journal(dir / "state");
  Journal::Options o{dir / "state"};
  o.integrity_first_after = 10ms;
  o.integrity_interval = 100ms;
  Journal j(o);
  j.start(JournalHooks{});
  ASSERT_TRUE(
      eventually([&] { return !events_of_type(w.database, "journal.checkpoint").empty(); }));
  const auto cp = events_of_type(w.database, "journal.checkpoint").front();
  EXPECT_GT(cp["through_seq"].get<std::int64_t>(), 20);
  EXPECT_EQ(cp["through_hash"].get<std::string>().size(), 64u);
  EXPECT_GT(cp["observations"].get<std::int64_t>(), 0);
  std::string err;
  const auto anchors = audit::read_anchors((dir / "state/checkpoints.jsonl").string(), err);
  ASSERT_TRUE(anchors && !anchors->empty()) << err;
  EXPECT_EQ(anchors->front().seq, cp["through_seq"].get<std::int64_t>());

  // An observation edited behind the daemon's back, far from the tail.
  tamper(w.database, "UPDATE observations SET value = 150 WHERE id = 2");
  ASSERT_TRUE(eventually([&] { return !events_of_type(w.database, "journal.integrity").empty(); }));
  std::this_thread::sleep_for(400ms);  // more passes: the same break is not raised again
  const auto raised = events_of_type(w.database, "journal.integrity");
  j.stop();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0]["check"], "background");
  EXPECT_EQ(raised[0]["table"], "observations");
  // The rows one `observations` event chains are named as a range: row 2 is among them.
  EXPECT_LE(raised[0]["row"].get<std::int64_t>(), 2);
  EXPECT_NE(raised[0]["reason"].get<std::string>().find("do not match the sha256"),
            std::string::npos);
  EXPECT_EQ(raised[0]["priority"], "high");
}

}  // namespace
}  // namespace vitalsd::store
