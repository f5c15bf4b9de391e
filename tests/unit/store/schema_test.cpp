#include "store/schema.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "store/audit.hpp"
#include "store/journal.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

TEST(Schema, MigratesAnEmptyDatabaseToTheCurrentVersion) {
  test::TempDir dir;
  Db db(dir / "v.db", Db::Mode::read_write_create);
  migrate(db);
  EXPECT_EQ(db.scalar_int("PRAGMA user_version"), current_schema_version());
  for (const char* table : {"monitors", "observations", "events"})
    EXPECT_EQ(db.scalar_int(std::string("SELECT count(*) FROM sqlite_schema WHERE name = '") +
                            table + "'"),
              1)
        << table;
  migrate(db);  // idempotent
  EXPECT_EQ(db.scalar_int("PRAGMA user_version"), current_schema_version());
}

TEST(Schema, MigratesForwardFromEveryOlderVersion) {
  for (int from = 1; from < current_schema_version(); ++from) {
    test::TempDir dir;
    Db db(dir / "v.db", Db::Mode::read_write_create);
    for (int v = 0; v < from; ++v) ASSERT_FALSE(db.exec(migrations()[static_cast<std::size_t>(v)]));
    ASSERT_FALSE(db.exec("PRAGMA user_version = " + std::to_string(from)));
    migrate(db);
    EXPECT_EQ(db.scalar_int("PRAGMA user_version"), current_schema_version()) << "from " << from;
  }
}

// Issue 13: version 6 adds sessions.extremes; a v5 database's sessions keep everything they
// had and get an empty set of peaks.
TEST(Schema, Version6KeepsAVersion5DatabasesSessions) {
  test::TempDir dir;
  {
    Db db(dir / "v.db", Db::Mode::read_write_create);
    for (std::size_t v = 0; v < 5; ++v) ASSERT_FALSE(db.exec(migrations()[v]));
    ASSERT_FALSE(db.exec("PRAGMA user_version = 5"));
    ASSERT_FALSE(db.exec(
        "INSERT INTO sessions (id, monitor, patient, protocol, phase, phase_since, started_at, "
        "started_by, ended_at, ended_by, baseline, state) VALUES (1, 'chair-1', 'P-1', "
        "'ketamine-iv', 'ended', '2026-11-27T10:00:00.000Z', '2026-11-27T09:00:00.000Z', 'n', "
        "'2026-11-27T10:00:00.000Z', 'n', '{\"hr\":{\"value\":70}}', '{}')"));
  }
  Db db(dir / "v.db", Db::Mode::read_write);
  migrate(db);
  EXPECT_EQ(db.scalar_int("PRAGMA user_version"), current_schema_version());
  Stmt s(db, "SELECT patient, baseline, extremes FROM sessions WHERE id = 1");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "P-1");
  EXPECT_EQ(s.text(1), R"({"hr":{"value":70}})");
  EXPECT_EQ(s.text(2), "{}");
}

