#include "sessions/manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/protocols.hpp"

namespace vitalsd::sessions {
namespace {

using namespace std::chrono_literals;
const core::Timestamp T0{std::chrono::milliseconds{1'790'000'000'000LL}};

core::Observation reading(const std::string& monitor, core::Parameter p, double v,
                          core::Timestamp at, std::uint64_t measurement = 0) {
  core::Observation o;
  o.monitor = monitor;
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = at;
  o.device_time = at;
  if (measurement) o.measurement_id = measurement;
  return o;
}

// One cuff measurement plus HR and SpO2, as a poll delivers them.
std::vector<core::Observation> vitals(const std::string& monitor, double sys, double dia,
                                      core::Timestamp at, std::uint64_t cuff) {
  return {reading(monitor, core::Parameter::nibp_sys, sys, at, cuff),
          reading(monitor, core::Parameter::nibp_dia, dia, at, cuff),
          reading(monitor, core::Parameter::hr, 72, at),
          reading(monitor, core::Parameter::spo2, 98, at)};
}

class ManagerTest : public ::testing::Test {
 protected:
  Manager m{{{"ketamine-iv", test::shipped_protocol("ketamine-iv")}}, {"chair-1", "chair-2"}, 1, 1};

  std::int64_t start_with_baseline(const std::string& monitor = "chair-1") {
    auto out = m.start(monitor, "P-1", "ketamine-iv", "nurse-a", T0);
    EXPECT_TRUE(out.ok()) << out.message;
    for (int i = 0; i < 3; ++i) {
      auto obs = vitals(monitor, 120 + i, 78, T0 + std::chrono::seconds{10 * (i + 1)}, i + 1);
      m.observe(obs);
    }
    return out.session;
  }
};

TEST_F(ManagerTest, StartingASessionIsAnEventWithWhoAndWhen) {
  auto out = m.start("chair-1", "P-1", "ketamine-iv", "nurse-a", T0);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out.change.session_events.size(), 1u);
  const auto& e = out.change.session_events[0];
  EXPECT_EQ(e.type, "started");
  EXPECT_EQ(e.actor, "nurse-a");
  EXPECT_EQ(e.session.phase, alarms::Phase::baseline);
  EXPECT_EQ(m.active_on("chair-1")->id, out.session);
}

TEST_F(ManagerTest, BadStartsAreClearErrorsAndChangeNothing) {
  EXPECT_EQ(m.start("chair-9", "P", "ketamine-iv", "n", T0).error, Errc::unknown_monitor);
  EXPECT_EQ(m.start("chair-1", "P", "propofol", "n", T0).error, Errc::unknown_protocol);
  EXPECT_EQ(m.start("chair-1", "", "ketamine-iv", "n", T0).error, Errc::invalid_argument);
  ASSERT_TRUE(m.start("chair-1", "P", "ketamine-iv", "n", T0).ok());
  auto busy = m.start("chair-1", "Q", "ketamine-iv", "n", T0);
  EXPECT_EQ(busy.error, Errc::monitor_busy);
  EXPECT_EQ(http_status(busy.error), 409);
  EXPECT_EQ(m.active().size(), 1u);
}

TEST_F(ManagerTest, ObservationsCarryTheirSessionAndOthersDoNot) {
  const auto id = start_with_baseline();
  auto obs = vitals("chair-1", 121, 79, T0 + 60s, 9);
  auto other = vitals("chair-2", 121, 79, T0 + 60s, 9);
  m.observe(obs);
  m.observe(other);
  EXPECT_EQ(obs[0].session, id);
  EXPECT_FALSE(other[0].session.has_value());
}

TEST_F(ManagerTest, TheBaselineGateBlocksUntilCompleteAndAnOverrideIsJournaled) {
  auto out = m.start("chair-1", "P-1", "ketamine-iv", "nurse-a", T0);
  auto blocked = m.set_phase(out.session, "infusing", "", "nurse-a", T0 + 5s);
  EXPECT_EQ(blocked.error, Errc::gate_blocked);
  EXPECT_FALSE(blocked.reasons.empty());
  EXPECT_EQ(m.find(out.session)->phase, alarms::Phase::baseline);
  auto forced = m.set_phase(out.session, "infusing", "patient anxious, baseline by hand 118/76",
                            "nurse-a", T0 + 6s);
  ASSERT_TRUE(forced.ok()) << forced.message;
  ASSERT_EQ(forced.change.session_events.size(), 2u);
  EXPECT_EQ(forced.change.session_events[0].type, "gate_override");
  EXPECT_EQ(forced.change.session_events[0].override_reason,
            "patient anxious, baseline by hand 118/76");
  EXPECT_EQ(forced.change.session_events[1].type, "phase");
  EXPECT_EQ(forced.change.session_events[1].from_phase, "baseline");
}

TEST_F(ManagerTest, ASevereSpikeWhileInfusingRaisesAHighAlertTheNurseAcknowledges) {
  const auto id = start_with_baseline();
  ASSERT_TRUE(m.set_phase(id, "infusing", "", "nurse-a", T0 + 40s).ok());
  auto spike = vitals("chair-1", 196, 104, T0 + 600s, 10);
  auto change = m.observe(spike);
  const alarms::Transition* raised = nullptr;
  for (const auto& t : change.transitions)
    if (t.rule == "sbp-severe-high" && t.type == alarms::EventType::raised) raised = &t;
  ASSERT_NE(raised, nullptr);
  EXPECT_EQ(raised->priority, alarms::Priority::high);
  EXPECT_EQ(raised->value, 196);
  EXPECT_EQ(raised->limit, 180);
  EXPECT_EQ(m.session_of_alert(raised->alert_id), id);
  auto ack = m.acknowledge(raised->alert_id, "nurse-b", T0 + 610s);
  ASSERT_TRUE(ack.ok()) << ack.message;
  EXPECT_EQ(ack.change.transitions.back().actor, "nurse-b");
  EXPECT_EQ(ack.change.transitions.back().state, alarms::AlertState::acknowledged);
  EXPECT_EQ(m.acknowledge(raised->alert_id, "nurse-b", T0 + 611s).error, Errc::invalid_state);
  EXPECT_EQ(m.acknowledge(9999, "nurse-b", T0 + 611s).error, Errc::unknown_alert);
}

TEST_F(ManagerTest, EndingClearsOpenAlertsAndFurtherActionsAreRefused) {
  const auto id = start_with_baseline();
  ASSERT_TRUE(m.set_phase(id, "infusing", "", "nurse-a", T0 + 40s).ok());
  auto spike = vitals("chair-1", 196, 104, T0 + 600s, 10);
  m.observe(spike);
  // The high alert is open and recovery has not begun: the discharge guard refuses.
  auto refused = m.end(id, "nurse-a", T0 + 700s);
  EXPECT_EQ(refused.error, Errc::discharge_blocked);
  EXPECT_EQ(http_status(refused.error), 409);
  // The chair sent no EtCO2 (etco2-invalid is high since issue 26), then the SBP 196 cuff.
  ASSERT_EQ(refused.reasons.size(), 3u);
  EXPECT_NE(refused.reasons[0].find("etco2-invalid"), std::string::npos) << refused.reasons[0];
  EXPECT_NE(refused.reasons[1].find("sbp-severe-high"), std::string::npos) << refused.reasons[1];
  EXPECT_NE(refused.reasons[2].find("min_recovery_s 7200"), std::string::npos);
  EXPECT_TRUE(refused.change.empty());
  ASSERT_NE(m.find(id), nullptr);
  auto ended = m.end(id, "nurse-a", T0 + 700s, "transferred to the ED");
  ASSERT_TRUE(ended.ok()) << ended.message;
  ASSERT_EQ(ended.change.session_events.size(), 2u);
  EXPECT_EQ(ended.change.session_events[0].type, "discharge_override");
  EXPECT_EQ(ended.change.session_events[0].actor, "nurse-a");
  EXPECT_EQ(ended.change.session_events[0].override_reason, "transferred to the ED");
  EXPECT_EQ(ended.change.session_events[0].gate_reasons, refused.reasons);
  bool cleared = false;
  for (const auto& t : ended.change.transitions)
    cleared |= t.type == alarms::EventType::cleared && t.reason == "session_ended";
  EXPECT_TRUE(cleared);
  EXPECT_EQ(ended.change.session_events.back().type, "ended");
  EXPECT_EQ(m.find(id), nullptr);
  EXPECT_EQ(m.end(id, "nurse-a", T0 + 701s).error, Errc::unknown_session);
  EXPECT_EQ(m.set_phase(id, "recovery", "", "nurse-a", T0 + 701s).error, Errc::unknown_session);
  // The monitor is free for the next patient.
  EXPECT_TRUE(m.start("chair-1", "P-2", "ketamine-iv", "nurse-a", T0 + 800s).ok());
}

TEST_F(ManagerTest, AlertIdsAreUniqueAcrossSessions) {
  const auto a = start_with_baseline("chair-1");
  const auto b = start_with_baseline("chair-2");
  ASSERT_TRUE(m.set_phase(a, "infusing", "", "n", T0 + 40s).ok());
  ASSERT_TRUE(m.set_phase(b, "infusing", "", "n", T0 + 40s).ok());
  std::set<std::int64_t> ids;
  for (const auto& monitor : {"chair-1", "chair-2"}) {
    auto spike = vitals(monitor, 196, 125, T0 + 600s, 10);
    for (const auto& t : m.observe(spike).transitions)
      if (t.type == alarms::EventType::raised) {
        EXPECT_TRUE(ids.insert(t.alert_id).second);
      }
  }
  EXPECT_GE(ids.size(), 4u);  // SBP and DBP on each chair
}

// Issue 13: the esketamine label's pre-dose check. A baseline above 140/90 is a gate reason
// the nurse sees and may override with a reason, as every other gate reason.
TEST_F(ManagerTest, ABaselineAbove140Over90IsAGateReasonTheNurseMayOverride) {
  auto out = m.start("chair-1", "P-1", "ketamine-iv", "nurse-a", T0);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto obs = vitals("chair-1", 150, 95, T0 + std::chrono::seconds{10 * i}, i);
    m.observe(obs);
  }
  auto blocked = m.set_phase(out.session, "infusing", "", "nurse-a", T0 + 60s);
  ASSERT_EQ(blocked.error, Errc::gate_blocked);
  ASSERT_EQ(blocked.reasons.size(), 2u);
  EXPECT_EQ(blocked.reasons[0], "nibp_sys: baseline 150 mm[Hg] is above 140 (pre-dose check)");
  EXPECT_EQ(blocked.reasons[1], "nibp_dia: baseline 95 mm[Hg] is above 90 (pre-dose check)");
  auto forced = m.set_phase(out.session, "infusing", "usual BP for this patient, physician agreed",
                            "nurse-a", T0 + 61s);
  ASSERT_TRUE(forced.ok()) << forced.message;
  EXPECT_EQ(forced.change.session_events[0].type, "gate_override");
  EXPECT_EQ(forced.change.session_events[0].gate_reasons, blocked.reasons);
}

