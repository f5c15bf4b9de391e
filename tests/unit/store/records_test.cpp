// Sessions and alerts written through the journal and read back after a "restart": the engine
// carries on with the same alerts and raises nothing twice.
#include "store/records.hpp"

#include <gtest/gtest.h>

#include "support/journal_writes.hpp"
#include "support/protocols.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

using namespace std::chrono_literals;
const core::Timestamp T0{std::chrono::milliseconds{1'790'000'000'000LL}};

core::Observation cuff(core::Parameter p, double v, core::Timestamp at, std::uint64_t id) {
  core::Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = "mm[Hg]";
  o.received_at = at;
  o.device_time = at;
  o.measurement_id = id;
  return o;
}
core::Observation cont(core::Parameter p, double v, core::Timestamp at) {
  core::Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = at;
  return o;
}

using test::persist;

TEST(Records, ARestartRestoresSessionsAndAlertsAndRaisesNothingTwice) {
  test::TempDir dir;
  const sessions::Manager::Protocols protocols{
      {"ketamine-iv", test::shipped_protocol("ketamine-iv")}};
  std::int64_t session = 0;
  std::int64_t alert = 0;
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    sessions::Manager m(protocols, {"chair-1"}, 1, 1);
    auto started = m.start("chair-1", "P-7", "ketamine-iv", "nurse-a", T0);
    session = started.session;
    persist(j, m, started.change);
    for (std::uint64_t i = 1; i <= 3; ++i) {
      const auto at = T0 + std::chrono::seconds{10 * i};
      std::vector<core::Observation> obs{
          cuff(core::Parameter::nibp_sys, 120, at, i), cuff(core::Parameter::nibp_dia, 78, at, i),
          cont(core::Parameter::hr, 70, at), cont(core::Parameter::spo2, 98, at)};
      persist(j, m, m.observe(obs));
    }
    auto phase = m.set_phase(session, "infusing", "", "nurse-a", T0 + 60s);
    ASSERT_TRUE(phase.ok()) << phase.message;
    persist(j, m, phase.change);
    std::vector<core::Observation> spike{cuff(core::Parameter::nibp_sys, 197, T0 + 600s, 4)};
    auto c = m.observe(spike);
    for (const auto& t : c.transitions)
      if (t.type == alarms::EventType::raised && t.rule == "sbp-severe-high") alert = t.alert_id;
    ASSERT_NE(alert, 0);
    persist(j, m, c);
    auto ack = m.acknowledge(alert, "nurse-b", T0 + 620s);
    ASSERT_TRUE(ack.ok());
    persist(j, m, ack.change);
    j.stop();
  }

  Db db(dir / "vitals.db", Db::Mode::read_only);
  auto restored = restore(db);
  ASSERT_EQ(restored.sessions.size(), 1u);
  EXPECT_EQ(restored.next_session_id, session + 1);
  EXPECT_GT(restored.next_alert_id, alert);
  auto& [s, snap] = restored.sessions[0];
  EXPECT_EQ(s.phase, alarms::Phase::infusing);
  EXPECT_EQ(s.started_by, "nurse-a");
  EXPECT_EQ(snap.baseline.values().at(core::Parameter::nibp_sys).value(), 120);
  ASSERT_FALSE(snap.alerts.empty());
  const auto it = std::find_if(snap.alerts.begin(), snap.alerts.end(),
                               [&](const alarms::Alert& a) { return a.id == alert; });
  ASSERT_NE(it, snap.alerts.end());
  EXPECT_EQ(it->state, alarms::AlertState::acknowledged);
  EXPECT_EQ(it->acknowledged_by, "nurse-b");

  sessions::Manager m(protocols, {"chair-1"}, restored.next_session_id, restored.next_alert_id);
  m.restore(s, snap);
  // The same high reading again (the next cuff cycle): the open alert carries on, no new one.
  std::vector<core::Observation> again{cuff(core::Parameter::nibp_sys, 199, T0 + 900s, 5)};
  for (const auto& t : m.observe(again).transitions)
    EXPECT_NE(t.type, alarms::EventType::raised) << t.rule;
  EXPECT_NE(m.engine(session)->find(alert), nullptr);
  // And the alert row says who acknowledged it.
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM alerts WHERE id = " + std::to_string(alert) +
                          " AND acknowledged_by = 'nurse-b'"),
            1);
  // One acknowledgement covered sbp-rise too, which sbp-severe-high supersedes: journaled so.
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.acknowledged' AND "
                          "payload LIKE '%nurse-b%'"),
            2);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.acknowledged' AND "
                          "payload LIKE '%superseding_acknowledged%'"),
            1);
  // The superseded alert comes back from the rows with what supersedes it.
  const auto rise = std::find_if(snap.alerts.begin(), snap.alerts.end(),
                                 [&](const alarms::Alert& a) { return a.rule == "sbp-rise"; });
  ASSERT_NE(rise, snap.alerts.end());
  EXPECT_EQ(rise->superseded_by, alert);
  EXPECT_EQ(rise->state, alarms::AlertState::acknowledged);
  EXPECT_EQ(rise->silenced_value, 197);
  EXPECT_EQ(
      db.scalar_int("SELECT superseded_by FROM alerts WHERE id = " + std::to_string(rise->id)),
      alert);
}

