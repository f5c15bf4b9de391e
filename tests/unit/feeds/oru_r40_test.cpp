// ORU^R40 (IHE PCD ACM) built from alert events: the segment layout, the ACM vocabulary, and
// well-formedness proven by an independent parser (Debian's python3-hl7).
#include "feeds/oru_r40.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "feeds/outbox.hpp"
#include "hl7/message.hpp"
#include "store/records.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::feeds {
namespace {

store::CommittedEvent alert(const std::string& type, const std::string& state, double value,
                            const std::string& kind = "physiological",
                            const std::string& parameter = "nibp_sys") {
  nlohmann::json a{{"id", 17},
                   {"session", 3},
                   {"monitor", "chair-1"},
                   {"rule", kind == "physiological" ? "nibp_sys_high" : kind},
                   {"kind", kind},
                   {"value", value},
                   {"unit", "mm[Hg]"},
                   {"limit", 160},
                   {"priority", "high"},
                   {"state", state},
                   {"escalated", false}};
  a["parameter"] = parameter.empty() ? nlohmann::json() : nlohmann::json(parameter);
  store::CommittedEvent e;
  e.seq = 42;
  e.event = store::Event{"alert." + type, *core::parse_iso8601("2026-11-27T14:30:31.123Z"),
                         "chair-1", 3, nlohmann::json{{"alert", a}}};
  return e;
}

OruContext context() {
  OruContext c;
  c.site = "clinic-1";
  c.receiving_application = "EHR";
  c.receiving_facility = "HOSP";
  c.control_id = "42";
  c.now = *core::parse_iso8601("2026-11-27T14:30:32.000Z");
  c.patient = "P-200";
  c.location = "Room 2";
  return c;
}

TEST(OruR40, SegmentLayoutFollowsPcd04) {
  const auto wire = build_oru_r40(alert("raised", "active", 182), context());
  ASSERT_TRUE(wire);
  const auto m = hl7::parse(*wire);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->field("MSH", 0, 9), "ORU^R40^ORU_R40");
  EXPECT_EQ(m->field("MSH", 0, 10), "42");
  EXPECT_EQ(m->field("MSH", 0, 12), "2.6");
  EXPECT_EQ(m->field("MSH", 0, 21), kAcmProfile);
  EXPECT_EQ(m->field("MSH", 0, 5), "EHR");
  EXPECT_EQ(m->field("PID", 0, 3), "P-200^^^clinic-1^PI");
  EXPECT_EQ(m->field("PV1", 0, 3), "Room 2^^chair-1^clinic-1");
  EXPECT_EQ(m->field("OBR", 0, 2), "17^VITALSD");
  EXPECT_EQ(m->field("OBR", 0, 4), "196616^MDC_EVT_ALARM^MDC");
  EXPECT_EQ(m->field("OBR", 0, 7), "20261127143031.123+0000");
  ASSERT_EQ(m->count("OBX"), 8u);
  // OBX 1: the device; then the seven facets of the alarm, dotted under the metric.
  EXPECT_EQ(m->field("OBX", 0, 3), "69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC");
  const std::vector<std::pair<std::string, std::string>> facets{
      {"196648^MDC_EVT_HI^MDC", "1.1.1.150021.1"},
      {"150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "1.1.1.150021.2"},
      {"68481^MDC_ATTR_EVENT_PHASE^MDC", "1.1.1.150021.3"},
      {"68482^MDC_ATTR_ALARM_STATE^MDC", "1.1.1.150021.4"},
      {"68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC", "1.1.1.150021.5"},
      {"68484^MDC_ATTR_ALARM_PRIORITY^MDC", "1.1.1.150021.6"},
      {"68485^MDC_ATTR_ALERT_TYPE^MDC", "1.1.1.150021.7"}};
  for (std::size_t i = 0; i < facets.size(); ++i) {
    EXPECT_EQ(m->field("OBX", i + 1, 3), facets[i].first) << i;
    EXPECT_EQ(m->field("OBX", i + 1, 4), facets[i].second) << i;
  }
  EXPECT_EQ(m->field("OBX", 1, 8), "H~PH~SP");
  EXPECT_EQ(m->value("OBX", 2, 5), "182");
  EXPECT_EQ(m->field("OBX", 2, 6), "266016^MDC_DIM_MMHG^MDC");
  EXPECT_EQ(m->value("OBX", 2, 7), "<160");
  EXPECT_EQ(m->value("OBX", 3, 5), "start");
  EXPECT_EQ(m->value("OBX", 4, 5), "active");
  EXPECT_EQ(m->value("OBX", 5, 5), "enabled");
  EXPECT_EQ(m->value("OBX", 6, 5), "PH");
  EXPECT_EQ(m->value("OBX", 7, 5), "SP");
}

TEST(OruR40, PhaseAndStateFollowTheAlert) {
  struct Case {
    std::string type, state, phase, alarm_state, inactivation;
  };
  for (const auto& c : std::vector<Case>{
           {"raised", "active", "start", "active", "enabled"},
           {"escalated", "active", "continue", "active", "enabled"},
           {"acknowledged", "acknowledged", "continue", "active", "alert-acknowledged"},
           {"paused", "paused", "continue", "active", "alarm-paused"},
           {"latched", "latched", "continue", "latched", "enabled"},
           {"cleared", "cleared", "end", "inactive", "enabled"},
           {"reset", "cleared", "end", "inactive", "enabled"}}) {
    const auto m = hl7::parse(*build_oru_r40(alert(c.type, c.state, 95), context()));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->value("OBX", 3, 5), c.phase) << c.type;
    EXPECT_EQ(m->value("OBX", 4, 5), c.alarm_state) << c.type;
    EXPECT_EQ(m->value("OBX", 5, 5), c.inactivation) << c.type;
    EXPECT_EQ(m->field("OBX", 1, 3), "196670^MDC_EVT_LO^MDC") << "95 is below the limit 160";
  }
}

