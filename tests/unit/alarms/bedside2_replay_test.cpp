// The second clinical review (issue 26, "Why"), replayed through the engine on the shipped
// ketamine-iv protocol: each finding as the reviewer drove it, and what happens now, at which
// second. Seconds count from the start of the infusion (see bedside.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "bedside.hpp"

namespace vitalsd::alarms {
namespace {

using namespace bedside;

MonitorCapabilities chair(std::vector<Parameter> parameters, double send_interval_s = 1) {
  MonitorCapabilities c;
  c.parameters = std::move(parameters);
  c.send_interval_s = send_interval_s;
  return c;
}

const std::vector<Parameter> kNibp{Parameter::nibp_sys, Parameter::nibp_dia, Parameter::nibp_mean};
std::vector<Parameter> with(std::vector<Parameter> more) {
  auto v = kNibp;
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

// 1. Was: HR 38 acknowledged at 10 s, then HR 0 from 15 s: nothing until the reminder at
// 130.6 s. Now: HR 0 is 38 /min worse than when acknowledged (worsen_by 10): active again at
// 15 s, and it escalates from there (level 1 at 45 s).
TEST(Bedside2, DeeperBradycardiaAfterAnAcknowledgementIsNewsAtOnce) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 60, [&](int t) {
    b.vitals(t, t < 15 ? 38 : 0, 97);
    if (t == 10) b.add(b.e.acknowledge(b.open("hr-severe-low")->id, "nurse", at(t)));
  });
  const std::vector<std::string> want{
      "5 raised hr-severe-low",
      "10 acknowledged hr-severe-low by nurse",
      "15 reactivated hr-severe-low worsened",
      "15 raised hr-low (superseded)",
      "45 escalated hr-severe-low level 1",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 1. Was: SpO2 84 acknowledged, then SpO2 70: nothing until 65.4 s. Now: 70 is 14 % below the
// acknowledged 84 (worsen_by 5): active again at once, at 20 s.
TEST(Bedside2, DeeperDesaturationAfterAnAcknowledgementIsNewsAtOnce) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 40, [&](int t) {
    b.vitals(t, 70, t < 20 ? 84 : 70);
    if (t == 5) b.add(b.e.acknowledge(b.open("spo2-critical")->id, "nurse", at(t)));
  });
  const std::vector<std::string> want{
      "0 raised spo2-critical",
      "5 acknowledged spo2-critical by nurse",
      "8 raised spo2-low (superseded)",
      "20 reactivated spo2-critical worsened",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 2. Was: a pulse oximeter's PR 35 for 90 s raised only hr-invalid (medium) at 30.4 s. Now: on
// a chair with NIBP and a pulse oximeter (no ECG), the HR rules read the pulse rate: the alert
// names pr as its parameter; no hr-invalid (the pulse rate is a heart rate).
TEST(Bedside2, APulseOximetersRateIsWatched) {
  Bedside b(chair(with({Parameter::spo2, Parameter::pr})));
  b.routine_cuffs = true;
  b.run(0, 90, [&](int t) { b.vitals(t, 35, 97); });
  const std::vector<std::string> want{
      "5 raised hr-severe-low [pr]",
      "15 raised hr-low [pr] (superseded)",
      "35 escalated hr-severe-low [pr] level 1",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
  EXPECT_EQ(b.all.front().priority, Priority::high);
}

// 2. A chair with ECG whose leads come off: the pulse rate stands in once the last valid HR is
// older than two sending intervals (5 s at least), and an alert it raised ends when the ECG's
// HR is back and normal... and the pulse rate is normal too.
TEST(Bedside2, PulseRateStandsInWhileTheEcgHasNoValue) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 60, [&](int t) {
    if (t < 10) b.vitals(t, 70, 97);
    if (t >= 10 && t < 40) {
      b.vitals(t, std::nullopt, 97);
      b.add(b.e.observe(reading(Parameter::pr, 35, t)));
    }
    if (t >= 40) {
      b.vitals(t, 70, 97);
      b.add(b.e.observe(reading(Parameter::pr, 70, t)));
    }
  });
  const std::vector<std::string> want{
      "20 raised hr-severe-low [pr]",
      "30 raised hr-low [pr] (superseded)",
      "40 cleared hr-severe-low [pr]",
      "40 cleared hr-low [pr] (superseded)",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 3. Was: RR and EtCO2 absent raised etco2-invalid at 30.4 s and rr-invalid at 60.4 s, both
// medium. Now: a connected capnograph reporting no EtCO2 is a high alert at 15 s (it may be
// apnoea); rr-invalid (medium) follows at 60 s.
TEST(Bedside2, ApnoeaReportedAsNoValueIsHigh) {
  Bedside b;
  b.routine_cuffs = true;
  b.breathing_rr.reset();
  b.breathing_etco2.reset();
  b.run(0, 70, [&](int t) { b.vitals(t, 70, 97); });
  const std::vector<std::string> want{"15 raised etco2-invalid no_data",
                                      "60 raised rr-invalid no_data"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
  ASSERT_FALSE(b.all.empty());
  EXPECT_EQ(b.all.front().priority, Priority::high);
}

// 4. Was: an SBP 85 alarm was cleared at 10.4 s by a delayed reading of 118 measured two minutes
// earlier. Now: a cuff measured before the one applied neither clears nor counts: the alert
// stays, and escalates (nobody acknowledges it here).
TEST(Bedside2, AnOlderCuffDoesNotClearANewerOnesAlert) {
  Bedside b;
  b.run(0, 60, [&](int t) {
    b.vitals(t, 70, 97);
    if (t == 0) b.cuff(85, t, 0, 60);
    if (t == 10) b.cuff(118, t, 120);  // measured at -110 s, arrived late
  });
  const std::vector<std::string> want{"0 raised sbp-low", "60 escalated sbp-low level 1"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
  ASSERT_NE(b.open("sbp-low"), nullptr);
  EXPECT_EQ(*b.open("sbp-low")->value, 85);
}

// 4. Was: a 15-minute-old cuff reset the overdue clock (no nibp-overdue by 700 s). Now: the last
// baseline cuff was at -60 s; nibp-overdue is due 300 + 120 s later, at 360 s; the stale cuff at
// 300 s (measured 900 s before) changes nothing.
TEST(Bedside2, AStaleCuffDoesNotResetTheOverdueClock) {
  Bedside b;
  b.run(0, 700, [&](int t) {
    b.vitals(t, 70, 97);
    if (t == 300) b.cuff(120, t, 900);
  });
  const std::vector<std::string> want{"360 raised nibp-overdue",
                                      "660 escalated nibp-overdue level 1"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 4. A cuff polled again (same measurement time, a new measurement id: after a restart, or a
// monitor that numbers by poll) is the same cuff: it does not reset the clock.
TEST(Bedside2, TheSameCuffAgainIsOneCuff) {
  Bedside b;
  b.run(0, 500, [&](int t) {
    b.vitals(t, 70, 97);
    if (t == 10) b.cuff(120, t, 0);
    if (t == 200) b.cuff(120, t, 190);  // the 10 s cuff again, with a new id
  });
  const std::vector<std::string> want{"430 raised nibp-overdue"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 5. Was: nibp-overdue at 421.1 s was cleared at 460 s by the move to recovery with no cuff
// taken. Now: it stays until a cuff arrives (at 600 s), and the recovery interval counts from
// that cuff: the next is due 900 + 120 s later.
TEST(Bedside2, MovingToRecoveryKeepsAnOverdueCuffOverdue) {
  Bedside b;
  b.run(0, 1700, [&](int t) {
    b.vitals(t, 70, 97);
    if (t == 0 || t == 600) b.cuff(120, t);
    if (t == 460) b.add(b.e.set_phase(Phase::recovery, at(t)));
  });
  const std::vector<std::string> want{"420 raised nibp-overdue", "600 cleared nibp-overdue",
                                      "1620 raised nibp-overdue"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 6. Was: spo2-invalid acknowledged at 35 s: nothing more through 340 s. Now: technical alerts
// remind: 120 s after the acknowledgement (reactivate_after_s), again after each one.
TEST(Bedside2, TechnicalAlertsRemind) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 340, [&](int t) {
    b.vitals(t, 70, std::nullopt);
    const Alert* a = b.open("spo2-invalid");
    if (a && a->state == AlertState::active && (t == 35 || t == 160))
      b.add(b.e.acknowledge(a->id, "nurse", at(t)));
  });
  const std::vector<std::string> want{
      "30 raised spo2-invalid no_data",           "35 acknowledged spo2-invalid by nurse",
      "155 reactivated spo2-invalid ack_expired", "160 acknowledged spo2-invalid by nurse",
      "280 reactivated spo2-invalid ack_expired",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 7. Was: comm-lost was medium, below spo2-invalid (high). Now: high (at least the highest
// physiological rule it makes impossible to raise).
TEST(Bedside2, LosingTheMonitorIsHigh) {
  Bedside b;
  b.add(b.e.monitor_state(core::MonitorState::offline, at(0)));
  b.run(0, 80, [&](int) {});
  const std::vector<std::string> want{"10 raised comm-lost", "70 escalated comm-lost level 1"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
  ASSERT_FALSE(b.all.empty());
  EXPECT_EQ(b.all.front().priority, Priority::high);
}

// 8. Was: a monitor sending every 10 s at SpO2 86 alarmed at 26.2 s (each reading counted at
// most 5 s). Now: each reading stands for the 10 s since the previous one (up to two sending
// intervals): 4 at 0 s (a run's first reading counts 1 s), 44 at 10 s, 84 at 20 s: raised at 20.
TEST(Bedside2, SaturationSecondsIntegrateTimeNotMessages) {
  Bedside b(chair({}, 10));
  b.routine_cuffs = true;
  b.run(0, 40, [&](int t) {
    if (t % 10 == 0) b.vitals(t, 70, 86);
  });
  const std::vector<std::string> want{"20 raised spo2-low"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 8. SatSeconds' safety net: three separate dips to 89 % (1 saturation second each) within 60 s
// raise, whatever the sum; 10 s at >= 91 % end it.
TEST(Bedside2, ThreeDipsWithinAMinuteRaise) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 60, [&](int t) { b.vitals(t, 70, t % 20 == 0 && t <= 40 ? 89 : 95); });
  const std::vector<std::string> want{"40 raised spo2-low safety_net", "51 cleared spo2-low"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 9. Was: a monitor sending normal values every 45 s raised spo2-invalid, hr-invalid and
// etco2-invalid, cleared ~15 s later, every 45 s. Now: with its sending interval declared,
// nothing in four minutes; when it stops sending, spo2-invalid comes two intervals after its
// last value.
TEST(Bedside2, ASlowSenderDoesNotStorm) {
  Bedside b(chair({}, 45));
  b.routine_cuffs = true;
  b.run(0, 400, [&](int t) {
    if (t % 45 == 0 && t <= 270) b.vitals(t, 70, 97);
  });
  const std::vector<std::string> want{
      "360 raised spo2-invalid no_data",
      "360 raised hr-invalid no_data",
      "360 raised rr-invalid no_data",
      "360 raised etco2-invalid no_data",
  };
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
}

// 10. Was: acknowledged spo2-low, then SpO2 91: a reminder at 248.5 s and level 1 at 308.5 s;
// a patient resting at 91 % with one 84 went to level 2 at 160.6 s. Now: 91 % is back within
// the limit plus a one-point band; held for 10 s (clear_after_s) the alert ends. SpO2 flapping
// 88/91 keeps its one alert instead.
TEST(Bedside2, Spo2AlertsEndAt91) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 400, [&](int t) {
    b.vitals(t, 70, t < 30 ? 87 : 91);
    if (t == 20) b.add(b.e.acknowledge(b.open("spo2-low")->id, "nurse", at(t)));
  });
  const std::vector<std::string> want{"16 raised spo2-low", "20 acknowledged spo2-low by nurse",
                                      "40 cleared spo2-low"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());

  Bedside one;
  one.routine_cuffs = true;
  one.run(0, 300, [&](int t) { one.vitals(t, 70, t == 10 ? 84 : 91); });
  const std::vector<std::string> once{"10 raised spo2-critical", "21 cleared spo2-critical"};
  EXPECT_EQ(one.lines(), once) << dump(one.lines());
}

// 7. Reminders and escalation wait while the value is inside the clear band, not beyond the
// limit: SpO2 at 90 % after spo2-low (limit 90, clears at 91).
TEST(Bedside2, NoRemindersOrEscalationInsideTheClearBand) {
  Bedside b;
  b.routine_cuffs = true;
  b.run(0, 400, [&](int t) { b.vitals(t, 70, t < 20 ? 87 : 90); });
  const std::vector<std::string> want{"16 raised spo2-low"};
  EXPECT_EQ(b.lines(), want) << dump(b.lines());
  EXPECT_EQ(b.open("spo2-low")->level, 0);
}

// 11. Was: a chair without capnography raised two medium alerts every infusion; one without SpO2
// needed a gate override, raised a high alert at 30.6 s and could not be ended. Now: what the
// chair measures is configuration. NIBP + SpO2 (pulse rate from the oximeter): an uneventful
// infusion raises nothing, and the breathing rules are listed as not applicable.
TEST(Bedside2, AChairWithNibpAndSpo2OnlyIsQuiet) {
  Bedside b(chair(with({Parameter::spo2, Parameter::pr})), false);
  EXPECT_FALSE(b.e.gate().blocked)
      << (b.e.gate().reasons.empty() ? "" : b.e.gate().reasons[0].message);
  b.add(b.e.set_phase(Phase::infusing, at(0)));
  b.routine_cuffs = true;
  b.run(0, 2400, [&](int t) { b.vitals(t, 70, 97); });
  b.add(b.e.set_phase(Phase::recovery, at(2400)));
  b.run(2401, 9700, [&](int t) {
    b.vitals(t, 70, 97);
    if (t % 900 == 0) b.cuff(120, t);
  });
  EXPECT_TRUE(b.e.set_phase(Phase::ended, at(9700), "nurse").ok());
  EXPECT_TRUE(b.lines().empty()) << dump(b.lines());
  std::vector<std::string> na;
  for (const auto& n : b.e.not_applicable()) na.push_back(n.rule + ": " + n.reason);
  const std::vector<std::string> want{
      "rr-low: the monitor does not measure rr",
      "rr-high: the monitor does not measure rr",
      "etco2-high: the monitor does not measure etco2",
      "etco2-low: the monitor does not measure etco2",
      "etco2-no-breath: the monitor does not measure etco2",
      "rr-invalid: the monitor does not measure rr",
      "etco2-invalid: the monitor does not measure etco2",
  };
  EXPECT_EQ(na, want) << dump(na);
}

// 11. With capnography (and ECG): the shipped protocol as it was; an uneventful infusion is quiet.
TEST(Bedside2, AChairWithCapnographyIsQuiet) {
  Bedside b(chair(
      with({Parameter::hr, Parameter::spo2, Parameter::pr, Parameter::rr, Parameter::etco2})));
  b.routine_cuffs = true;
  b.run(0, 2400, [&](int t) { b.vitals(t, 70, 97); });
  EXPECT_TRUE(b.lines().empty()) << dump(b.lines());
  EXPECT_TRUE(b.e.not_applicable().empty());
}

// 11. Without SpO2 (NIBP and ECG): the gate waits for no SpO2 baseline, no spo2 rule applies,
// and the session ends after recovery without an override.
TEST(Bedside2, AChairWithoutSpo2StartsAndEnds) {
  Bedside b(chair(with({Parameter::hr})), false);
  EXPECT_FALSE(b.e.gate().blocked)
      << (b.e.gate().reasons.empty() ? "" : b.e.gate().reasons[0].message);
  b.add(b.e.set_phase(Phase::infusing, at(0)));
  b.routine_cuffs = true;
  b.run(0, 2400, [&](int t) { b.vitals(t, 70, 97); });
  b.add(b.e.set_phase(Phase::recovery, at(2400)));
  b.run(2401, 9700, [&](int t) {
    b.vitals(t, 70, 97);
    if (t % 900 == 0) b.cuff(120, t);
  });
  EXPECT_TRUE(b.e.set_phase(Phase::ended, at(9700), "nurse").ok());
  EXPECT_TRUE(b.lines().empty()) << dump(b.lines());
}

// 13. Was: a chair whose monitor reconnected 8 s after a restart got spo2-invalid (high) plus two
// more 1.0 s after start. Now: the missing-value clocks start again at the restart: the monitor
// is back at 8 s, nothing is raised; the monitor's last cuff sent again is the same cuff.
TEST(Bedside2, ARestartDoesNotRaiseForTheReconnectingMonitor) {
  Bedside b;
  b.run(0, 100, [&](int t) {
    if (t <= 88) b.vitals(t, 70, 97);  // the monitor's last values 12 s before the restart
    if (t == 60) b.cuff(120, t, 0);
  });
  auto counter = std::make_shared<std::int64_t>(100);
  Engine e = Engine::restore(
      shipped(), 1, [counter] { return (*counter)++; }, b.e.snapshot());
  std::vector<Transition> after;
  auto add = [&](std::vector<Transition> ts) { after.insert(after.end(), ts.begin(), ts.end()); };
  for (int t = 101; t <= 200; ++t) {
    if (t >= 108) {
      add(e.observe(reading(Parameter::hr, 70, t)));
      add(e.observe(reading(Parameter::spo2, 97, t)));
      add(e.observe(reading(Parameter::rr, 14, t)));
      add(e.observe(reading(Parameter::etco2, 38, t)));
    }
    if (t == 108) {
      auto o = reading(Parameter::nibp_sys, 120, t);  // the 60 s cuff again
      o.device_time = at(60);
      add(e.observe(o));
    }
    add(e.tick(at(t)));
  }
  std::vector<std::string> lines;
  for (const auto& t : after) lines.push_back(line(t));
  EXPECT_TRUE(lines.empty()) << dump(lines);
  // The overdue clock still runs from the 60 s cuff: due at 60 + 420 = 480 s.
  for (int t = 201; t <= 480; ++t) {
    for (auto [p, v] : {std::pair{Parameter::hr, 70.0},
                        {Parameter::spo2, 97.0},
                        {Parameter::rr, 14.0},
                        {Parameter::etco2, 38.0}})
      add(e.observe(reading(p, v, t)));
    add(e.tick(at(t)));
  }
  lines.clear();
  for (const auto& t : after) lines.push_back(line(t));
  EXPECT_EQ(lines, std::vector<std::string>{"480 raised nibp-overdue"}) << dump(lines);
}

}  // namespace
}  // namespace vitalsd::alarms
