// verify() on real SQLite files written by the journal, then tampered with plain SQL: each
// edit, deletion, insertion and reordering, in events and in each projected table, is named
// by its seq or row.
#include "store/audit.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "journal_fixture.hpp"
#include "store/event.hpp"
#include "store/readings.hpp"
#include "store/schema.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

using test_fixture::file_bytes;
using test_fixture::write_clinic_journal;

audit::Result verify_file(const std::filesystem::path& p, audit::Options o = {}) {
  Db db(p, Db::Mode::read_only);
  return audit::verify(db, o);
}

std::string problems(const audit::Result& r) {
  std::string s = r.error;
  for (const auto& p : r.problems) s += audit::to_string(p) + "\n";
  return s;
}

std::int64_t scalar(const std::filesystem::path& p, const std::string& sql) {
  Db db(p, Db::Mode::read_only);
  return db.scalar_int(sql);
}

void tamper(const std::filesystem::path& p, const std::string& sql) {
  Db db(p, Db::Mode::read_write);
  const auto err = db.exec(sql);
  ASSERT_FALSE(err) << sql << ": " << *err;
}

class Audit : public ::testing::Test {
 protected:
  void SetUp() override { w_ = write_clinic_journal(dir_ / "state"); }
  test::TempDir dir_;
  test_fixture::Written w_;
};

TEST_F(Audit, AnUntouchedJournalVerifiesWithItsFigures) {
  const auto before = file_bytes(w_.database);
  const auto r = verify_file(w_.database);
  ASSERT_TRUE(r.ok()) << problems(r);
  EXPECT_EQ(r.events, scalar(w_.database, "SELECT count(*) FROM events"));
  EXPECT_EQ(r.first_seq, 1);
  EXPECT_EQ(r.last_seq, r.events);
  EXPECT_EQ(r.observations, scalar(w_.database, "SELECT count(*) FROM observations"));
  EXPECT_GT(r.observations, 20);
  EXPECT_EQ(r.sessions, 1);
  EXPECT_GE(r.alerts, 1);
  EXPECT_TRUE(r.tables_checked);
  EXPECT_EQ(r.first_at, "2026-09-21T14:13:20.000Z");
  EXPECT_NE(audit::summary(r).find("ok: "), std::string::npos);
  EXPECT_EQ(file_bytes(w_.database), before);  // read-only: not a byte changed
}

struct Case {
  const char* name;
  const char* sql;
  const char* table;  // where the first problem is
  const char* says;   // part of its reason
};

class Tampered : public Audit, public ::testing::WithParamInterface<Case> {};

TEST_P(Tampered, IsCaughtAndNamed) {
  const auto& c = GetParam();
  tamper(w_.database, c.sql);
  const auto r = verify_file(w_.database);
  ASSERT_FALSE(r.ok()) << c.name;
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_FALSE(r.problems.empty());
  const auto& first = r.problems.front();
  EXPECT_EQ(first.table, c.table) << problems(r);
  EXPECT_NE(first.reason.find(c.says), std::string::npos) << problems(r);
  EXPECT_GT(first.row, 0) << problems(r);
  EXPECT_NE(audit::summary(r).find("BROKEN"), std::string::npos);
}

// The 11th observation row, the 6th event: as the acceptance test picks them.
#define OBS_11 "(SELECT id FROM observations ORDER BY id LIMIT 1 OFFSET 10)"