// tests/data/journal-v6.db was written by vitalsd at schema 6 (four simulated chairs, two
// sessions, 1124 observations, each with its `observation` event): version 7 keeps every reading
// as it was, the chain verifies, and the journal carries on after it.
TEST(Schema, Version7MigratesADatabaseWrittenAtVersion6) {
  test::TempDir dir;
  const auto fixture = std::filesystem::path(VITALSD_SOURCE_DIR) / "tests/data/journal-v6.db";
  std::filesystem::copy_file(fixture, dir / "vitals.db");
  const char* columns =
      "SELECT id, monitor, session, parameter, mdc_code, value, unit, device_time, received_at, "
      "validity, measurement_id FROM observations ORDER BY id";
  auto rows = [&](Db& db) {
    std::vector<std::string> out;
    Stmt s(db, columns);
    while (s.step()) {
      std::string line;
      for (int c = 0; c < 11; ++c) line += (s.is_null(c) ? std::string("NULL") : s.text(c)) + "|";
      out.push_back(line);
    }
    return out;
  };
  std::vector<std::string> before;
  {
    Db old(fixture, Db::Mode::read_only);
    ASSERT_EQ(old.scalar_int("PRAGMA user_version"), 6);
    before = rows(old);
    // An auditor's vitalsctl reads a file still at version 6 (an archive) as it is.
    const auto r = audit::verify(old);
    EXPECT_TRUE(r.ok()) << audit::summary(r);
    EXPECT_EQ(r.observations, 1124);
  }
  ASSERT_EQ(before.size(), 1124u);
  std::int64_t seq_before = 0;
  {
    Journal j({dir.path()});
    seq_before = j.stats().last_seq;
    j.start(JournalHooks{});
    core::Observation o;
    o.monitor = "chair-9";  // a monitor the old file never had
    o.parameter = core::Parameter::hr;
    o.value = 64;
    o.unit = "/min";
    o.received_at = core::Timestamp{std::chrono::milliseconds{1'790'000'000'000}};
    j.record({o});
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("PRAGMA user_version"), 7);
  auto after = rows(db);
  ASSERT_EQ(after.size(), 1125u);
  EXPECT_EQ(after.back(),
            "1125|chair-9|NULL|hr|147842|64.0|/min|NULL|2026-09-21T14:13:20.000Z|valid|NULL|");
  after.pop_back();
  EXPECT_EQ(after, before);  // every reading as version 6 had it, through the view
  // Each old reading keeps its `observation` event's seq; the new one its `observations` event.
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM readings WHERE seq = 0"), 0);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'observation'"), 1124);
  EXPECT_EQ(db.scalar_int("SELECT seq FROM readings WHERE id = 1125"), seq_before + 1);
  const auto r = audit::verify(db);
  EXPECT_TRUE(r.ok()) << audit::summary(r);
  EXPECT_EQ(r.observations, 1125);
}

TEST(Schema, RefusesANewerSchema) {
  test::TempDir dir;
  {
    Db db(dir / "vitals.db", Db::Mode::read_write_create);
    migrate(db);
    db.exec("PRAGMA user_version = 999");
  }
  try {
    Journal j({dir.path()});
    FAIL() << "opened a newer database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 999, newer than"), std::string::npos)
        << e.what();
  }
}

TEST(Schema, RefusesAForeignDatabase) {
  test::TempDir dir;
  {
    Db db(dir / "vitals.db", Db::Mode::read_write_create);
    db.exec("CREATE TABLE customers (id INTEGER)");
  }
  EXPECT_THROW(Journal({dir.path()}), StoreError);
}

TEST(Schema, RefusesACorruptFileAndLeavesItAlone) {
  test::TempDir dir;
  {
    std::ofstream f(dir / "vitals.db");
    f << std::string(4096, 'x');
  }
  try {
    Journal j({dir.path()});
    FAIL() << "opened a corrupt database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("vitals.db"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "vitals.db"), 4096u);  // never a silent new file
}

TEST(Schema, NoAppendOnlyTriggersAfterVersion4) {
  // Migration 4 drops them: they stopped nobody who can write the file, and made tampering look
  // refused. Tamper evidence is the hash chain plus `vitalsctl audit verify` (docs/auditing.md).
  test::TempDir dir;
  Db db(dir / "v.db", Db::Mode::read_write_create);
  for (std::size_t v = 0; v < 3; ++v) ASSERT_FALSE(db.exec(migrations()[v]));
  db.exec("PRAGMA user_version = 3");
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), 4);
  migrate(db);
  EXPECT_EQ(db.scalar_int("PRAGMA user_version"), current_schema_version());
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name "
                          "GLOB '*append_only*'"),
            0);
  ASSERT_FALSE(
      db.exec("INSERT INTO events VALUES (1, '2026-01-01T00:00:00.000Z', 't', NULL, NULL, '{}', "
              "'a', 'b')"));
  EXPECT_FALSE(db.exec("UPDATE events SET type = 'x'"));
  EXPECT_FALSE(db.exec("DELETE FROM events"));
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events"), 0);
}

}  // namespace
}  // namespace vitalsd::store