TEST(OruR40, TechnicalAlertHasAlertSourceAndNoValue) {
  const auto m =
      hl7::parse(*build_oru_r40(alert("raised", "active", 0, "comm_lost", ""), context()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->field("OBX", 1, 3), "196616^MDC_EVT_ALARM^MDC");
  EXPECT_EQ(m->field("OBX", 1, 4), "1.0.0.0.1");
  EXPECT_EQ(m->field("OBX", 1, 8), "PH~ST");
  EXPECT_EQ(m->field("OBX", 2, 3), "68480^MDC_ATTR_ALERT_SOURCE^MDC");
  EXPECT_EQ(m->value("OBX", 2, 5), "chair-1");
  EXPECT_EQ(m->value("OBX", 7, 5), "ST");
}

TEST(OruR40, EventWithoutAlertIsNotAnAlarmReport) {
  store::CommittedEvent e;
  e.event = store::Event{"session.started", {}, "chair-1", 1, nlohmann::json::object()};
  EXPECT_FALSE(build_oru_r40(e, context()));
}

TEST(OruR40, TextIsEscaped) {
  auto ctx = context();
  ctx.patient = "P|2^x&y";
  const auto m = hl7::parse(*build_oru_r40(alert("raised", "active", 182), ctx));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value("PID", 0, 3), "P|2^x&y");
}

// Issue 12: events as the journal writes them (store::alert_event of an engine transition).
store::CommittedEvent journaled(alarms::EventType type, alarms::AlertState state, double value,
                                int level = 0, std::optional<std::int64_t> superseded_by = {}) {
  alarms::Transition t;
  t.type = type;
  t.session = 3;
  t.alert_id = 17;
  t.rule = "sbp-severe-high";
  t.parameter = core::Parameter::nibp_sys;
  t.value = value;
  t.limit = 180;
  t.unit = "mm[Hg]";
  t.priority = alarms::Priority::high;
  t.state = state;
  t.level = level;
  t.escalated = level > 0;
  t.superseded_by = superseded_by;
  t.direction = "above";
  t.at = *core::parse_iso8601("2026-11-27T14:30:31.123Z");
  store::CommittedEvent e;
  e.seq = 50;
  e.event = store::alert_event(t, "chair-1");
  return e;
}

