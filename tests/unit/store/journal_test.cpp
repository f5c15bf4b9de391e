#include "store/journal.hpp"

#include <gtest/gtest.h>

#include <fmt/core.h>
#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <fstream>
#include <mutex>

#include "store/readings.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

using namespace std::chrono_literals;

core::Observation hr(const std::string& monitor, double value, int ms) {
  core::Observation o;
  o.monitor = monitor;
  o.parameter = core::Parameter::hr;
  o.value = value;
  o.unit = "/min";
  o.received_at = core::Timestamp{std::chrono::milliseconds{1'790'000'000'000LL + ms}};
  return o;
}

TEST(Journal, CreatesStateDirAndAWalDatabase) {
  test::TempDir dir;
  Journal j({dir / "a/b/state"});
  EXPECT_EQ(j.database(), dir / "a/b/state/vitals.db");
  EXPECT_TRUE(std::filesystem::exists(j.database()));
  Db db(j.database(), Db::Mode::read_only);
  Stmt s(db, "PRAGMA journal_mode");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "wal");
}

TEST(Journal, UncreatableStateDirIsAOneLineError) {
  test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    Journal j({dir / "file/state"});
    FAIL();
  } catch (const StoreError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot be created"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(Journal, ASecondJournalOnTheSameStateDirIsRefused) {
  test::TempDir dir;
  Journal first({dir.path()});
  try {
    Journal second({dir.path()});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another vitalsd"), std::string::npos);
  }
}

TEST(Journal, StoresObservationsAndEventsAndReadsThemBack) {
  test::TempDir dir;
  std::vector<std::int64_t> published;
  std::string observations_json;
  {
    Journal j({dir.path()});
    j.start([&](const std::vector<CommittedEventPtr>& events) {
      for (const auto& e : events) {
        published.push_back(e->seq);
        if (e->event.type == "observations") observations_json = e->json;
      }
    });
    auto o = hr("chair-1", 72, 0);
    o.device_time = o.received_at - 250ms;
    o.session = 7;
    j.record({o, hr("chair-1", std::nan(""), 1000)});
    j.record(Event{"session.started", o.received_at, "chair-1", 7, {{"by", "nurse-1"}}},
             Durability::urgent);
    j.stop();
    EXPECT_EQ(j.stats().observations, 2u);
    EXPECT_EQ(j.stats().events, 2u);  // one `observations` event chains both readings
  }
  EXPECT_EQ(published, (std::vector<std::int64_t>{1, 2}));
  Db db(dir / "vitals.db", Db::Mode::read_only);
  Stmt s(db,
         "SELECT monitor, session, parameter, mdc_code, value, unit, device_time, received_at, "
         "validity, seq FROM observations ORDER BY id");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "chair-1");
  EXPECT_EQ(s.int64(1), 7);
  EXPECT_EQ(s.text(2), "hr");
  EXPECT_EQ(s.int64(3), 147842);
  EXPECT_EQ(s.real(4), 72);
  EXPECT_EQ(s.text(5), "/min");
  EXPECT_EQ(s.text(6), "2026-09-21T14:13:19.750Z");
  EXPECT_EQ(s.text(7), "2026-09-21T14:13:20.000Z");
  EXPECT_EQ(s.text(8), "valid");
  EXPECT_EQ(s.int64(9), 1);
  ASSERT_TRUE(s.step());
  EXPECT_TRUE(s.is_null(4));  // NaN is stored as NULL, not as a number
  EXPECT_FALSE(s.step());
  Stmt ev(db, "SELECT seq, type, session, payload FROM events ORDER BY seq");
  ASSERT_TRUE(ev.step());
  EXPECT_EQ(ev.text(1), "observations");
  const auto payload = nlohmann::json::parse(ev.text(3));
  EXPECT_EQ(payload["first_id"], 1);
  EXPECT_EQ(payload["last_id"], 2);
  EXPECT_EQ(payload["count"], 2);
  // The digest covers the rows' lines, as docs/events.md gives them.
  std::string lines =
      "1|chair-1|7|hr|147842|72|/min|1790000000000|1789999999750|0|\n"
      "2|chair-1||hr|147842||/min|1790000001000||0|\n";
  std::array<unsigned char, 32> md{};
  SHA256(reinterpret_cast<const unsigned char*>(lines.data()), lines.size(), md.data());
  std::string hex;
  for (auto b : md) hex += fmt::format("{:02x}", b);
  EXPECT_EQ(payload["sha256"], hex);
  ASSERT_TRUE(ev.step());
  EXPECT_EQ(ev.int64(0), 2);
  EXPECT_EQ(ev.text(1), "session.started");
  EXPECT_EQ(ev.text(3), R"({"by":"nurse-1"})");
  // Published with its readings, as the API reads it back from the rows.
  const auto live = nlohmann::json::parse(observations_json);
  ASSERT_EQ(live["readings"].size(), 2u);
  EXPECT_EQ(live["readings"][0]["value"], 72);
  EXPECT_EQ(live["readings"][0]["session"], 7);
  EXPECT_EQ(live["readings"][0]["device_time"], "2026-09-21T14:13:19.750Z");
  EXPECT_TRUE(live["readings"][1]["value"].is_null());
  Event stored{"observations", core::parse_iso8601("2026-09-21T14:13:21.000Z").value(), "",
               std::nullopt, payload};
  EXPECT_EQ(expand_observations_event(db, 1, stored), observations_json);
}