INSTANTIATE_TEST_SUITE_P(
    PlainSql, Tampered,
    ::testing::Values(
        // events
        Case{"event payload edited",
             "UPDATE events SET payload = replace(payload, '\"value\":98', '\"value\":99') "
             "WHERE seq = (SELECT min(seq) FROM events WHERE payload LIKE '%\"value\":98%')",
             "events", "altered"},
        Case{"event time edited", "UPDATE events SET at = '2026-01-01T00:00:00.000Z' WHERE seq = 3",
             "events", "altered"},
        Case{"event deleted", "DELETE FROM events WHERE seq = 6", "events", "missing"},
        Case{"events reordered",
             "UPDATE events SET seq = -seq WHERE seq IN (7, 8); UPDATE events SET seq = 8 WHERE "
             "seq = -7; UPDATE events SET seq = 7 WHERE seq = -8",
             "events", ""},
        Case{"event inserted at the end",
             "INSERT INTO events SELECT max(seq) + 1, max(at), 'alert.acknowledged', NULL, NULL, "
             "'{}', max(hash), max(hash) FROM events",
             "events", "prev_hash"},
        Case{"event inserted in the middle",
             "UPDATE events SET seq = -(seq + 1) WHERE seq >= 10; UPDATE events SET seq = -seq "
             "WHERE seq < 0; INSERT INTO events SELECT 10, at, type, monitor, session, payload, "
             "hash, hash FROM events WHERE seq = 9",
             "events", ""},
        Case{"event deleted with its observation rows",
             "DELETE FROM observations WHERE seq = (SELECT min(seq) FROM events WHERE type = "
             "'observations'); DELETE FROM events WHERE seq = (SELECT min(seq) FROM events "
             "WHERE type = 'observations')",
             "events", "missing"},
        // observations
        Case{"observation value edited",
             "UPDATE observations SET value = value + 1 WHERE id = " OBS_11, "observations",
             "do not match the sha256"},
        Case{"observation unit edited", "UPDATE observations SET unit = '%' WHERE id = 2",
             "observations", "do not match the sha256"},
        Case{"observation moved to another session",
             "UPDATE readings SET session = 2 WHERE id = " OBS_11, "observations",
             "do not match the sha256"},
        Case{"observation moved to another event",
             "UPDATE readings SET seq = seq - 1 WHERE id = " OBS_11, "observations", "says seq"},
        Case{"observation deleted", "DELETE FROM observations WHERE id = " OBS_11, "observations",
             "missing"},
        Case{"observation inserted",
             "INSERT INTO observations (monitor, session, parameter, mdc_code, value, unit, "
             "received_at, validity) VALUES ('chair-1', 1, 'hr', 147842, 60, '/min', "
             "'2026-09-21T14:20:00.000Z', 'valid')",
             "observations", "no journal event"},
        Case{"observations reordered",
             "UPDATE observations SET id = -id WHERE id IN (4, 5); UPDATE observations SET id = 5 "
             "WHERE id = -4; UPDATE observations SET id = 4 WHERE id = -5",
             "observations", ""},
        // sessions
        Case{"session patient edited", "UPDATE sessions SET patient = 'P-8'", "sessions",
             "patient is"},
        Case{"session end rewritten", "UPDATE sessions SET ended_by = 'nurse-z'", "sessions",
             "ended_by is"},
        Case{"session deleted", "DELETE FROM sessions", "sessions", "missing"},
        Case{"session renumbered", "UPDATE sessions SET id = id + 1", "sessions", ""},
        Case{"session inserted",
             "INSERT INTO sessions (id, monitor, patient, protocol, phase, phase_since, "
             "started_at, started_by) VALUES (99, 'chair-1', 'P-9', 'ketamine-iv', 'ended', "
             "'2026-09-21T14:13:20.000Z', '2026-09-21T14:13:20.000Z', 'nurse-a')",
             "sessions", "no journal event"},
        // alerts
        Case{"alert acknowledgement rewritten", "UPDATE alerts SET acknowledged_by = 'nurse-z'",
             "alerts", "acknowledged_by is"},
        Case{"alert value edited",
             "UPDATE alerts SET value = 150 WHERE id = (SELECT min(id) FROM alerts)", "alerts",
             "value is"},
        Case{"alert priority lowered", "UPDATE alerts SET priority = 'low'", "alerts",
             "priority is"},
        Case{"alerts reordered",
             "CREATE TEMP TABLE s AS SELECT min(id) AS a, max(id) AS b FROM alerts; UPDATE alerts "
             "SET id = -id WHERE id IN (SELECT a FROM s UNION SELECT b FROM s); UPDATE alerts SET "
             "id = (SELECT b FROM s) WHERE id = -(SELECT a FROM s); UPDATE alerts SET id = "
             "(SELECT a FROM s) WHERE id = -(SELECT b FROM s)",
             "alerts", "is"},
        Case{"alert deleted", "DELETE FROM alerts WHERE id = (SELECT min(id) FROM alerts)",
             "alerts", "missing"},
        Case{"alert inserted",
             "INSERT INTO alerts (id, session, monitor, rule, kind, priority, state, raised_at, "
             "active_since, updated_at) SELECT max(id) + 1, 1, 'chair-1', 'hr-low', "
             "'physiological', 'high', 'cleared', '2026-09-21T14:20:00.000Z', "
             "'2026-09-21T14:20:00.000Z', '2026-09-21T14:20:00.000Z' FROM alerts",
             "alerts", "no journal event"}),
    [](const ::testing::TestParamInfo<Case>& param) {
      std::string n;
      for (const char* p = param.param.name; *p; ++p)
        n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
      return n;
    });

