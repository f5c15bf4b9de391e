// drivers/hl7/alarm: PCD-04 ORU^R40 (IHE PCD ACM) → the monitor's own alarms, routed by convert().
#include "drivers/hl7/alarm.hpp"

#include <gtest/gtest.h>

#include "hl7/dtm.hpp"
#include "integration/hl7/hl7_messages.hpp"

namespace vitalsd::drivers::hl7 {
namespace {

namespace msg = test::hl7msg;
namespace h = vitalsd::hl7;

const core::Timestamp kNow = *h::parse_dtm("20261207120001+0000");

h::Message parsed(const std::string& text) {
  auto r = h::parse(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

// "MINDRAY-1" → 0, "MINDRAY-2" → 1.
std::optional<std::size_t> lookup(std::string_view s) {
  if (s == "MINDRAY-1") return 0;
  if (s == "MINDRAY-2") return 1;
  return std::nullopt;
}

Conversion run(const std::string& text) {
  return convert(parsed(text), lookup, CodeMap{}, kNow);
}

std::string all_errors(const Conversion& c) {
  std::string s;
  for (const auto& e : c.errors)
    s += e.segment + "-" + std::to_string(e.field) + " (" + std::to_string(e.sequence) +
         "): " + e.text + "\n";
  return s;
}

// The acceptance check's message, as a Mindray monitor sends it.
constexpr const char* kMindray =
    "MSH|^~\\&|MINDRAY-1|MR|||20261207120000+0000||ORU^R40^ORU_R40|A1|P|2.6|||AL|NE||UNICODE "
    "UTF-8\r"
    "PID|||P-1\r"
    "OBR|1|A1||196616^MDC_EVT_ALARM^MDC|||20261207120000+0000\r"
    "OBX|1|ST|196616^MDC_EVT_ALARM^MDC|1.0.0.1|SpO2 Low|||||F\r"
    "OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.2|start|||||F\r"
    "OBX|3|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.3|active|||||F\r"
    "OBX|4|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.4|enabled|||||F\r"
    "OBX|5|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.5|85|%^%^UCUM|90-100|L|||F\r";

TEST(Hl7Alarm, AMindrayOruR40BecomesOneAlarmOfItsMonitor) {
  auto c = run(kMindray);
  EXPECT_FALSE(c.reject);
  EXPECT_TRUE(c.errors.empty()) << all_errors(c);
  EXPECT_TRUE(c.observations.empty());  // the alarm's value is the alarm's, not a reading
  ASSERT_EQ(c.heard, std::vector<std::size_t>{0});
  ASSERT_EQ(c.alarms.size(), 1u);
  const auto& r = c.alarms.front();
  EXPECT_EQ(r.monitor, 0u);
  const auto& a = r.alarm;
  EXPECT_EQ(a.text, "SpO2 Low");
  EXPECT_EQ(a.event_code, "196616");
  EXPECT_EQ(a.event_name, "MDC_EVT_ALARM");
  EXPECT_EQ(a.phase, "start");
  EXPECT_EQ(a.state, "active");
  EXPECT_EQ(a.inactivation, "enabled");
  EXPECT_EQ(a.device_priority, "");  // not sent
  EXPECT_EQ(a.priority, "unknown");
  EXPECT_EQ(a.source_code, "150456");
  EXPECT_EQ(a.source_name, "MDC_PULS_OXIM_SAT_O2");
  ASSERT_TRUE(a.parameter);
  EXPECT_EQ(*a.parameter, core::Parameter::spo2);
  ASSERT_TRUE(a.value);
  EXPECT_EQ(*a.value, 85);
  EXPECT_EQ(a.unit, "%");
  EXPECT_EQ(a.device_time, h::parse_dtm("20261207120000+0000"));
  EXPECT_EQ(a.received_at, kNow);
  EXPECT_FALSE(a.test);
  // No OBR-3: the key is the event code and the source's code, the same in every phase.
  EXPECT_EQ(a.key, "196616/150456");
  EXPECT_TRUE(a.present());
}

TEST(Hl7Alarm, PriorityAndTypeComeFromObx8AsTheProfileCodesThem) {
  const std::pair<const char*, const char*> priorities[] = {
      {"PH", "high"}, {"PM", "medium"}, {"PL", "low"}, {"PN", "none"}};
  for (auto [flag, word] : priorities) {
    msg::Alarm a;
    a.flags = std::string("L~") + flag + "~SP";
    auto c = run(msg::r40(a));
    EXPECT_TRUE(c.errors.empty()) << all_errors(c);
    ASSERT_EQ(c.alarms.size(), 1u);
    EXPECT_EQ(c.alarms[0].alarm.device_priority, flag);
    EXPECT_EQ(c.alarms[0].alarm.priority, word);
    EXPECT_EQ(c.alarms[0].alarm.kind, "physiological");
  }
  msg::Alarm t;
  t.flags = "PM~ST";
  t.event = "196706^MDC_EVT_LEAD_DISCONN^MDC";  // a technical alarm
  t.text = "ECG Lead Off";
  EXPECT_EQ(run(msg::r40(t)).alarms.at(0).alarm.kind, "technical");
  t.flags = "PL~SA";
  EXPECT_EQ(run(msg::r40(t)).alarms.at(0).alarm.kind, "advisory");
}

TEST(Hl7Alarm, EveryPhaseOfTheProfileIsReadAndEndStopResetOrInactiveEndTheAlarm) {
  for (const char* phase :
       {"start", "continue", "present", "update", "escalate", "inactivate", "deescalate"}) {
    msg::Alarm a;
    a.phase = phase;
    auto c = run(msg::r40(a));
    ASSERT_EQ(c.alarms.size(), 1u) << phase << all_errors(c);
    EXPECT_EQ(c.alarms[0].alarm.phase, phase);
    EXPECT_TRUE(c.alarms[0].alarm.present()) << phase;
  }
  for (const char* phase : {"end", "stop", "reset", "start_only"}) {
    msg::Alarm a;
    a.phase = phase;
    auto c = run(msg::r40(a));
    ASSERT_EQ(c.alarms.size(), 1u) << phase << all_errors(c);
    EXPECT_FALSE(c.alarms[0].alarm.present()) << phase;
  }
  msg::Alarm a;
  a.phase = "continue";
  a.state = "inactive";
  EXPECT_FALSE(run(msg::r40(a)).alarms.at(0).alarm.present());
  a.state = "latched";  // the condition ended, the device keeps showing it until reset
  EXPECT_TRUE(run(msg::r40(a)).alarms.at(0).alarm.present());
  a.phase = "END";  // case is not significant
  EXPECT_FALSE(run(msg::r40(a)).alarms.at(0).alarm.present());
}

TEST(Hl7Alarm, TheKeyIsObr3SoContinueAndEndMatchTheStart) {
  msg::Alarm a;
  a.id = "ALM-2211";
  const auto start = run(msg::r40(a)).alarms.at(0).alarm;
  a.phase = "end";
  a.control_id = "A2";
  a.value = "93";
  const auto end = run(msg::r40(a)).alarms.at(0).alarm;
  EXPECT_EQ(start.key, "ALM-2211");
  EXPECT_EQ(end.key, start.key);
  // Without OBR-3, the same event on another parameter is another alarm.
  msg::Alarm b, hr;
  hr.parameter = "147842^MDC_ECG_HEART_RATE^MDC";
  hr.unit = "/min^/min^UCUM";
  EXPECT_NE(run(msg::r40(b)).alarms.at(0).alarm.key, run(msg::r40(hr)).alarms.at(0).alarm.key);
  EXPECT_EQ(run(msg::r40(hr)).alarms.at(0).alarm.parameter, core::Parameter::hr);
}

TEST(Hl7Alarm, TimesWithOffsetsAreUtcAndObx14WinsOverObr7) {
  msg::Alarm a;
  a.time = "20261207200000+0800";
  auto c = run(msg::r40(a));
  EXPECT_EQ(c.alarms.at(0).alarm.device_time, h::parse_dtm("20261207120000+0000"));
  a.alarm_time = "20261207065930-0500";
  c = run(msg::r40(a));
  EXPECT_EQ(c.alarms.at(0).alarm.device_time, h::parse_dtm("20261207115930+0000"));
}

TEST(Hl7Alarm, NonAsciiAlarmTextIsKeptIntact) {
  msg::Alarm a;
  a.text = "SpO₂ niedrig — Überwachung";
  auto c = run(msg::r40(a));
  EXPECT_EQ(c.alarms.at(0).alarm.text, "SpO₂ niedrig — Überwachung");
}

TEST(Hl7Alarm, SeveralAlarmsInOneMessageEachFromItsObrGroup) {
  msg::Alarm spo2, hr;
  spo2.id = "1";
  hr.id = "2";
  hr.text = "HR High";
  hr.flags = "PH~SP";
  hr.event = "196648^MDC_EVT_HI^MDC";
  hr.parameter = "147842^MDC_ECG_HEART_RATE^MDC";
  hr.value = "131";
  hr.unit = "264864^MDC_DIM_BEAT_PER_MIN^MDC";
  std::vector<std::string> segs{msg::r40_header(spo2), "PID|||P-1"};
  for (auto& s : msg::alarm_group(spo2, 1, 1)) segs.push_back(s);
  for (auto& s : msg::alarm_group(hr, 2, 6)) segs.push_back(s);
  auto c = run(msg::join(segs));
  EXPECT_TRUE(c.errors.empty()) << all_errors(c);
  ASSERT_EQ(c.alarms.size(), 2u);
  EXPECT_EQ(c.alarms[0].alarm.key, "1");
  EXPECT_EQ(c.alarms[1].alarm.key, "2");
  EXPECT_EQ(c.alarms[1].alarm.text, "HR High");
  EXPECT_EQ(c.alarms[1].alarm.priority, "high");
  EXPECT_EQ(c.alarms[1].alarm.unit, "/min");
  EXPECT_EQ(*c.alarms[1].alarm.value, 131);
}

TEST(Hl7Alarm, AnUnknownPhaseOrStateIsNotStoredAndTheAckNamesTheField) {
  msg::Alarm a;
  a.phase = "begun";
  auto c = run(msg::r40(a));
  EXPECT_TRUE(c.alarms.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].segment, "OBX");
  EXPECT_EQ(c.errors[0].sequence, 2u);
  EXPECT_EQ(c.errors[0].field, 5u);
  EXPECT_NE(c.errors[0].text.find("'begun'"), std::string::npos);
  a.phase = "start";
  a.state = "ringing";
  c = run(msg::r40(a));
  EXPECT_TRUE(c.alarms.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].sequence, 3u);
  EXPECT_EQ(c.errors[0].field, 5u);
}

TEST(Hl7Alarm, ABadPriorityKeepsTheAlarmAsUnknownAndTheAckNamesObx8) {
  msg::Alarm a;
  a.flags = "PX~SP";
  auto c = run(msg::r40(a));
  ASSERT_EQ(c.alarms.size(), 1u);  // the device's alarm is never dropped for its priority
  EXPECT_EQ(c.alarms[0].alarm.priority, "unknown");
  EXPECT_EQ(c.alarms[0].alarm.device_priority, "PX");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].segment, "OBX");
  EXPECT_EQ(c.errors[0].sequence, 1u);
  EXPECT_EQ(c.errors[0].field, 8u);
  a.flags = "PH~PL";  // two priorities
  c = run(msg::r40(a));
  EXPECT_EQ(c.alarms.at(0).alarm.priority, "unknown");
  EXPECT_EQ(c.errors.size(), 1u);
}