// Was: the `end` and `latched` messages of a high-BP alert said MDC_EVT_LO and "165 below
// limit 180". Now every transition of an above rule is MDC_EVT_HI with the rule's limit, and
// the current value stands on its own in facet 2.
TEST(OruR40, AboveRuleIsHighInEveryPhaseWithTheValueApart) {
  using alarms::AlertState;
  using alarms::EventType;
  for (const auto& [type, state, value] : std::vector<std::tuple<EventType, AlertState, double>>{
           {EventType::raised, AlertState::active, 200},
           {EventType::acknowledged, AlertState::acknowledged, 190},
           {EventType::latched, AlertState::latched, 165},
           {EventType::cleared, AlertState::cleared, 165},
           {EventType::reset, AlertState::cleared, 150}}) {
    const auto wire = build_oru_r40(journaled(type, state, value), context());
    ASSERT_TRUE(wire) << alarms::to_string(type);
    const auto m = hl7::parse(*wire);
    ASSERT_TRUE(m);
    const std::string what(alarms::to_string(type));
    EXPECT_EQ(m->field("OBX", 1, 3), "196648^MDC_EVT_HI^MDC") << what;
    EXPECT_EQ(m->value("OBX", 1, 5), "nibp_sys above limit 180 mm[Hg] (rule sbp-severe-high)")
        << what;
    EXPECT_EQ(m->field("OBX", 1, 8), "H~PH~SP") << what;
    EXPECT_EQ(m->value("OBX", 2, 5), fmt::format("{}", value)) << what;
    EXPECT_EQ(m->value("OBX", 2, 7), "<180") << what;
    EXPECT_EQ(wire->find("below"), std::string::npos) << what;
  }
}

TEST(OruR40, EscalationCarriesItsLevel) {
  const auto none = hl7::parse(*build_oru_r40(
      journaled(alarms::EventType::raised, alarms::AlertState::active, 200), context()));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->count("OBX"), 8u);  // no level before the first escalation
  for (int level : {1, 2}) {
    const auto m = hl7::parse(*build_oru_r40(
        journaled(alarms::EventType::escalated, alarms::AlertState::active, 200, level),
        context()));
    ASSERT_TRUE(m);
    ASSERT_EQ(m->count("OBX"), 9u);
    EXPECT_EQ(m->field("OBX", 8, 3), "escalation-level^alert escalation level^L");
    EXPECT_EQ(m->field("OBX", 8, 4), "1.1.1.150021.8");
    EXPECT_EQ(m->value("OBX", 8, 5), std::to_string(level));
    EXPECT_EQ(m->value("OBX", 3, 5), "continue");
  }
}

// One announcement per event: a superseded alert's raise (and reactivation, unpause,
// escalation) is not sent; its supersession, acknowledgement and end are, naming the alert
// that announces it.
TEST(OruR40, SupersededAlertIsNotAnnouncedButItsStateIsReported) {
  using alarms::AlertState;
  using alarms::EventType;
  for (auto type :
       {EventType::raised, EventType::reactivated, EventType::unpaused, EventType::escalated})
    EXPECT_FALSE(build_oru_r40(journaled(type, AlertState::active, 200, 0, 16), context()))
        << alarms::to_string(type);
  for (auto [type, state] : std::vector<std::pair<EventType, AlertState>>{
           {EventType::superseded, AlertState::active},
           {EventType::acknowledged, AlertState::acknowledged},
           {EventType::cleared, AlertState::cleared}}) {
    const auto wire = build_oru_r40(journaled(type, state, 200, 0, 16), context());
    ASSERT_TRUE(wire) << alarms::to_string(type);
    const auto m = hl7::parse(*wire);
    ASSERT_TRUE(m);
    const auto n = m->count("OBX");
    EXPECT_EQ(m->field("OBX", n - 1, 3), "superseded-by^announced by alert^L");
    EXPECT_EQ(m->value("OBX", n - 1, 5), "16");
  }
}