TEST_F(Audit, ARecomputedChainIsStillCaughtByTheRowsAndTheAnchor) {
  // An attacker who edits a value and recomputes every hash after it: the chain holds, the
  // observations row no longer agrees, and an anchor kept outside no longer matches.
  const auto before = verify_file(w_.database);
  ASSERT_TRUE(before.ok());
  const audit::Anchor anchor{before.last_seq, before.last_hash};
  {
    Db db(w_.database, Db::Mode::read_write);
    ASSERT_FALSE(db.exec("UPDATE observations SET value = 99 WHERE id = 4"));
    // ... and the sha256 of the `observations` event that covers row 4.
    const auto seq4 = db.scalar_int("SELECT seq FROM readings WHERE id = 4");
    std::string sha4;
    {
      Stmt ev(db, "SELECT payload FROM events WHERE seq = ?");
      ev.bind(1, seq4);
      ASSERT_TRUE(ev.step());
      const auto p = nlohmann::json::parse(ev.text(0));
      ReadingDigest digest;
      for_each_reading(db, p["first_id"], p["last_id"], [&](const Reading& r) { digest.add(r); });
      sha4 = digest.hex();
    }
    ASSERT_FALSE(db.exec("BEGIN"));
    Stmt rows(db, "SELECT seq, at, type, monitor, session, payload FROM events ORDER BY seq");
    Stmt up(db, "UPDATE events SET payload = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4");
    std::string prev = kGenesisHash;
    std::vector<std::tuple<std::int64_t, std::string, std::string, std::string>> fixes;
    while (rows.step()) {
      auto payload = rows.text(5);
      auto p = nlohmann::json::parse(payload);
      if (rows.int64(0) == seq4) payload = (p["sha256"] = sha4, p).dump();
      const auto h = chain_hash(prev, rows.int64(0), rows.text(1), rows.text(2),
                                rows.text_or_null(3).value_or(""), rows.int64_or_null(4), payload);
      fixes.emplace_back(rows.int64(0), payload, prev, h);
      prev = h;
    }
    for (const auto& [seq, payload, ph, h] : fixes) {
      up.reset();
      up.bind(1, payload).bind(2, ph).bind(3, h).bind(4, seq);
      up.step();
      ASSERT_TRUE(up.ok());
    }
    ASSERT_FALSE(db.exec("COMMIT"));
  }
  audit::Options chain_only;
  chain_only.check_tables = false;
  EXPECT_TRUE(verify_file(w_.database, chain_only).ok());  // the chain alone is consistent
  audit::Options anchored;
  anchored.anchors = {anchor};
  const auto r = verify_file(w_.database, anchored);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.back().table, "checkpoint") << problems(r);
  EXPECT_NE(r.problems.back().reason.find("rewritten"), std::string::npos) << problems(r);
}

TEST_F(Audit, ATailCutOffAfterACheckpointIsCaught) {
  const auto whole = verify_file(w_.database);
  ASSERT_TRUE(whole.ok());
  // The last 4 events go, with the rows they describe: internally consistent, shorter.
  const auto keep = whole.last_seq - 4;
  tamper(w_.database, "DELETE FROM observations WHERE seq > " + std::to_string(keep) +
                          "; DELETE FROM events WHERE seq > " + std::to_string(keep));
  audit::Options chain_only;
  chain_only.check_tables = false;
  EXPECT_TRUE(verify_file(w_.database, chain_only).ok());
  audit::Options anchored;
  anchored.anchors = {{whole.last_seq, whole.last_hash}};
  const auto r = verify_file(w_.database, anchored);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(problems(r).find("cut off"), std::string::npos) << problems(r);
  EXPECT_NE(problems(r).find(std::to_string(keep)), std::string::npos) << problems(r);
}

TEST_F(Audit, CheckpointsInTheJournalAreCheckedAndAnchorsRead) {
  const auto whole = verify_file(w_.database);
  test::TempDir files;
  std::ofstream(files / "checkpoints.jsonl")
      << "not json\n"
      << nlohmann::json{{"through_seq", whole.last_seq}, {"through_hash", whole.last_hash}}.dump()
      << "\n";
  std::string err;
  const auto anchors = audit::read_anchors((files / "checkpoints.jsonl").string(), err);
  ASSERT_TRUE(anchors) << err;
  ASSERT_EQ(anchors->size(), 1u);
  audit::Options o;
  o.anchors = *anchors;
  const auto r = verify_file(w_.database, o);
  EXPECT_TRUE(r.ok()) << problems(r);
  EXPECT_EQ(r.anchors_checked, 1u);
  EXPECT_FALSE(audit::read_anchors((files / "none").string(), err));

  EXPECT_TRUE(audit::parse_anchor("12:" + std::string(64, 'a')));
  EXPECT_FALSE(audit::parse_anchor("12:" + std::string(63, 'a')));
  EXPECT_FALSE(audit::parse_anchor("x:" + std::string(64, 'a')));
  EXPECT_FALSE(audit::parse_anchor(std::string(64, 'a')));
}

