// The alarm engine on a virtual clock: every rule kind, every transition, the baseline and its
// gate, restore. Time is seconds since T0.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alarms/engine.hpp"

namespace vitalsd::alarms {
namespace {

using core::Parameter;
const core::Timestamp T0 = core::Timestamp{} + std::chrono::hours(24 * 365 * 56);

core::Timestamp at(double s) {
  return T0 + core::Duration{static_cast<std::int64_t>(s * 1000)};
}

std::shared_ptr<const Protocol> protocol(
    const std::string& rules,
    const std::string& baseline = "parameters = [\"nibp_sys\", \"hr\"]\nreadings = 3\n") {
  const std::string text =
      "[protocol]\nname = \"test\"\nmax_pause_s = 300\n[baseline]\n" + baseline + rules;
  core::Diagnostics d;
  auto p = parse_protocol(toml::parse(std::string_view{text}, std::string_view{"test.toml"}),
                          "test.toml", d);
  std::string msgs;
  for (const auto& x : d) msgs += core::to_string(x) + "\n";
  EXPECT_TRUE(p) << msgs;
  return std::make_shared<const Protocol>(p.value_or(Protocol{}));
}

core::Observation obs(Parameter p, double v, double t,
                      core::Validity validity = core::Validity::valid,
                      std::optional<std::uint64_t> measurement = std::nullopt) {
  core::Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = at(t);
  o.validity = validity;
  o.measurement_id = measurement;
  return o;
}

// "12 raised hr-high active" per transition: short, easy to compare.
std::string line(const Transition& t) {
  const auto s = std::chrono::duration<double>(t.at - T0).count();
  std::string r = std::to_string(static_cast<long long>(s)) + " " + std::string(to_string(t.type)) +
                  " " + t.rule + " " + std::string(to_string(t.state));
  if (!t.actor.empty()) r += " by " + t.actor;
  return r;
}

struct Timeline {
  std::vector<std::string> lines;
  std::vector<Transition> all;
  void add(const std::vector<Transition>& ts) {
    for (const auto& t : ts) {
      lines.push_back(line(t));
      all.push_back(t);
    }
  }
};

// One NIBP cuff measurement (sys only) counted as one reading.
int g_cuff = 0;
core::Observation cuff(double sys, double t) {
  return obs(Parameter::nibp_sys, sys, t, core::Validity::valid,
             static_cast<std::uint64_t>(++g_cuff));
}

const std::string kHrHigh =
    "[[rules]]\nid = \"hr-high\"\nparameter = \"hr\"\nabove = 150\ndelay_s = 10\n"
    "clear_hysteresis = 5\npriority = \"high\"\nphases = [\"baseline\", \"infusing\", "
    "\"recovery\"]\nescalate_after_s = 60\n";
const std::string kSbpHigh =
    "[[rules]]\nid = \"sbp-high\"\nparameter = \"nibp_sys\"\nabove = 180\nclear_hysteresis = 10\n"
    "priority = \"high\"\nphases = [\"baseline\", \"infusing\", \"recovery\"]\nlatching = true\n";

// ---------------------------------------------------------------------------------------------
// Condition delays and clear hysteresis, table-driven over rule kinds.

struct DelayCase {
  const char* what;
  std::string rule;
  Parameter parameter;
  std::vector<std::pair<double, double>> readings;  // (t, value), NIBP readings distinct
  std::vector<std::string> want;
};

class Delays : public ::testing::TestWithParam<DelayCase> {};

TEST_P(Delays, Timeline) {
  const auto& c = GetParam();
  Engine e(protocol(c.rule), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  std::uint64_t m = 0;
  for (auto [t, v] : c.readings) {
    auto o = obs(c.parameter, v, t);
    if (core::info(c.parameter).intermittent) o.measurement_id = ++m;
    run.add(e.observe(o));
  }
  EXPECT_EQ(run.lines, c.want) << c.what;
}

const std::string kAll = "priority = \"high\"\nphases = [\"infusing\"]\n";

INSTANTIATE_TEST_SUITE_P(
    Rules, Delays,
    ::testing::Values(
        DelayCase{"above, delay_s: raises once the condition held 10 s",
                  "[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\ndelay_s = 10\n" + kAll,
                  Parameter::hr,
                  {{1, 151}, {5, 160}, {10, 155}, {11, 152}, {12, 170}},
                  {"11 raised r active"}},
        DelayCase{"a single spurious value inside the delay raises nothing",
                  "[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\ndelay_s = 10\n" + kAll,
                  Parameter::hr,
                  {{1, 80}, {2, 210}, {3, 80}, {4, 80}, {15, 80}, {20, 80}},
                  {}},
        DelayCase{"an in-range reading restarts the delay",
                  "[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\ndelay_s = 10\n" + kAll,
                  Parameter::hr,
                  {{0, 160}, {9, 160}, {10, 150}, {11, 160}, {20, 160}, {21, 160}},
                  {"21 raised r active"}},
        DelayCase{
            "below, delay_readings: consecutive readings",
            "[[rules]]\nid = \"r\"\nparameter = \"spo2\"\nbelow = 90\ndelay_readings = 3\n" + kAll,
            Parameter::spo2,
            {{0, 85}, {1, 85}, {2, 95}, {3, 85}, {4, 85}, {5, 85}},
            {"5 raised r active"}},
        DelayCase{
            "above: clears only past the hysteresis band",
            "[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\nclear_hysteresis = 5\n" + kAll,
            Parameter::hr,
            {{0, 151}, {1, 150}, {2, 146}, {3, 152}, {4, 145}},
            {"0 raised r active", "4 cleared r cleared"}},
        DelayCase{
            "below: clears at limit + hysteresis",
            "[[rules]]\nid = \"r\"\nparameter = \"spo2\"\nbelow = 90\nclear_hysteresis = 2\n" +
                kAll,
            Parameter::spo2,
            {{0, 89}, {1, 91}, {2, 92}, {3, 89}},
            {"0 raised r active", "2 cleared r cleared", "3 raised r active"}},
        DelayCase{"NIBP: the first cuff reading above the limit raises",
                  "[[rules]]\nid = \"r\"\nparameter = \"nibp_sys\"\nabove = 180\n" + kAll,
                  Parameter::nibp_sys,
                  {{0, 120}, {600, 181}},
                  {"600 raised r active"}},
        DelayCase{"NIBP: delay_readings counts cuff measurements",
                  "[[rules]]\nid = \"r\"\nparameter = \"nibp_sys\"\nabove = 180\n"
                  "delay_readings = 2\n" +
                      kAll,
                  Parameter::nibp_sys,
                  {{0, 190}, {600, 120}, {1200, 190}, {1800, 195}},
                  {"1800 raised r active"}},
        DelayCase{"above is strict: the limit itself does not breach",
                  "[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\n" + kAll,
                  Parameter::hr,
                  {{0, 150}, {1, 150}},
                  {}}));

TEST(Engine, RepeatedPollOfOneCuffMeasurementIsOneReading) {
  Engine e(protocol("[[rules]]\nid = \"r\"\nparameter = \"nibp_sys\"\nabove = 180\n"
                    "delay_readings = 2\n" +
                    kAll),
           1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  for (int t = 0; t < 30; ++t)  // polled every second, one measurement
    run.add(e.observe(obs(Parameter::nibp_sys, 190, t, core::Validity::valid, 7)));
  EXPECT_TRUE(run.lines.empty());
  run.add(e.observe(obs(Parameter::nibp_sys, 190, 31, core::Validity::valid, 8)));
  EXPECT_EQ(run.lines, std::vector<std::string>{"31 raised r active"});
}

TEST(Engine, QuestionableAndInvalidValuesDoNotRaiseOrClear) {
  Engine e(protocol("[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\n" + kAll), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  run.add(e.observe(obs(Parameter::hr, 200, 1, core::Validity::questionable)));
  run.add(e.observe(obs(Parameter::hr, 200, 2, core::Validity::invalid)));
  EXPECT_TRUE(run.lines.empty());
  run.add(e.observe(obs(Parameter::hr, 160, 4)));
  run.add(e.observe(obs(Parameter::hr, 60, 5, core::Validity::questionable)));
  EXPECT_EQ(run.lines, std::vector<std::string>{"4 raised r active"});
}

// A value the device marks valid is a reading for the rules even outside vitalsd's plausible
// range (HR 400 or HR 0): it is never quietly downgraded to a sensor problem.
TEST(Engine, DeviceValidImplausibleValueStillRaisesTheRule) {
  Engine e(protocol("[[rules]]\nid = \"r\"\nparameter = \"hr\"\nabove = 150\n" + kAll +
                    "[[rules]]\nid = \"lo\"\nparameter = \"hr\"\nbelow = 40\n"
                    "priority = \"medium\"\nphases = [\"infusing\"]\n"),
           1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  run.add(e.observe(obs(Parameter::hr, 400, 3)));
  run.add(e.observe(obs(Parameter::hr, 100, 4)));
  run.add(e.observe(obs(Parameter::hr, 0, 5)));
  run.add(e.observe(obs(Parameter::hr, 0, 6, core::Validity::invalid)));  // device: invalid
  EXPECT_EQ(run.lines, (std::vector<std::string>{"3 raised r active", "4 cleared r cleared",
                                                 "5 raised lo active"}));
  EXPECT_EQ(run.all[2].value, 0);
  EXPECT_EQ(run.all[2].priority, Priority::medium);  // the rule's own priority
}

TEST(Engine, TransitionCarriesValueLimitUnitPriority) {
  Engine e(
      protocol(kSbpHigh), 42, [] { return 1000; }, T0);
  auto ts = e.observe(cuff(192, 5));
  ASSERT_EQ(ts.size(), 1u);
  const auto& t = ts[0];
  EXPECT_EQ(t.type, EventType::raised);
  EXPECT_EQ(t.session, 42);
  EXPECT_EQ(t.alert_id, 1000);
  EXPECT_EQ(t.rule, "sbp-high");
  EXPECT_EQ(t.parameter, Parameter::nibp_sys);
  EXPECT_EQ(t.value, 192);
  EXPECT_EQ(t.limit, 180);
  EXPECT_EQ(t.unit, "mm[Hg]");
  EXPECT_EQ(t.priority, Priority::high);
  EXPECT_EQ(t.state, AlertState::active);
  EXPECT_EQ(t.actor, "");
  EXPECT_EQ(t.at, at(5));
}

// ---------------------------------------------------------------------------------------------
// State machine transitions.

struct Fixture {
  Engine e{protocol(kHrHigh + kSbpHigh), 1, {}, T0};
  Timeline run;
  std::int64_t raise_hr(double t) {  // HR 160 from t to t+10: raised at t+10
    for (double s = t; s <= t + 10; ++s) run.add(e.observe(obs(Parameter::hr, 160, s)));
    return run.all.back().alert_id;
  }
};

TEST(Engine, EscalatesWhenNobodyAcknowledges) {
  Fixture f;
  const auto id = f.raise_hr(0);
  f.run.add(f.e.tick(at(69)));
  f.run.add(f.e.tick(at(70)));
  f.run.add(f.e.tick(at(200)));
  EXPECT_EQ(f.run.lines,
            (std::vector<std::string>{"10 raised hr-high active", "70 escalated hr-high active"}));
  EXPECT_TRUE(f.e.find(id)->escalated);
}

TEST(Engine, AcknowledgeStopsEscalationAndNeedsAnActor) {
  Fixture f;
  const auto id = f.raise_hr(0);
  auto r = f.e.acknowledge(id, "", at(20));
  EXPECT_EQ(r.error, ActionError::invalid_argument);
  r = f.e.acknowledge(id, "nurse-1", at(20));
  ASSERT_TRUE(r.ok());
  f.run.add(r.transitions);
  f.run.add(f.e.tick(at(300)));
  EXPECT_EQ(f.run.lines, (std::vector<std::string>{"10 raised hr-high active",
                                                   "20 acknowledged hr-high acknowledged by "
                                                   "nurse-1"}));
  EXPECT_EQ(f.e.find(id)->acknowledged_by, "nurse-1");
  // A second acknowledgement is an error and changes nothing.
  r = f.e.acknowledge(id, "nurse-2", at(301));
  EXPECT_EQ(r.error, ActionError::invalid_state);
  EXPECT_TRUE(r.transitions.empty());
  EXPECT_EQ(f.e.find(id)->acknowledged_by, "nurse-1");
  // The condition ends: cleared.
  f.run.add(f.e.observe(obs(Parameter::hr, 90, 302)));
  EXPECT_EQ(f.run.lines.back(), "302 cleared hr-high cleared");
  EXPECT_EQ(f.e.find(id), nullptr);
}

TEST(Engine, UnknownAlertIsAnErrorNothingChanged) {
  Fixture f;
  f.raise_hr(0);
  const auto before = f.e.snapshot().alerts.size();
  for (auto r : {f.e.acknowledge(999, "n", at(20)), f.e.pause(999, 60, "n", at(20)),
                 f.e.reset(999, "n", at(20))}) {
    EXPECT_EQ(r.error, ActionError::unknown_alert);
    EXPECT_FALSE(r.message.empty());
    EXPECT_TRUE(r.transitions.empty());
  }
  EXPECT_EQ(f.e.snapshot().alerts.size(), before);
}

TEST(Engine, PauseThenActiveAgainIfConditionStillPresent) {
  Fixture f;
  const auto id = f.raise_hr(0);
  EXPECT_EQ(f.e.pause(id, 0, "n", at(11)).error, ActionError::invalid_argument);
  EXPECT_EQ(f.e.pause(id, 301, "n", at(11)).error, ActionError::invalid_argument);
  auto r = f.e.pause(id, 120, "nurse-1", at(15));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.transitions.size(), 1u);
  EXPECT_EQ(r.transitions[0].until, at(135));
  f.run.add(r.transitions);
  for (double s = 16; s < 200; s += 1) f.run.add(f.e.observe(obs(Parameter::hr, 160, s)));
  // Paused alerts do not escalate, but a pause never restarts the clock: escalation was due at
  // 70 s (60 s after the raise) and follows the end of the pause at once.
  EXPECT_EQ(f.run.lines, (std::vector<std::string>{
                             "10 raised hr-high active", "15 paused hr-high paused by nurse-1",
                             "135 unpaused hr-high active", "135 escalated hr-high active"}));
}

TEST(Engine, PauseEndsEarlyWhenConditionClears) {
  Fixture f;
  const auto id = f.raise_hr(0);
  f.run.add(f.e.pause(id, 120, "n", at(15)).transitions);
  f.run.add(f.e.observe(obs(Parameter::hr, 100, 30)));
  f.run.add(f.e.tick(at(200)));
  EXPECT_EQ(f.run.lines,
            (std::vector<std::string>{"10 raised hr-high active", "15 paused hr-high paused by n",
                                      "30 cleared hr-high cleared"}));
}

TEST(Engine, AcknowledgeWhilePaused) {
  Fixture f;
  const auto id = f.raise_hr(0);
  f.e.pause(id, 120, "n", at(15));
  auto r = f.e.acknowledge(id, "m", at(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(f.e.find(id)->state, AlertState::acknowledged);
  EXPECT_FALSE(f.e.find(id)->paused_until);
  EXPECT_TRUE(f.e.tick(at(200)).empty());
  EXPECT_EQ(f.e.pause(id, 60, "n", at(201)).error, ActionError::invalid_state);
}

TEST(Engine, LatchingAlertLatchesUntilReset) {
  Fixture f;
  auto ts = f.e.observe(cuff(190, 0));
  f.run.add(ts);
  const auto id = ts.at(0).alert_id;
  EXPECT_EQ(f.e.reset(id, "n", at(1)).error, ActionError::invalid_state);  // not latched yet
  f.run.add(f.e.observe(cuff(175, 600)));  // inside the hysteresis band: stays
  f.run.add(f.e.observe(cuff(165, 1200)));
  EXPECT_EQ(f.e.find(id)->state, AlertState::latched);
  EXPECT_EQ(f.e.acknowledge(id, "n", at(1201)).error, ActionError::invalid_state);
  f.run.add(f.e.observe(cuff(185, 1800)));  // back: the same alert is active again
  f.run.add(f.e.observe(cuff(120, 2400)));
  auto r = f.e.reset(id, "nurse-1", at(2500));
  ASSERT_TRUE(r.ok());
  f.run.add(r.transitions);
  EXPECT_EQ(f.run.lines, (std::vector<std::string>{
                             "0 raised sbp-high active", "1200 latched sbp-high latched",
                             "1800 reactivated sbp-high active", "2400 latched sbp-high latched",
                             "2500 reset sbp-high cleared by nurse-1"}));
  EXPECT_EQ(f.e.find(id), nullptr);
  // A new breach is a new alert.
  ts = f.e.observe(cuff(200, 3000));
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_NE(ts[0].alert_id, id);
}

TEST(Engine, AcknowledgedLatchingAlertClearsWithItsCondition) {
  Fixture f;
  auto ts = f.e.observe(cuff(190, 0));
  f.e.acknowledge(ts.at(0).alert_id, "n", at(10));
  ts = f.e.observe(cuff(150, 600));
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(line(ts[0]), "600 cleared sbp-high cleared");
}

TEST(Engine, IdSourceGivesGloballyUniqueIds) {
  std::int64_t next = 500;
  auto ids = [&next] { return next++; };
  Engine a(protocol(kSbpHigh), 1, ids, T0), b(protocol(kSbpHigh), 2, ids, T0);
  EXPECT_EQ(a.observe(cuff(190, 0)).at(0).alert_id, 500);
  EXPECT_EQ(b.observe(cuff(190, 0)).at(0).alert_id, 501);
  EXPECT_EQ(next, 502);
}

TEST(Engine, TimeNeverGoesBack) {
  Fixture f;
  f.raise_hr(100);
  auto ts = f.e.tick(at(5));  // earlier than now: treated as now
  EXPECT_TRUE(ts.empty());
  ts = f.e.tick(at(170));
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(line(ts[0]), "170 escalated hr-high active");
}

// ---------------------------------------------------------------------------------------------
// Technical rules.

TEST(Engine, CommLostRaisesAfterDelayAndClearsWhenOnline) {
  Engine e(protocol("[[rules]]\nid = \"comm\"\ntechnical = \"comm_lost\"\ndelay_s = 10\n"
                    "priority = \"medium\"\nphases = [\"baseline\", \"infusing\"]\n"),
           1, {}, T0);
  Timeline run;
  run.add(e.monitor_state(core::MonitorState::offline, at(5)));
  run.add(e.tick(at(14)));
  run.add(e.monitor_state(core::MonitorState::error, at(14.5)));  // still lost, same clock
  run.add(e.tick(at(15)));
  run.add(e.tick(at(16)));
  run.add(e.monitor_state(core::MonitorState::online, at(40)));
  // A short blip raises nothing.
  run.add(e.monitor_state(core::MonitorState::offline, at(50)));
  run.add(e.monitor_state(core::MonitorState::online, at(55)));
  run.add(e.tick(at(100)));
  EXPECT_EQ(run.lines,
            (std::vector<std::string>{"15 raised comm active", "40 cleared comm cleared"}));
  EXPECT_FALSE(run.all[0].parameter);
  EXPECT_FALSE(run.all[0].value);
}

TEST(Engine, CommLossRestartsPendingDelays) {
  Engine e(protocol(kHrHigh), 1, {}, T0);
  Timeline run;
  for (double s = 0; s < 8; ++s) run.add(e.observe(obs(Parameter::hr, 160, s)));
  run.add(e.monitor_state(core::MonitorState::offline, at(8)));
  run.add(e.monitor_state(core::MonitorState::online, at(12)));
  for (double s = 12; s < 25; ++s) run.add(e.observe(obs(Parameter::hr, 160, s)));
  EXPECT_EQ(run.lines, std::vector<std::string>{"22 raised hr-high active"});
}

const std::string kOverdue =
    "[[rules]]\nid = \"cuff\"\ntechnical = \"nibp_overdue\"\n"
    "interval_s = { infusing = 600, recovery = 900 }\ngrace_s = 60\npriority = \"low\"\n"
    "phases = [\"infusing\", \"recovery\"]\n";

TEST(Engine, NibpOverdueUsesThePhaseInterval) {
  Engine e(protocol(kOverdue), 1, {}, T0);
  Timeline run;
  run.add(e.tick(at(10000)));  // not checked in baseline
  run.add(e.set_phase(Phase::infusing, at(10000), "n", "test").transitions);
  run.add(e.observe(cuff(120, 10000)));
  run.add(e.observe(cuff(120, 10600)));
  run.add(e.tick(at(11259)));
  run.add(e.tick(at(11260)));  // 600 + 60 after the last cuff
  run.add(e.observe(cuff(121, 11300)));
  run.add(e.tick(at(11500)));
  run.add(e.set_phase(Phase::recovery, at(11900)).transitions);
  run.add(e.tick(at(12259)));
  run.add(e.tick(at(12260)));  // 900 + 60 after the last cuff: the clock ran through the change
  EXPECT_EQ(run.lines,
            (std::vector<std::string>{"11260 raised cuff active", "11300 cleared cuff cleared",
                                      "12260 raised cuff active"}));
  EXPECT_EQ(run.all[0].limit, 660);
  EXPECT_EQ(run.all[0].value, 660);
  EXPECT_EQ(run.all[0].unit, "s");
}

TEST(Engine, SensorInvalidAfterDelay) {
  // Without `parameter`: every continuous parameter a physiological rule watches (SpO2 here).
  Engine e(protocol("[[rules]]\nid = \"inv\"\ntechnical = \"sensor_invalid\"\ndelay_s = 30\n"
                    "priority = \"low\"\nphases = [\"baseline\"]\n"
                    "[[rules]]\nid = \"lo\"\nparameter = \"spo2\"\nbelow = 90\n"
                    "priority = \"high\"\nphases = [\"baseline\"]\n"),
           1, {}, T0);
  Timeline run;
  for (double s = 0; s <= 40; ++s) {
    run.add(e.observe(obs(Parameter::spo2, 0, s, core::Validity::invalid)));
    run.add(e.observe(obs(Parameter::hr, 70, s)));
  }
  run.add(e.observe(obs(Parameter::spo2, 97, 41)));
  EXPECT_EQ(run.lines,
            (std::vector<std::string>{"30 raised inv active", "41 cleared inv cleared"}));
  EXPECT_EQ(run.all[0].parameter, Parameter::spo2);
}

// ---------------------------------------------------------------------------------------------
// Baseline, baseline-relative rules, the gate, phases.

TEST(Baseline, MedianOfTheLastThreeValidReadings) {
  BaselineSpec spec;
  spec.parameters = {Parameter::nibp_sys, Parameter::hr};
  spec.readings = 3;
  std::vector<core::Observation> v{
      obs(Parameter::nibp_sys, 150, 0, core::Validity::valid, 1),
      obs(Parameter::nibp_sys, 150, 1, core::Validity::valid, 1),  // same measurement
      obs(Parameter::nibp_sys, 120, 60, core::Validity::valid, 2),
      obs(Parameter::nibp_sys, 200, 90, core::Validity::invalid, 3),
      obs(Parameter::nibp_sys, 130, 120, core::Validity::valid, 4),
      obs(Parameter::nibp_sys, 124, 180, core::Validity::valid, 5),
      obs(Parameter::hr, 70, 0),
      obs(Parameter::hr, 72, 1),
      obs(Parameter::spo2, 98, 1),
  };
  const auto b = compute_baseline(v, spec);
  EXPECT_EQ(b.value(Parameter::nibp_sys, spec), 124);  // median of 120, 130, 124
  EXPECT_EQ(b.count(Parameter::nibp_sys), 3u);
  EXPECT_FALSE(b.value(Parameter::hr, spec));  // 2 of 3: incomplete
  EXPECT_EQ(b.count(Parameter::spo2), 0u);     // not a baseline parameter
  EXPECT_FALSE(b.complete(spec));
}

TEST(Engine, BaselineRelativeRules) {
  const std::string rules =
      "[[rules]]\nid = \"rise\"\nparameter = \"nibp_sys\"\nrise_by = 40\nclear_hysteresis = 10\n"
      "priority = \"medium\"\nphases = [\"infusing\"]\n"
      "[[rules]]\nid = \"hr-pct\"\nparameter = \"hr\"\nrise_by_percent = 30\n"
      "delay_readings = 2\npriority = \"low\"\nphases = [\"infusing\"]\n"
      "[[rules]]\nid = \"hr-fall\"\nparameter = \"hr\"\nfall_by = 20\n"
      "priority = \"low\"\nphases = [\"infusing\"]\n";
  Engine e(protocol(rules), 1, {}, T0);
  Timeline run;
  for (double s : {0.0, 60.0, 120.0, 180.0}) run.add(e.observe(cuff(s == 0 ? 200 : 120, s)));
  for (double v : {70.0, 80.0, 75.0}) run.add(e.observe(obs(Parameter::hr, v, 181)));
  EXPECT_EQ(e.baseline().value(Parameter::nibp_sys, e.protocol().baseline), 120);
  EXPECT_EQ(e.baseline().value(Parameter::hr, e.protocol().baseline), 75);
  ASSERT_TRUE(e.set_phase(Phase::infusing, at(200)).ok());
  run.add(e.observe(cuff(160, 300)));                // 120 + 40: breach (at least 40 above)
  run.add(e.observe(obs(Parameter::hr, 130, 301)));  // 75 + 30 % = 97.5: reading 1 of 2
  run.add(e.observe(obs(Parameter::hr, 130, 302)));  // reading 2
  run.add(e.observe(cuff(135, 900)));                // 160 - 10 hysteresis = 150: clears
  run.add(e.observe(obs(Parameter::hr, 55, 903)));   // 75 - 20 = 55
  EXPECT_EQ(run.lines,
            (std::vector<std::string>{"300 raised rise active", "302 raised hr-pct active",
                                      "900 cleared rise cleared", "903 cleared hr-pct cleared",
                                      "903 raised hr-fall active"}));
  EXPECT_EQ(run.all[0].limit, 160);
  EXPECT_DOUBLE_EQ(*run.all[1].limit, 97.5);
  // Readings after baseline do not move the baseline.
  EXPECT_EQ(e.baseline().value(Parameter::nibp_sys, e.protocol().baseline), 120);
}

TEST(Engine, RelativeRulesNeedACompleteBaseline) {
  Engine e(protocol("[[rules]]\nid = \"rise\"\nparameter = \"nibp_sys\"\nrise_by = 40\n"
                    "priority = \"medium\"\nphases = [\"infusing\"]\n"),
           1, {}, T0);
  e.observe(cuff(120, 0));
  auto r = e.set_phase(Phase::infusing, at(10));
  EXPECT_EQ(r.error, ActionError::gate_blocked);
  EXPECT_NE(r.message.find("nibp_sys: 1 of 3"), std::string::npos) << r.message;
  ASSERT_TRUE(e.set_phase(Phase::infusing, at(10), "n", "patient anxious, BP known").ok());
  EXPECT_TRUE(e.observe(cuff(250, 600)).empty());
}

TEST(Engine, GateBlocksOnBreachAndIncompleteBaseline) {
  Engine e(protocol(kSbpHigh + kHrHigh), 1, {}, T0);
  auto g = e.gate();
  EXPECT_TRUE(g.blocked);
  ASSERT_EQ(g.reasons.size(), 2u);  // nibp_sys and hr: 0 of 3
  EXPECT_EQ(g.reasons[0].kind, GateReason::Kind::baseline_incomplete);
  for (double s : {0.0, 60.0, 120.0}) e.observe(cuff(130, s));
  for (double s : {0.0, 1.0, 2.0}) e.observe(obs(Parameter::hr, 70, 120 + s));
  g = e.gate();
  EXPECT_FALSE(g.blocked);
  EXPECT_TRUE(g.reasons.empty());
  auto ts = e.observe(cuff(195, 180));
  ASSERT_EQ(ts.size(), 1u);
  g = e.gate();
  EXPECT_TRUE(g.blocked);
  ASSERT_EQ(g.reasons.size(), 1u);
  EXPECT_EQ(g.reasons[0].kind, GateReason::Kind::breach);
  EXPECT_EQ(g.reasons[0].alert_id, ts[0].alert_id);
  EXPECT_EQ(g.reasons[0].rule, "sbp-high");
  auto r = e.set_phase(Phase::infusing, at(200));
  EXPECT_EQ(r.error, ActionError::gate_blocked);
  EXPECT_EQ(e.phase(), Phase::baseline);
  // The latched alert still blocks after the BP came down, until a nurse resets it.
  e.observe(cuff(130, 240));
  EXPECT_TRUE(e.gate().blocked);
  ASSERT_TRUE(e.reset(ts[0].alert_id, "n", at(250)).ok());
  EXPECT_FALSE(e.gate().blocked);
  EXPECT_TRUE(e.set_phase(Phase::infusing, at(260)).ok());
  EXPECT_EQ(e.phase(), Phase::infusing);
  EXPECT_TRUE(e.gate().reasons.empty());
}

TEST(Engine, GateWarnModeReportsButAllows) {
  Engine e(protocol(kSbpHigh, "parameters = [\"nibp_sys\"]\ngate = \"warn\"\n"), 1, {}, T0);
  const auto g = e.gate();
  EXPECT_FALSE(g.blocked);
  EXPECT_EQ(g.reasons.size(), 1u);
  EXPECT_TRUE(e.set_phase(Phase::infusing, at(1)).ok());
}

TEST(Engine, PhaseRulesAndEnd) {
  const std::string rules =
      "[[rules]]\nid = \"base-only\"\nparameter = \"hr\"\nabove = 100\npriority = \"low\"\n"
      "phases = [\"baseline\"]\n" +
      kSbpHigh;
  Engine e(protocol(rules, "parameters = []\n"), 1, {}, T0);
  Timeline run;
  run.add(e.observe(obs(Parameter::hr, 120, 0)));
  EXPECT_EQ(e.set_phase(Phase::recovery, at(1)).error, ActionError::invalid_state);
  run.add(e.set_phase(Phase::infusing, at(2), "n", "override").transitions);
  run.add(e.observe(obs(Parameter::hr, 120, 3)));  // no longer applies
  run.add(e.observe(cuff(190, 4)));
  run.add(e.set_phase(Phase::recovery, at(5)).transitions);
  // sbp-high is open and high: the discharge guard wants a reason.
  EXPECT_EQ(e.set_phase(Phase::ended, at(6)).error, ActionError::discharge_blocked);
  run.add(e.set_phase(Phase::ended, at(6), "n", "transferred to the ED").transitions);
  EXPECT_EQ(run.lines,
            (std::vector<std::string>{"0 raised base-only active", "2 cleared base-only cleared",
                                      "4 raised sbp-high active", "6 cleared sbp-high cleared"}));
  EXPECT_EQ(run.all[1].reason, "not_in_phase");
  EXPECT_EQ(run.all[3].reason, "session_ended");
  EXPECT_TRUE(e.open_alerts().empty());
  EXPECT_EQ(e.set_phase(Phase::ended, at(7)).error, ActionError::session_ended);
  EXPECT_EQ(e.acknowledge(run.all[2].alert_id, "n", at(7)).error, ActionError::session_ended);
  EXPECT_TRUE(e.observe(cuff(250, 8)).empty());
  EXPECT_TRUE(e.tick(at(9999)).empty());
}

// ---------------------------------------------------------------------------------------------
// Issue 12: reminders, worsening, bounded pauses, integrating delays, escalation levels,
// supersession, missing data, the discharge guard.

// "12 reactivated r ack_expired" etc.: the line with the reason (and level) for these tests.
std::string detail(const Transition& t) {
  std::string r = line(t);
  if (t.type == EventType::escalated) r += " level " + std::to_string(t.level);
  if (!t.reason.empty()) r += " " + t.reason;
  if (t.superseded_by) r += " superseded_by " + std::to_string(*t.superseded_by);
  return r;
}
std::vector<std::string> details(const Timeline& run) {
  std::vector<std::string> v;
  for (const auto& t : run.all) v.push_back(detail(t));
  return v;
}

const std::string kSpo2 =
    "[[rules]]\nid = \"lo\"\nparameter = \"spo2\"\nbelow = 90\npriority = \"medium\"\n"
    "phases = [\"infusing\"]\n";

TEST(Engine, AcknowledgedAlertRemindsAfterReactivateAfterS) {
  Engine e(protocol(kSpo2 + "reactivate_after_s = 30\nescalate_after_s = [10, 20]\n"), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  for (int t = 1; t <= 80; ++t) {
    run.add(e.observe(obs(Parameter::spo2, 88, t)));
    if (t == 5) run.add(e.acknowledge(run.all.front().alert_id, "n", at(t)).transitions);
  }
  EXPECT_EQ(details(run), (std::vector<std::string>{
                              "1 raised lo active", "5 acknowledged lo acknowledged by n",
                              "35 reactivated lo active ack_expired",
                              "45 escalated lo active level 1", "55 escalated lo active level 2"}));
}

TEST(Engine, SilencedAlertIsActiveAgainWhenItWorsens) {
  Engine e(protocol(kSpo2 + "worsen_by = 4\n"), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  run.add(e.observe(obs(Parameter::spo2, 88, 1)));
  const auto id = run.all.front().alert_id;
  run.add(e.pause(id, 60, "n", at(2)).transitions);
  run.add(e.observe(obs(Parameter::spo2, 85, 3)));  // 3 worse than when paused: nothing
  run.add(e.observe(obs(Parameter::spo2, 84, 4)));  // 4 worse: active again at once
  run.add(e.acknowledge(id, "n", at(5)).transitions);
  run.add(e.observe(obs(Parameter::spo2, 81, 6)));  // 3 worse than when acknowledged (84)
  run.add(e.observe(obs(Parameter::spo2, 80, 7)));
  EXPECT_EQ(details(run),
            (std::vector<std::string>{
                "1 raised lo active", "2 paused lo paused by n", "4 reactivated lo active worsened",
                "5 acknowledged lo acknowledged by n", "7 reactivated lo active worsened"}));
  EXPECT_EQ(e.find(id)->paused_s, 2);  // the unused 58 s of the pause were given back
}

TEST(Engine, PausesAreCappedAndAnExtensionGivesBackTheUnusedRest) {
  const std::string text =
      "[protocol]\nname = \"t\"\nmax_pause_s = 60\nmax_paused_total_s = 100\n" + kSpo2;
  core::Diagnostics d;
  auto parsed =
      parse_protocol(toml::parse(std::string_view{text}, std::string_view{"t.toml"}), "t.toml", d);
  ASSERT_TRUE(parsed);
  Engine e(std::make_shared<const Protocol>(*parsed), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  auto raised = e.observe(obs(Parameter::spo2, 88, 1));
  const auto id = raised.at(0).alert_id;
  EXPECT_TRUE(e.pause(id, 60, "n", at(10)).ok());  // 60 granted
  EXPECT_TRUE(e.pause(id, 60, "n", at(30)).ok());  // 20 used + 60 = 80
  EXPECT_EQ(e.find(id)->paused_s, 80);
  e.tick(at(90));                                     // over: active
  const auto refused = e.pause(id, 30, "n", at(91));  // 80 + 30 > 100
  EXPECT_EQ(refused.error, ActionError::pause_limit);
  EXPECT_TRUE(refused.transitions.empty());
  EXPECT_NE(refused.message.find("max_paused_total_s 100"), std::string::npos) << refused.message;
  EXPECT_TRUE(e.pause(id, 20, "n", at(91)).ok());  // exactly 100
  EXPECT_EQ(e.pause(id, 1, "n", at(200)).error, ActionError::pause_limit);
}

TEST(Engine, IntegratingDelayKeepsItsSumUntilTheValueStaysNormal) {
  Engine e(protocol(kSpo2 + "delay_area = 20\nreset_after_s = 5\n"), 1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  // 86 % adds 4 per second: 12 by 3 s; 4 s of normal readings keep it; 16 at 8 s, 20 at 9 s.
  const std::vector<double> a{86, 86, 86, 95, 95, 95, 95, 86, 86};
  for (std::size_t i = 0; i < a.size(); ++i)
    run.add(e.observe(obs(Parameter::spo2, a[i], static_cast<double>(i + 1))));
  EXPECT_EQ(run.lines, std::vector<std::string>{"9 raised lo active"});

  Engine f(protocol(kSpo2 + "delay_area = 20\nreset_after_s = 5\n"), 1, {}, T0);
  f.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline reset;
  // 5 s of normal readings reset it: 12 + 4 + 4 = 20 only at 14 s.
  const std::vector<double> b{86, 86, 86, 95, 95, 95, 95, 95, 95, 86, 86, 86, 86, 86};
  for (std::size_t i = 0; i < b.size(); ++i)
    reset.add(f.observe(obs(Parameter::spo2, b[i], static_cast<double>(i + 1))));
  EXPECT_EQ(reset.lines, std::vector<std::string>{"14 raised lo active"});
}

TEST(Engine, HigherRuleSupersedesAndItsAcknowledgementCoversBoth) {
  Engine e(protocol(kSpo2 + "escalate_after_s = 30\n" +
                    "[[rules]]\nid = \"deep\"\nparameter = \"spo2\"\nbelow = 85\n"
                    "priority = \"high\"\nphases = [\"infusing\"]\nclear_hysteresis = 7\n"),
           1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  run.add(e.observe(obs(Parameter::spo2, 88, 1)));
  run.add(e.observe(obs(Parameter::spo2, 80, 2)));
  run.add(e.tick(at(40)));  // lo is superseded: it does not escalate on its own
  run.add(e.observe(obs(Parameter::spo2, 91, 41)));  // lo clears at >= 90, deep at >= 92 only
  run.add(e.observe(obs(Parameter::spo2, 92, 42)));
  const auto lo = run.all.front().alert_id;
  const auto deep = run.all[1].alert_id;
  EXPECT_EQ(details(run),
            (std::vector<std::string>{
                "1 raised lo active", "2 raised deep active",
                "2 superseded lo active superseded superseded_by " + std::to_string(deep),
                "41 cleared lo cleared condition_ended superseded_by " + std::to_string(deep),
                "42 cleared deep cleared condition_ended"}));

  Timeline ack;
  ack.add(e.observe(obs(Parameter::spo2, 88, 50)));
  ack.add(e.observe(obs(Parameter::spo2, 80, 51)));
  const auto lo2 = ack.all.front().alert_id;
  const auto deep2 = ack.all[1].alert_id;
  ack.add(e.acknowledge(deep2, "nurse", at(52)).transitions);
  ack.add(e.observe(obs(Parameter::spo2, 88, 53)));  // deep's condition continues (< 92)
  ack.add(e.observe(obs(Parameter::spo2, 93, 54)));
  EXPECT_EQ(details(ack),
            (std::vector<std::string>{
                "50 raised lo active", "51 raised deep active",
                "51 superseded lo active superseded superseded_by " + std::to_string(deep2),
                "52 acknowledged deep acknowledged by nurse",
                "52 acknowledged lo acknowledged by nurse superseding_acknowledged "
                "superseded_by " +
                    std::to_string(deep2),
                "54 cleared deep cleared condition_ended",
                "54 cleared lo cleared condition_ended superseded_by " + std::to_string(deep2)}));
  EXPECT_NE(lo, lo2);
}

TEST(Engine, LowerAlertStandsAloneAgainWhenTheHigherClears) {
  Engine e(protocol(kSpo2 + "escalate_after_s = 30\n" +
                    "[[rules]]\nid = \"deep\"\nparameter = \"spo2\"\nbelow = 85\n"
                    "priority = \"high\"\nphases = [\"infusing\"]\n"),
           1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  run.add(e.observe(obs(Parameter::spo2, 80, 1)));
  run.add(e.observe(obs(Parameter::spo2, 87, 10)));  // deep clears, lo goes on
  run.add(e.tick(at(40)));
  EXPECT_EQ(
      details(run),
      (std::vector<std::string>{
          "1 raised deep active",
          "1 raised lo active superseded_by " + std::to_string(run.all[0].alert_id),
          "10 cleared deep cleared condition_ended", "10 superseded lo active no_longer_superseded",
          "40 escalated lo active level 1"}));  // due at 31, first call
}

TEST(Engine, NoValidValueForDelaySRaisesWithWhatWasSeen) {
  Engine e(protocol(kSpo2 + "[[rules]]\nid = \"miss\"\ntechnical = \"sensor_invalid\"\n"
                            "parameter = \"spo2\"\ndelay_s = 10\npriority = \"high\"\n"
                            "phases = [\"infusing\"]\n"),
           1, {}, T0);
  e.set_phase(Phase::infusing, at(0), "n", "test");
  Timeline run;
  for (int t = 1; t <= 12; ++t)
    run.add(e.observe(obs(Parameter::spo2, 95, t, core::Validity::invalid)));
  run.add(e.observe(obs(Parameter::spo2, 95, 13, core::Validity::questionable)));  // not valid
  run.add(e.observe(obs(Parameter::spo2, 95, 14)));
  // Offline: comm_lost's business, not missing data; online again, the count starts afresh.
  run.add(e.monitor_state(core::MonitorState::offline, at(20)));
  run.add(e.tick(at(60)));
  run.add(e.monitor_state(core::MonitorState::online, at(61)));
  run.add(e.tick(at(70)));
  run.add(e.tick(at(71)));
  EXPECT_EQ(details(run), (std::vector<std::string>{"10 raised miss active invalid",
                                                    "14 cleared miss cleared condition_ended",
                                                    "71 raised miss active no_data"}));
  EXPECT_EQ(run.all[0].priority, Priority::high);
}

TEST(Engine, DischargeGuardBeforeMinRecoveryAndWithHighAlertsOpen) {
  const std::string text =
      "[protocol]\nname = \"t\"\nmin_recovery_s = 600\n"
      "[[rules]]\nid = \"hi\"\nparameter = \"hr\"\nabove = 150\npriority = \"high\"\n"
      "phases = [\"baseline\", \"infusing\", \"recovery\"]\n";
  core::Diagnostics d;
  auto p =
      parse_protocol(toml::parse(std::string_view{text}, std::string_view{"t.toml"}), "t.toml", d);
  ASSERT_TRUE(p);
  const auto proto = std::make_shared<const Protocol>(*p);
  {  // baseline: no drug given, only open high alerts hold the session
    Engine e(proto, 1, {}, T0);
    EXPECT_TRUE(e.discharge(at(1)).empty());
    e.observe(obs(Parameter::hr, 160, 2));
    EXPECT_EQ(e.discharge(at(3)).size(), 1u);
    EXPECT_EQ(e.set_phase(Phase::ended, at(3)).error, ActionError::discharge_blocked);
  }
  Engine e(proto, 1, {}, T0);
  e.set_phase(Phase::infusing, at(0));
  EXPECT_EQ(e.discharge(at(1)),
            std::vector<std::string>{
                "the session is infusing: recovery (min_recovery_s 600 s) has not begun"});
  e.set_phase(Phase::recovery, at(100));
  EXPECT_EQ(
      e.discharge(at(699)),
      std::vector<std::string>{"in recovery for 599 s of the protocol's min_recovery_s 600 s"});
  EXPECT_TRUE(e.discharge(at(700)).empty());
  EXPECT_EQ(e.set_phase(Phase::ended, at(699)).error, ActionError::discharge_blocked);
  EXPECT_EQ(e.phase(), Phase::recovery);
  EXPECT_TRUE(e.set_phase(Phase::ended, at(700)).ok());
}

// ---------------------------------------------------------------------------------------------
// Restore after a restart.

TEST(Engine, RestoreDoesNotRaiseAgain) {
  std::int64_t next = 1;
  auto ids = [&next] { return next++; };
  auto p = protocol(kHrHigh + kSbpHigh);
  Engine e(p, 7, ids, T0);
  for (double s : {0.0, 60.0, 120.0}) e.observe(cuff(130, s));
  for (double s : {0.0, 1.0, 2.0}) e.observe(obs(Parameter::hr, 70, 120 + s));
  ASSERT_TRUE(e.set_phase(Phase::infusing, at(130)).ok());
  Timeline before;
  for (double s = 200; s <= 210; ++s) before.add(e.observe(obs(Parameter::hr, 160, s)));
  const auto hr_id = before.all.back().alert_id;
  before.add(e.observe(cuff(190, 300)));
  before.add(e.acknowledge(before.all.back().alert_id, "n", at(301)).transitions);
  before.add(e.observe(cuff(120, 900)));  // acknowledged latching: cleared
  before.add(e.observe(cuff(200, 1500)));
  const auto sbp_id = before.all.back().alert_id;
  before.add(e.observe(cuff(120, 2100)));  // latched
  ASSERT_EQ(
      before.lines,
      (std::vector<std::string>{
          "210 raised hr-high active", "300 escalated hr-high active", "300 raised sbp-high active",
          "301 acknowledged sbp-high acknowledged by n", "900 cleared sbp-high cleared",
          "1500 raised sbp-high active", "2100 latched sbp-high latched"}));
  const Snapshot snap = e.snapshot();
  ASSERT_EQ(snap.alerts.size(), 2u);

  // "Restart": a new engine from the snapshot, the id counter from the store.
  std::int64_t restored_next = 3;
  Engine r = Engine::restore(
      p, 7, [&restored_next] { return restored_next++; }, snap);
  EXPECT_EQ(r.phase(), Phase::infusing);
  EXPECT_EQ(r.baseline().value(Parameter::nibp_sys, p->baseline), 130);
  Timeline after;
  for (double s = 2200; s <= 2215; ++s) after.add(r.observe(obs(Parameter::hr, 160, s)));
  after.add(r.observe(cuff(119, 2700)));
  EXPECT_EQ(after.lines, (std::vector<std::string>{}));  // still the same two alerts
  EXPECT_EQ(r.open_alerts().size(), 2u);
  EXPECT_EQ(r.find(hr_id)->state, AlertState::active);
  EXPECT_TRUE(r.find(hr_id)->escalated);
  EXPECT_EQ(r.find(sbp_id)->state, AlertState::latched);
  // And they carry on: HR normal clears; the latched one resets.
  after.add(r.observe(obs(Parameter::hr, 80, 2800)));
  after.add(r.reset(sbp_id, "m", at(2801)).transitions);
  EXPECT_EQ(after.lines, (std::vector<std::string>{"2800 cleared hr-high cleared",
                                                   "2801 reset sbp-high cleared by m"}));
  EXPECT_EQ(restored_next, 3);  // nothing new was raised
}

TEST(Engine, RestoreEscalatesAnOverdueAlertOnceAndClearsRemovedRules) {
  auto p = protocol(kHrHigh);
  Snapshot s;
  s.phase = Phase::infusing;
  s.phase_since = at(0);
  Alert a;
  a.id = 10;
  a.rule = "hr-high";
  a.parameter = Parameter::hr;
  a.priority = Priority::high;
  a.raised_at = a.active_since = at(100);
  a.value = 160;
  a.limit = 150;
  a.unit = "/min";
  s.alerts.push_back(a);
  Alert gone = a;
  gone.id = 11;
  gone.rule = "old-rule";
  s.alerts.push_back(gone);
  Engine r = Engine::restore(p, 1, {}, s);
  Timeline run;
  run.add(r.tick(at(500)));
  run.add(r.tick(at(501)));
  EXPECT_EQ(run.lines, (std::vector<std::string>{"500 escalated hr-high active",
                                                 "500 cleared old-rule cleared"}));
  EXPECT_EQ(run.all[1].reason, "rule_removed");
  // Without an id source, new ids continue after the restored ones.
  EXPECT_EQ(line(r.observe(obs(Parameter::hr, 80, 510)).at(0)), "510 cleared hr-high cleared");
  std::vector<Transition> ts;
  for (double t = 520; t <= 530; ++t) ts = r.observe(obs(Parameter::hr, 160, t));
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].alert_id, 12);
}

}  // namespace
}  // namespace vitalsd::alarms