TEST(Journal, BatchesObservationsIntoFewCommits) {
  test::TempDir dir;
  Journal j({dir.path(), 150ms});
  j.start(JournalHooks{});
  for (int i = 0; i < 200; ++i) j.record({hr("chair-1", 60 + i % 30, i)});
  j.stop();
  const auto st = j.stats();
  EXPECT_EQ(st.observations, 200u);
  EXPECT_LE(st.commits, 3u) << "200 records queued at once must not be 200 transactions";
}

TEST(Journal, CommitsEverythingPendingOnStop) {
  test::TempDir dir;
  {
    Journal j({dir.path(), 200ms});
    j.start(JournalHooks{});
    for (int i = 0; i < 50; ++i) j.record({hr("chair-2", 70, i)});
    // stop() right away: nothing may be left in the queue.
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations"), 50);
}

TEST(Journal, SeqIsGaplessAndTheHashChainVerifiesAcrossRestarts) {
  test::TempDir dir;
  for (int run = 0; run < 2; ++run) {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    for (int i = 0; i < 20; ++i)
      j.record(
          Event{
              "test", core::Timestamp{std::chrono::milliseconds{i}}, "m", std::nullopt, {{"i", i}}},
          i % 2 ? Durability::urgent : Durability::batched);
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  Stmt s(
      db,
      "SELECT seq, at, type, monitor, session, payload, prev_hash, hash FROM events ORDER BY seq");
  std::string prev = kGenesisHash;
  std::int64_t expect = 1;
  while (s.step()) {
    EXPECT_EQ(s.int64(0), expect++);
    EXPECT_EQ(s.text(6), prev);
    const auto h = chain_hash(prev, s.int64(0), s.text(1), s.text(2), s.text(3), s.int64_or_null(4),
                              s.text(5));
    EXPECT_EQ(s.text(7), h);
    prev = h;
  }
  EXPECT_EQ(expect, 41);
}

TEST(Journal, AFailingApplyRollsBackTheWholeBatchAndRetries) {
  test::TempDir dir;
  std::atomic<int> attempts{0};
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    j.record(Event{"first", {}, "", std::nullopt, {}}, Durability::urgent,
             [&](Db&) -> std::optional<std::string> {
               if (attempts++ < 2) return "simulated disk trouble";
               return std::nullopt;
             });
    j.stop();
    EXPECT_GE(j.stats().failed_commits, 2u);
  }
  EXPECT_EQ(attempts.load(), 3);
  Db db(dir / "vitals.db", Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'first'"), 1);
  // No seq lost to the failures; the fault is journaled after what it held up.
  EXPECT_EQ(db.scalar_int("SELECT seq FROM events WHERE type = 'first'"), 1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE seq = 2 AND type = 'storage.failed'"),
            1);
  EXPECT_EQ(
      db.scalar_int("SELECT count(*) FROM events WHERE seq = 3 AND type = 'storage.recovered'"), 1);
}

TEST(Journal, RegistersMonitors) {
  test::TempDir dir;
  Journal j({dir.path()});
  core::MonitorConfig m;
  m.id = "chair-9";
  m.driver = "simulator";
  m.location = "Room 9";
  j.register_monitors({m}, core::Timestamp{});
  j.register_monitors({m}, core::Timestamp{});
  Db db(j.database(), Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM monitors WHERE id = 'chair-9'"), 1);
}

}  // namespace
}  // namespace vitalsd::store