TEST_F(Audit, TheTailCheckFindsABreakInTheTailAndAGapBeforeIt) {
  audit::Options tail;
  tail.tail = 5;
  const auto clean = verify_file(w_.database, tail);
  ASSERT_TRUE(clean.ok()) << problems(clean);
  EXPECT_EQ(clean.events, 5);
  EXPECT_FALSE(clean.tables_checked);

  const auto last = scalar(w_.database, "SELECT max(seq) FROM events");
  tamper(w_.database, "UPDATE events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = " +
                          std::to_string(last - 1));
  auto r = verify_file(w_.database, tail);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.front().row, last - 1) << problems(r);

  tamper(w_.database, "DELETE FROM events WHERE seq = 2");
  r = verify_file(w_.database, tail);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.front().row, 2) << problems(r);
}

TEST(AuditFiles, AnObservationPayloadWithMoreFieldsIsComparedFieldByField) {
  // A journal from before schema 7 (one `observation` event per reading), whose events may have
  // more fields: the rows still agree (slow path), and a differing value is still named.
  test::TempDir dir;
  const auto path = dir / "v.db";
  {
    Db db(path, Db::Mode::read_write_create);
    migrate(db);
    const nlohmann::json p{{"id", 1},
                           {"parameter", "hr"},
                           {"mdc_code", 147842},
                           {"value", 72.5},
                           {"unit", "/min"},
                           {"validity", "valid"},
                           {"device_time", nullptr},
                           {"received_at", "2026-09-21T14:13:20.000Z"},
                           {"source", "hl7"}};
    ASSERT_FALSE(
        db.exec("INSERT INTO observations (id, monitor, session, parameter, mdc_code, value, unit, "
                "received_at, validity, seq) VALUES (1, 'chair-1', NULL, 'hr', 147842, 72.5, "
                "'/min', '2026-09-21T14:13:20.000Z', 'valid', 1)"));
    const auto h = chain_hash(kGenesisHash, 1, "2026-09-21T14:13:20.000Z", "observation", "chair-1",
                              std::nullopt, p.dump());
    Stmt ins(db, "INSERT INTO events VALUES (1, ?1, 'observation', 'chair-1', NULL, ?2, ?3, ?4)");
    ins.bind(1, std::string_view("2026-09-21T14:13:20.000Z")).bind(2, p.dump());
    ins.bind(3, kGenesisHash).bind(4, h);
    ins.step();
    ASSERT_TRUE(ins.ok());
  }
  auto r = verify_file(path);
  EXPECT_TRUE(r.ok()) << problems(r);
  EXPECT_EQ(r.observations, 1);
  tamper(path, "UPDATE observations SET value = 73");
  r = verify_file(path);
  ASSERT_EQ(r.problems.size(), 1u) << problems(r);
  EXPECT_EQ(audit::to_string(r.problems[0]),
            "observations row 1: value is 73 but the journal (seq 1) recorded 72.5");
}

TEST(AuditFiles, AForeignANewerAndAnEmptyFileAreErrorsNotResults) {
  test::TempDir dir;
  std::ofstream(dir / "text.db") << std::string(8192, 'z');
  {
    Db db(dir / "text.db", Db::Mode::read_only);
    const auto r = audit::verify(db);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error.find("not a database"), std::string::npos) << r.error;
  }
  {
    Db db(dir / "other.db", Db::Mode::read_write_create);
    db.exec("CREATE TABLE t (x); PRAGMA user_version = 2");
  }
  {
    Db db(dir / "other.db", Db::Mode::read_only);
    EXPECT_NE(audit::verify(db).error.find("not a vitalsd journal"), std::string::npos);
  }
  {
    Db db(dir / "newer.db", Db::Mode::read_write_create);
    migrate(db);
    db.exec("PRAGMA user_version = " + std::to_string(current_schema_version() + 1));
  }
  {
    Db db(dir / "newer.db", Db::Mode::read_only);
    EXPECT_NE(audit::verify(db).error.find("newer"), std::string::npos);
  }
  std::ofstream(dir / "empty.db").close();
  {
    Db db(dir / "empty.db", Db::Mode::read_only);
    EXPECT_NE(audit::verify(db).error.find("not a vitalsd journal"), std::string::npos);
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "empty.db"), 0u);
}