// Issue 13: an ended session keeps its baseline (the engine's last state rides on the `ended`
// event) and its peaks and troughs; demo and test values count for neither.
TEST_F(ManagerTest, AnEndedSessionKeepsItsBaselineAndPeaks) {
  const auto id = start_with_baseline();
  ASSERT_TRUE(m.set_phase(id, "infusing", "", "nurse-a", T0 + 60s).ok());
  auto spike = vitals("chair-1", 165, 99, T0 + 600s, 10);
  m.observe(spike);
  auto demo = vitals("chair-1", 250, 140, T0 + 700s, 11);
  for (auto& o : demo) o.validity = core::Validity::demo;
  auto c = m.observe(demo);
  EXPECT_TRUE(c.transitions.empty());  // a demo 250 raises nothing
  EXPECT_EQ(demo[0].session, id);      // but is kept with the session
  auto test_low = reading("chair-1", core::Parameter::hr, 20, T0 + 710s);
  test_low.validity = core::Validity::test;
  std::vector<core::Observation> t{test_low};
  EXPECT_TRUE(m.observe(t).transitions.empty());
  ASSERT_TRUE(m.set_phase(id, "recovery", "", "nurse-a", T0 + 900s).ok());
  auto end = m.end(id, "nurse-a", T0 + 1000s, "test: end early");
  ASSERT_TRUE(end.ok()) << end.message;
  const auto& ended = end.change.session_events.back();
  EXPECT_EQ(ended.type, "ended");
  ASSERT_TRUE(ended.last_state);
  auto sys = ended.last_state->baseline.values().find(core::Parameter::nibp_sys);
  ASSERT_NE(sys, ended.last_state->baseline.values().end());
  EXPECT_EQ(sys->second.value(), 121);  // median of 120, 121, 122
  const auto& x = ended.session.extremes;
  ASSERT_TRUE(x.count(core::Parameter::nibp_sys));
  EXPECT_EQ(x.at(core::Parameter::nibp_sys).max, 165);
  EXPECT_EQ(x.at(core::Parameter::nibp_sys).max_at, T0 + 600s);
  EXPECT_EQ(x.at(core::Parameter::nibp_sys).min, 120);
  EXPECT_EQ(x.at(core::Parameter::nibp_dia).max, 99);
  EXPECT_EQ(x.at(core::Parameter::hr).min, 72);  // the test-data 20 is not a trough
}