// Escalation level, pause total and silenced value are alert columns a restart takes back.
TEST(Records, LevelsAndPausesSurviveARestart) {
  test::TempDir dir;
  const sessions::Manager::Protocols protocols{
      {"ketamine-iv", test::shipped_protocol("ketamine-iv")}};
  std::int64_t alert = 0;
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    sessions::Manager m(protocols, {"chair-1"}, 1, 1);
    auto started = m.start("chair-1", "P-8", "ketamine-iv", "nurse-a", T0);
    persist(j, m, started.change);
    std::vector<core::Observation> spike{cuff(core::Parameter::nibp_sys, 190, T0 + 10s, 1)};
    auto c = m.observe(spike);
    for (const auto& t : c.transitions)
      if (t.type == alarms::EventType::raised) alert = t.alert_id;
    persist(j, m, c);
    persist(j, m, m.tick(T0 + 200s));  // levels 1 (70 s) and 2 (190 s)
    auto pause = m.pause(alert, 100, "nurse-b", T0 + 201s);
    ASSERT_TRUE(pause.ok()) << pause.message;
    persist(j, m, pause.change);
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.escalated' AND "
                          "json_extract(payload, '$.alert.level') = 2"),
            1);
  auto restored = restore(db);
  ASSERT_EQ(restored.sessions.size(), 1u);
  const auto& snap = restored.sessions[0].second;
  ASSERT_EQ(snap.alerts.size(), 1u);
  EXPECT_EQ(snap.alerts[0].level, 2);
  EXPECT_EQ(snap.alerts[0].paused_s, 100);
  EXPECT_EQ(snap.alerts[0].silenced_value, 190);
  // 100 s granted of 300: a pause of 201 s more is refused after the restart too.
  sessions::Manager m(protocols, {"chair-1"}, restored.next_session_id, restored.next_alert_id);
  m.restore(restored.sessions[0].first, snap);
  EXPECT_EQ(m.pause(alert, 120, "nurse-b", T0 + 400s).error, sessions::Errc::none);
  EXPECT_EQ(m.pause(alert, 120, "nurse-b", T0 + 600s).error, sessions::Errc::pause_limit);
}

// Issue 13: after the end the session row still has the baseline it had (it used to become
// {}) and its peaks and troughs; the session.ended event carries the baseline too.
TEST(Records, AnEndedSessionKeepsItsBaselineAndPeaksInItsRow) {
  test::TempDir dir;
  const sessions::Manager::Protocols protocols{
      {"ketamine-iv", test::shipped_protocol("ketamine-iv")}};
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    sessions::Manager m(protocols, {"chair-1"}, 1, 1);
    auto started = m.start("chair-1", "P-8", "ketamine-iv", "nurse-a", T0);
    persist(j, m, started.change);
    for (std::uint64_t i = 1; i <= 3; ++i) {
      const auto at = T0 + std::chrono::seconds{10 * i};
      std::vector<core::Observation> obs{
          cuff(core::Parameter::nibp_sys, 118 + 2.0 * static_cast<double>(i), at, i),
          cuff(core::Parameter::nibp_dia, 76, at, i),
          cont(core::Parameter::hr, 70 + static_cast<double>(i), at),
          cont(core::Parameter::spo2, 98, at)};
      test::observe(j, m, std::move(obs));
    }
    persist(j, m, m.set_phase(started.session, "infusing", "", "nurse-a", T0 + 60s).change);
    test::observe(j, m, {cuff(core::Parameter::nibp_sys, 158, T0 + 400s, 4)});
    persist(j, m, m.set_phase(started.session, "recovery", "", "nurse-a", T0 + 2500s).change);
    persist(j, m, m.end(started.session, "nurse-a", T0 + 2600s, "test: end early").change);
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  Stmt s(db, "SELECT phase, baseline, extremes FROM sessions");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "ended");
  const auto baseline = nlohmann::json::parse(s.text(1));
  ASSERT_TRUE(baseline.contains("nibp_sys")) << s.text(1);
  EXPECT_EQ(baseline["nibp_sys"]["value"], 122);  // median of 120, 122, 124
  EXPECT_EQ(baseline["hr"]["value"], 72);
  const auto extremes = nlohmann::json::parse(s.text(2));
  EXPECT_EQ(extremes["nibp_sys"]["max"], 158);
  EXPECT_EQ(extremes["nibp_sys"]["min"], 120);
  EXPECT_EQ(extremes["nibp_sys"]["max_at"], core::format_iso8601(T0 + 400s));
  EXPECT_EQ(extremes["hr"]["max"], 73);
  Stmt ev(db, "SELECT payload FROM events WHERE type = 'session.ended'");
  ASSERT_TRUE(ev.step());
  const auto payload = nlohmann::json::parse(ev.text(0));
  EXPECT_EQ(payload["baseline"]["nibp_sys"]["value"], 122);
  EXPECT_EQ(payload["extremes"]["nibp_sys"]["max"], 158);
}