TEST(Hl7Alarm, AnR40WithoutAnAlarmObxIsAnswered) {
  auto c = run(msg::join({msg::r40_header({}), "PID|||P-1",
                          "OBR|1|A1||196616^MDC_EVT_ALARM^MDC|||20261207120000+0000",
                          "OBX|1|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.2|start|||||F"}));
  EXPECT_TRUE(c.alarms.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].segment, "OBR");
  EXPECT_EQ(c.errors[0].sequence, 1u);
  EXPECT_NE(c.errors[0].text.find("no alarm OBX"), std::string::npos);
  c = run(msg::join({msg::r40_header({}), "PID|||P-1"}));
  EXPECT_TRUE(c.alarms.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_NE(c.errors[0].text.find("without an alarm"), std::string::npos);
}

TEST(Hl7Alarm, AnUnknownSourceIsAnsweredAndNothingRouted) {
  msg::Alarm a;
  a.source = "SOMEONE-ELSE";
  auto c = run(msg::r40(a));
  EXPECT_TRUE(c.alarms.empty());
  EXPECT_TRUE(c.heard.empty());
  ASSERT_FALSE(c.errors.empty());
  EXPECT_EQ(c.errors.back().segment, "MSH");
  EXPECT_EQ(c.errors.back().field, 3u);
}