// Issue 26: a value the monitor vouched for that vitalsd's range table calls implausible (HR 0,
// an asystole the rules raised hr-severe-low for) is in the session's trough; an invalid value
// the monitor itself flagged is not.
TEST_F(ManagerTest, TheTroughIncludesAnAlarmedAsystole) {
  const auto id = start_with_baseline();
  ASSERT_TRUE(m.set_phase(id, "infusing", "", "nurse-a", T0 + 60s).ok());
  auto flagged = reading("chair-1", core::Parameter::hr, 10, T0 + 100s);
  flagged.validity = core::Validity::invalid;  // the monitor said: no value
  std::vector<core::Observation> v{flagged};
  m.observe(v);
  EXPECT_EQ(m.find(id)->extremes.at(core::Parameter::hr).min, 72);
  std::vector<core::Observation> asystole;
  for (int s = 0; s <= 60; ++s) {
    auto o = reading("chair-1", core::Parameter::hr, 0, T0 + 120s + std::chrono::seconds(s));
    core::invalidate_if_implausible(o);  // as acquisition does: stored invalid, flagged
    asystole.push_back(o);
  }
  ASSERT_TRUE(asystole[0].implausible);
  const auto c = m.observe(asystole);
  EXPECT_TRUE(std::any_of(c.transitions.begin(), c.transitions.end(),
                          [](const auto& t) { return t.rule == "hr-severe-low"; }));
  const auto& hr = m.find(id)->extremes.at(core::Parameter::hr);
  EXPECT_EQ(hr.min, 0);
  EXPECT_EQ(hr.min_at, T0 + 120s);
  EXPECT_EQ(hr.max, 72);
}

}  // namespace
}  // namespace vitalsd::sessions