TEST_F(Audit, ProgressIsReportedAndCancelStops) {
  std::vector<std::int64_t> seen;
  audit::Options o;
  o.progress_every = 10;
  o.progress = [&](std::int64_t done, std::int64_t total) {
    seen.push_back(done);
    EXPECT_GE(total, done);
  };
  EXPECT_TRUE(verify_file(w_.database, o).ok());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0], 10);
  std::atomic<bool> cancel{true};
  audit::Options c;
  c.cancel = &cancel;
  const auto r = verify_file(w_.database, c);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace vitalsd::store

namespace vitalsd::store {
namespace {

// What `vitalsctl archive` leaves (tests/integration/archive_test.cpp runs the real command):
// the events before seq `next` gone and a `journal.archived` checkpoint appended. The daemon's
// start-up check (the chain's tail and the seq count) must accept it and nothing else.
void cut_head(const std::filesystem::path& p, std::int64_t next) {
  Db db(p, Db::Mode::read_write);
  Stmt h(db, "SELECT hash FROM events WHERE seq = ?");
  h.bind(1, next - 1);
  ASSERT_TRUE(h.step());
  const auto last_hash = h.text(0);
  Stmt t(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
  ASSERT_TRUE(t.step());
  const auto seq = t.int64(0) + 1;
  const auto prev = t.text(1);
  const nlohmann::json payload{{"first_seq", 1},
                               {"last_seq", next - 1},
                               {"last_hash", last_hash},
                               {"file", "vitals-archive-test.db"}};
  const std::string at = "2027-01-01T00:00:00.000Z";
  const auto hash = chain_hash(prev, seq, at, "journal.archived", "", std::nullopt, payload.dump());
  ASSERT_FALSE(db.exec("DELETE FROM events WHERE seq < " + std::to_string(next)));
  Stmt ins(db,
           "INSERT INTO events (seq, at, type, payload, prev_hash, hash) VALUES (?, ?, "
           "'journal.archived', ?, ?, ?)");
  ins.bind(1, seq).bind(2, at).bind(3, payload.dump()).bind(4, prev).bind(5, hash);
  ins.step();
  ASSERT_TRUE(ins.ok()) << db.error_message();
}

TEST_F(Audit, TheStartUpCheckAcceptsAJournalStartingAtItsArchiveCheckpoint) {
  cut_head(w_.database, 10);
  for (const std::int64_t tail : {1000, 3}) {
    audit::Options o;
    o.tail = tail;
    const auto r = verify_file(w_.database, o);
    EXPECT_TRUE(r.ok()) << tail << ": " << problems(r);
    ASSERT_EQ(r.archived.size(), 1u);
    EXPECT_EQ(r.archived[0].last_seq, 9);
  }
  audit::Options chain;
  chain.check_tables = false;
  const auto full = verify_file(w_.database, chain);
  EXPECT_TRUE(full.ok()) << problems(full);
  EXPECT_EQ(full.first_seq, 10);
  EXPECT_NE(audit::summary(full).find("archived: seq 1..9 moved to vitals-archive-test.db"),
            std::string::npos)
      << audit::summary(full);
}

TEST_F(Audit, TheStartUpCheckStillNamesRowsDeletedAfterTheArchiveCut) {
  cut_head(w_.database, 10);
  tamper(w_.database, "DELETE FROM events WHERE seq IN (10, 11)");
  audit::Options o;
  o.tail = 1000;
  auto r = verify_file(w_.database, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(audit::to_string(r.problems.at(0)), "seq 10: seq 10..11 are missing") << problems(r);
  o.tail = 3;
  r = verify_file(w_.database, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(audit::to_string(r.problems.at(0)), "seq 10: seq 10..11 are missing") << problems(r);
}

TEST_F(Audit, AJournalStartingAfterSeqOneWithoutACheckpointIsBroken) {
  tamper(w_.database, "DELETE FROM events WHERE seq < 10");
  audit::Options o;
  o.tail = 1000;
  const auto r = verify_file(w_.database, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(audit::to_string(r.problems.at(0)), "seq 1: seq 1..9 are missing") << problems(r);
}

}  // namespace
}  // namespace vitalsd::store