TEST(Hl7Alarm, ATrainingMessageMarksItsAlarmsAsTest) {
  std::string text = msg::r40({});
  text.replace(text.find("|A1|P|"), 6, "|A1|T|");
  auto c = run(text);
  ASSERT_EQ(c.alarms.size(), 1u);
  EXPECT_TRUE(c.alarms[0].alarm.test);
}

TEST(Hl7Alarm, OtherMessageTypesAreStillRefused) {
  std::string text = msg::r40({});
  text.replace(text.find("ORU^R40^ORU_R40"), 15, "ORU^R30^ORU_R30");
  auto c = run(text);
  EXPECT_TRUE(c.reject);
  EXPECT_NE(c.errors.at(0).text.find("ORU^R40"), std::string::npos);
}

TEST(Hl7Alarm, TheProfileTables) {
  EXPECT_EQ(alarm_priority("PH"), "high");
  EXPECT_FALSE(alarm_priority("H"));
  EXPECT_EQ(alarm_kind("ST"), "technical");
  EXPECT_FALSE(alarm_kind("S"));
  EXPECT_TRUE(known_phase("start_only"));
  EXPECT_FALSE(known_phase("started"));
  EXPECT_TRUE(known_alarm_state("latched"));
  EXPECT_FALSE(known_alarm_state("on"));
}

}  // namespace
}  // namespace vitalsd::drivers::hl7