// When what superseded it clears first, the alert is announced from then on: its
// `superseded` event (superseded_by null) is the ACM `start` the receiver never had.
TEST(OruR40, AlertNoLongerSupersededStartsItsAnnouncement) {
  const auto m = hl7::parse(*build_oru_r40(
      journaled(alarms::EventType::superseded, alarms::AlertState::active, 200), context()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value("OBX", 3, 5), "start");
  EXPECT_EQ(m->count("OBX"), 8u);  // no superseded-by facet
  const auto still = hl7::parse(*build_oru_r40(
      journaled(alarms::EventType::superseded, alarms::AlertState::active, 200, 0, 16), context()));
  ASSERT_TRUE(still);
  EXPECT_EQ(still->value("OBX", 3, 5), "continue");
}

// The MQTT feed publishes the event JSON as the journal has it: level and superseded_by ride
// along for paging middleware.
TEST(EventJson, CarriesLevelSupersessionAndDirection) {
  const auto e = journaled(alarms::EventType::escalated, alarms::AlertState::active, 200, 2);
  const auto j = nlohmann::json::parse(store::event_json(e.seq, e.event));
  EXPECT_EQ(j["alert"]["level"], 2);
  EXPECT_TRUE(j["alert"]["superseded_by"].is_null());
  EXPECT_EQ(j["alert"]["direction"], "above");
  const auto s = journaled(alarms::EventType::raised, alarms::AlertState::active, 200, 0, 16);
  EXPECT_EQ(nlohmann::json::parse(store::event_json(s.seq, s.event))["alert"]["superseded_by"], 16);
}

// Debian's python3-hl7 (an independent parser) reads our message: MSH-9, the OBX codes.
TEST(OruR40, ParsedByPython3Hl7) {
  test::TempDir dir;
  const auto wire = *build_oru_r40(alert("raised", "active", 182), context());
  { std::ofstream(dir / "msg.hl7", std::ios::binary) << wire; }
  const std::string script =
      "import hl7, sys\n"
      "m = hl7.parse(open(sys.argv[1], newline='').read())\n"
      "print(str(m.segment('MSH')[9]))\n"
      "print(str(m.segment('MSH')[21]))\n"
      "print(str(m.segment('PID')[3]))\n"
      "for s in m.segments('OBX'):\n"
      "    print(str(s[3]).split('^')[0] + ' ' + str(s[4]) + ' ' + str(s[5]))\n";
  { std::ofstream(dir / "check.py") << script; }
  const std::string cmd =
      "/usr/bin/python3 " + (dir / "check.py").string() + " " + (dir / "msg.hl7").string();
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ASSERT_EQ(::pclose(p), 0) << "python3-hl7 failed (apt-get install python3-hl7): " << out;
  EXPECT_NE(out.find("ORU^R40^ORU_R40\n"), std::string::npos) << out;
  EXPECT_NE(out.find("IHE_PCD_ACM_001^IHE PCD^"), std::string::npos) << out;
  EXPECT_NE(out.find("P-200^^^clinic-1^PI\n"), std::string::npos) << out;
  EXPECT_NE(out.find("196648 1.1.1.150021.1 "), std::string::npos) << out;
  EXPECT_NE(out.find("150021 1.1.1.150021.2 182\n"), std::string::npos) << out;
  EXPECT_NE(out.find("68481 1.1.1.150021.3 start\n"), std::string::npos) << out;
  EXPECT_NE(out.find("68482 1.1.1.150021.4 active\n"), std::string::npos) << out;
  EXPECT_NE(out.find("68484 1.1.1.150021.6 PH\n"), std::string::npos) << out;
}

TEST(TypeFilter, GlobsAndExclusions) {
  const TypeFilter hl7({"alert.*"});
  EXPECT_TRUE(hl7.matches("alert.raised"));
  EXPECT_FALSE(hl7.matches("observation"));
  EXPECT_FALSE(hl7.matches("feed.undelivered"));
  const TypeFilter mqtt({"*"}, {"observation"});
  EXPECT_TRUE(mqtt.matches("session.started"));
  EXPECT_TRUE(mqtt.matches("feed.undelivered"));
  EXPECT_FALSE(mqtt.matches("observation"));
  EXPECT_EQ(mqtt.sql(), "(type GLOB ?) AND type NOT GLOB ?");
  EXPECT_EQ(mqtt.params(), (std::vector<std::string>{"*", "observation"}));
}

}  // namespace
}  // namespace vitalsd::feeds