// Issue 13: "protocol.applied" carries the protocol exactly as applied: the file's SHA-256 as
// loaded and every rule with its limits.
TEST(Records, TheProtocolAppliedEventCarriesTheHashAndEveryRule) {
  auto p = *test::shipped_protocol("ketamine-iv");
  p.sha256 = std::string(64, 'a');  // the loader sets it (settings_test checks the real one)
  const auto e = protocol_applied(p, AppliedBecause::session_started, T0, "chair-1", 7);
  EXPECT_EQ(e.type, "protocol.applied");
  EXPECT_EQ(e.monitor, "chair-1");
  EXPECT_EQ(e.session, std::optional<std::int64_t>(7));
  EXPECT_EQ(e.payload["reason"], "session_started");
  EXPECT_EQ(e.payload["sha256"], p.sha256);
  EXPECT_EQ(e.payload["protocol"], "ketamine-iv");
  ASSERT_EQ(e.payload["rules"].size(), p.rules.size());
  bool dbp_rise = false;
  for (const auto& r : e.payload["rules"]) {
    EXPECT_TRUE(r.contains("priority") && r.contains("phases")) << r.dump();
    if (r["id"] == "dbp-rise") {
      dbp_rise = true;
      EXPECT_EQ(r["parameter"], "nibp_dia");
      EXPECT_EQ(r["condition"], "rise_by");
      EXPECT_EQ(r["amount"], 25);
      EXPECT_EQ(r["delay_readings"], 1);
    }
    if (r["id"] == "nibp-overdue") {
      EXPECT_EQ(r["interval_s"]["infusing"], 300);
    }
  }
  EXPECT_TRUE(dbp_rise);
  EXPECT_EQ(e.payload["baseline"]["above"]["nibp_sys"], 140);
  EXPECT_EQ(e.payload["baseline"]["above"]["nibp_dia"], 90);

  test::TempDir dir;
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    journal_protocols_applied(j, {{p.name, std::make_shared<const alarms::Protocol>(p)}},
                              AppliedBecause::config_loaded, T0);
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'protocol.applied' AND "
                          "json_extract(payload, '$.reason') = 'config_loaded' AND "
                          "payload LIKE '%" +
                          p.sha256 + "%'"),
            1);
}

// The monitors' own alarms at a restart: the last report of each alarm key decides, per monitor;
// an alarm the monitor ended is not brought back, one it did not end is, with its `since`.
TEST(Records, TheMonitorsOwnPresentAlarmsAreReadBackFromTheirLastReport) {
  test::TempDir dir;
  {
    Journal j({dir.path()});
    j.start(JournalHooks{});
    auto alarm = [&](const std::string& monitor, const std::string& key, const std::string& phase,
                     bool present, int s) {
      nlohmann::json p{{"origin", "monitor"},
                       {"key", key},
                       {"text", key + " text"},
                       {"phase", phase},
                       {"present", present}};
      if (present) p["since"] = "2026-12-07T12:00:00.000Z";
      j.record(Event{"monitor.alarm", T0 + std::chrono::seconds{s}, monitor, std::nullopt, p},
               Durability::urgent);
    };
    alarm("bed-1", "A", "start", true, 1);
    alarm("bed-1", "B", "start", true, 2);
    alarm("bed-2", "A", "start", true, 3);  // the same key on another monitor: another alarm
    alarm("bed-1", "A", "continue", true, 4);
    alarm("bed-1", "B", "end", false, 5);
    alarm("bed-2", "C", "start_only", false, 6);
    j.stop();
  }
  Db db(dir / "vitals.db", Db::Mode::read_only);
  const auto present = present_monitor_alarms(db);
  ASSERT_EQ(present.size(), 2u);
  ASSERT_EQ(present.at("bed-1").size(), 1u);
  EXPECT_EQ(present.at("bed-1")[0]["key"], "A");
  EXPECT_EQ(present.at("bed-1")[0]["phase"], "continue");
  EXPECT_EQ(present.at("bed-1")[0]["since"], "2026-12-07T12:00:00.000Z");
  ASSERT_EQ(present.at("bed-2").size(), 1u);
  EXPECT_EQ(present.at("bed-2")[0]["key"], "A");
  // Only the newest `rows` reports are read: with 2, bed-1's A (4) is out of reach.
  EXPECT_FALSE(present_monitor_alarms(db, 2).count("bed-1"));
}

}  // namespace
}  // namespace vitalsd::store
