// drivers/hl7/convert: PCD-01 ORU^R01 → Observations, routing, units, status, ACK errors.
#include "drivers/hl7/convert.hpp"

#include <gtest/gtest.h>

#include "hl7/dtm.hpp"
#include "integration/hl7/hl7_messages.hpp"

namespace vitalsd::drivers::hl7 {
namespace {

namespace msg = test::hl7msg;
using core::Parameter;
using core::Validity;

const core::Timestamp kNow = *vitalsd::hl7::parse_dtm("20261127143001+0000");

vitalsd::hl7::Message parsed(const std::string& text) {
  auto r = vitalsd::hl7::parse(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

// Sources: "BEDMON-7" → 0, "CHAIR7" → 1, "DEV-A" → 2, "DEV-B" → 3.
std::optional<std::size_t> lookup(std::string_view s) {
  if (s == "BEDMON-7") return 0;
  if (s == "CHAIR7") return 1;
  if (s == "DEV-A") return 2;
  if (s == "DEV-B") return 3;
  return std::nullopt;
}

Conversion run(const std::string& text, const CodeMap& codes = {}) {
  return convert(parsed(text), lookup, codes, kNow);
}

const core::Observation* find(const Conversion& c, Parameter p) {
  for (const auto& r : c.observations)
    if (r.observation.parameter == p) return &r.observation;
  return nullptr;
}

TEST(Hl7Convert, AVendorShapedPcd01MessageBecomesObservations) {
  auto c = run(msg::oru());
  EXPECT_FALSE(c.reject);
  EXPECT_TRUE(c.errors.empty()) << c.errors.front().text;
  ASSERT_EQ(c.heard, std::vector<std::size_t>{0});
  ASSERT_EQ(c.observations.size(), 7u);  // hr, spo2, pr, sys, dia, mean, rr; no containment rows
  for (const auto& r : c.observations) {
    EXPECT_EQ(r.monitor, 0u);
    EXPECT_EQ(r.observation.received_at, kNow);
    EXPECT_EQ(r.observation.validity, Validity::valid);
    EXPECT_EQ(r.observation.unit, core::info(r.observation.parameter).ucum);
  }
  const auto t = vitalsd::hl7::parse_dtm("20261127143000+0000");
  const auto cuff = vitalsd::hl7::parse_dtm("20261127142800+0000");
  EXPECT_EQ(find(c, Parameter::hr)->value, 72);
  EXPECT_EQ(find(c, Parameter::hr)->device_time, t);
  EXPECT_FALSE(find(c, Parameter::hr)->measurement_id);
  EXPECT_EQ(find(c, Parameter::spo2)->value, 97);
  EXPECT_EQ(find(c, Parameter::pr)->value, 71);
  EXPECT_EQ(find(c, Parameter::rr)->value, 14);
  const auto* sys = find(c, Parameter::nibp_sys);
  EXPECT_EQ(sys->value, 128);
  EXPECT_EQ(sys->unit, "mm[Hg]");
  EXPECT_EQ(sys->device_time, cuff);
  ASSERT_TRUE(sys->measurement_id);
  EXPECT_EQ(find(c, Parameter::nibp_dia)->value, 79);
  EXPECT_EQ(find(c, Parameter::nibp_mean)->value, 95);
}

TEST(Hl7Convert, TheSameCuffMeasurementResentHasTheSameIdADifferentOneDoesNot) {
  msg::Vitals v;
  auto a = run(msg::oru(v));
  v.control_id = "MSG00002";
  v.time = "20261127143100+0000";  // the next periodic message repeats the last cuff reading
  auto b = run(msg::oru(v));
  EXPECT_EQ(find(a, Parameter::nibp_sys)->measurement_id,
            find(b, Parameter::nibp_sys)->measurement_id);
  v.sys = 131;  // same time stamp, another value: a different measurement
  auto c = run(msg::oru(v));
  EXPECT_NE(find(a, Parameter::nibp_sys)->measurement_id,
            find(c, Parameter::nibp_sys)->measurement_id);
  v.sys = 128;
  v.nibp_time = "20261127143300+0000";
  auto d = run(msg::oru(v));
  EXPECT_NE(find(a, Parameter::nibp_sys)->measurement_id,
            find(d, Parameter::nibp_sys)->measurement_id);
  // Readable: the device time in ms is the id's upper bits; the id is a positive int64.
  const auto id = *find(a, Parameter::nibp_sys)->measurement_id;
  EXPECT_EQ(static_cast<std::int64_t>(id >> 20),
            vitalsd::hl7::parse_dtm("20261127142800+0000")->time_since_epoch().count());
  EXPECT_LT(id, std::uint64_t{1} << 63);
}

TEST(Hl7Convert, RoutingPrefersMsh3ThenPv1ThenObx18) {
  // MSH-3.1 unknown, PV1-3 has CHAIR7 as a component.
  msg::Vitals v;
  v.source = "UNKNOWN";
  auto c = run(msg::oru(v));
  EXPECT_TRUE(c.errors.empty());
  EXPECT_EQ(c.heard, std::vector<std::size_t>{1});
  EXPECT_EQ(c.observations.front().monitor, 1u);

  // Gateway: each OBX names its device in OBX-18.
  auto g = run(msg::gateway("G1", "DEV-A", 61, "DEV-B", 62));
  EXPECT_TRUE(g.errors.empty());
  ASSERT_EQ(g.observations.size(), 2u);
  EXPECT_EQ(g.observations[0].monitor, 2u);
  EXPECT_EQ(g.observations[0].observation.value, 61);
  EXPECT_EQ(g.observations[1].monitor, 3u);
  EXPECT_EQ(g.observations[1].observation.value, 62);
  EXPECT_EQ(g.heard, (std::vector<std::size_t>{2, 3}));
}

TEST(Hl7Convert, AnUnknownSourceIsAnAeWithErr204AndNothingStored) {
  auto text = msg::oru();
  text.replace(text.find("BEDMON-7"), 8, "NOBODY-1");
  text.replace(text.find("INFUSION^CHAIR7"), 15, "WARD^BED9");
  auto c = run(text);
  EXPECT_FALSE(c.reject);
  EXPECT_TRUE(c.observations.empty());
  EXPECT_TRUE(c.heard.empty());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].code, vitalsd::hl7::err::unknown_key);
  EXPECT_NE(c.errors[0].text.find("NOBODY-1"), std::string::npos);

  // A gateway message where one device is known: that one is stored, the other is an AE.
  auto g = run(msg::gateway("G2", "DEV-A", 61, "DEV-Z", 62));
  ASSERT_EQ(g.observations.size(), 1u);
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].segment, "OBX");
  EXPECT_EQ(g.errors[0].sequence, 2u);
  EXPECT_EQ(g.errors[0].field, 18u);
}

TEST(Hl7Convert, ANonNumericValueIsAnErrorNamingTheObxAndTheRestIsStored) {
  auto text = msg::oru();
  text.replace(text.find("|72|"), 4, "|seventy-two|");
  auto c = run(text);
  EXPECT_EQ(c.observations.size(), 6u);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].segment, "OBX");
  EXPECT_EQ(c.errors[0].sequence, 4u);
  EXPECT_EQ(c.errors[0].field, 5u);
  EXPECT_EQ(c.errors[0].code, vitalsd::hl7::err::data_type);
  EXPECT_NE(c.errors[0].text.find("OBX 4 (hr)"), std::string::npos) << c.errors[0].text;
  EXPECT_NE(c.errors[0].text.find("seventy-two"), std::string::npos);
}

TEST(Hl7Convert, UnknownCodesAndContainmentRowsAreSkippedWithoutError) {
  auto c = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X1|P|2.5",
      "OBX|1|NM|999999^MDC_SOMETHING_ELSE^MDC|1.1.1.9|42|262688^MDC_DIM_PERCENT^MDC|||||R",
      "OBX|2|ST|0002-d007^Vendor text^99PHI|1.1.1.10|Lead off|||||R",
      "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1||264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
  }));
  EXPECT_TRUE(c.errors.empty());
  EXPECT_TRUE(c.observations.empty());
  EXPECT_EQ(c.heard, std::vector<std::size_t>{0});  // the device is alive all the same
  // The numeric value under an unknown code is not dropped silently: it is reported (and
  // journaled by the daemon as monitor.parameter_unmapped); containment and text rows are not.
  ASSERT_EQ(c.unmapped.size(), 1u);
  EXPECT_EQ(c.unmapped[0].monitor, 0u);
  EXPECT_EQ(c.unmapped[0].code, "999999");
  EXPECT_EQ(c.unmapped[0].name, "MDC_SOMETHING_ELSE");
}

// Issue 13: an MDC code for the same parameter at another site maps to it; an unknown one is
// reported once per message and code.
TEST(Hl7Convert, TemperatureAtAnotherSiteAndRespiratoryRateByMethodMap) {
  auto c = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X20|P|2.6",
      "OBX|1|NM|188496^MDC_TEMP_AXIL^MDC|1.4.1.1|36.6|268192^MDC_DIM_DEGC^MDC|||||R",
      "OBX|2|NM|151594^MDC_CO2_RESP_RATE^MDC|1.5.1.1|12|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R",
      "OBX|3|NM|151578^MDC_TTHOR_RESP_RATE^MDC|1.1.1.3|13|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R",
      "OBX|4|NM|188500^MDC_TEMP_UNKNOWN_SITE^MDC|1.4.1.2|36.9|268192^MDC_DIM_DEGC^MDC|||||R",
      "OBX|5|NM|188500^MDC_TEMP_UNKNOWN_SITE^MDC|1.4.1.3|37.0|268192^MDC_DIM_DEGC^MDC|||||R",
  }));
  EXPECT_TRUE(c.errors.empty());
  ASSERT_EQ(c.observations.size(), 3u);
  EXPECT_EQ(c.observations[0].observation.parameter, Parameter::temp);
  EXPECT_DOUBLE_EQ(c.observations[0].observation.value, 36.6);
  EXPECT_EQ(c.observations[1].observation.parameter, Parameter::rr);
  EXPECT_EQ(c.observations[2].observation.parameter, Parameter::rr);
  ASSERT_EQ(c.unmapped.size(), 1u);  // the second 188500 is the same code
  EXPECT_EQ(c.unmapped[0].code, "188500");
}

// Issue 13: values a monitor marks as demo (OBX-8 "DEMO", as Mindray sends in demo mode) or
// test data, and every value of a training/debugging message (MSH-11 T or D), are stored with
// a validity that says so; they are accepted (AA), never alarmed on.
TEST(Hl7Convert, DemoAndTestDataAreStoredAsSuch) {
  EXPECT_EQ(validity("R", "DEMO", '~'), Validity::demo);
  EXPECT_EQ(validity("R", "N~demo-data", '~'), Validity::demo);
  EXPECT_EQ(validity("X", "DEMO", '~'), Validity::demo);  // demo wins over everything
  EXPECT_EQ(validity("R", "test-data", '~'), Validity::test);
  EXPECT_EQ(validity("R", "test-data~DEMO", '~'), Validity::demo);
  EXPECT_EQ(validity("D", "DEMO", '~'), std::nullopt);  // a deleted result stays deleted

  auto demo = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X21|P|2.6",
      "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|61|264864^MDC_DIM_BEAT_PER_MIN^MDC||DEMO|||R",
      "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R",
  }));
  EXPECT_FALSE(demo.reject);
  EXPECT_TRUE(demo.errors.empty());
  ASSERT_EQ(demo.observations.size(), 2u);
  EXPECT_EQ(demo.observations[0].observation.validity, Validity::demo);
  EXPECT_EQ(demo.observations[1].observation.validity, Validity::valid);

  for (const char* pid : {"T", "D"}) {
    auto test = run(msg::join({
        std::string("MSH|^~\\&|BEDMON-7||||||ORU^R01|X22|") + pid + "|2.6",
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|62|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|96|262688^MDC_DIM_PERCENT^MDC||DEMO|||R",
    }));
    EXPECT_FALSE(test.reject) << pid;
    ASSERT_EQ(test.observations.size(), 2u) << pid;
    EXPECT_EQ(test.observations[0].observation.validity, Validity::test) << pid;
    EXPECT_EQ(test.observations[1].observation.validity, Validity::demo) << pid;
  }
}

TEST(Hl7Convert, VendorCodesFromConfigAndCuffCodesMap) {
  CodeMap codes(std::map<std::string, std::string>{{"0002-4182", "hr"}, {"NIBP-S", "nibp_sys"}});
  auto c = run(msg::join({
                   "MSH|^~\\&|BEDMON-7||||||ORU^R01|X2|P|2.4",
                   "OBX|1|NM|0002-4182^HR^99PHI|1|66|/min|||||F",
                   "OBX|2|NM|NIBP-S^Sys^L|2|141|mm[Hg]^mm[Hg]^UCUM|||||F",
                   "OBX|3|NM|150302^MDC_PRESS_CUFF_DIA^MDC|3|88|266016^MDC_DIM_MMHG^MDC|||||F",
                   "OBX|4|NM|150303^MDC_PRESS_CUFF_MEAN^MDC|4|105|mmHg|||||F",
                   "OBX|5|NM|149546^MDC_PULS_RATE_NON_INV^MDC|5|67|{beats}/min|||||F",
                   "OBX|6|NM|LOCAL^x^L^150301^MDC_PRESS_CUFF_SYS^MDC|6|140|mm[Hg]|||||F",
               }),
               codes);
  EXPECT_TRUE(c.errors.empty()) << c.errors.front().text;
  ASSERT_EQ(c.observations.size(), 6u);
  EXPECT_EQ(c.observations[0].observation.parameter, Parameter::hr);
  EXPECT_EQ(c.observations[1].observation.parameter, Parameter::nibp_sys);
  EXPECT_EQ(c.observations[2].observation.parameter, Parameter::nibp_dia);
  EXPECT_EQ(c.observations[3].observation.parameter, Parameter::nibp_mean);
  EXPECT_EQ(c.observations[4].observation.parameter, Parameter::pr);
  EXPECT_EQ(c.observations[5].observation.parameter, Parameter::nibp_sys);  // OBX-3.4
  EXPECT_THROW(CodeMap(std::map<std::string, std::string>{{"X", "blood-sugar"}}),
               std::invalid_argument);
}

TEST(Hl7Convert, UnitsAreCheckedAndConverted) {
  auto c = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X3|P|2.6",
      "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1|16|kPa^kPa^UCUM|||||R|||20261127142800",
      "OBX|2|NM|150344^MDC_TEMP^MDC|2|98.6|[degF]^[degF]^UCUM|||||R",
      "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|3|70|cm^cm^UCUM|||||R",
      "OBX|4|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|4|96||||||R",
      "OBX|5|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|5|96|266016^MDC_DIM_MMHG^MDC|||||R",
  }));
  ASSERT_EQ(c.observations.size(), 3u);
  EXPECT_NEAR(c.observations[0].observation.value, 120.01, 0.01);
  EXPECT_EQ(c.observations[0].observation.unit, "mm[Hg]");
  EXPECT_NEAR(c.observations[1].observation.value, 37.0, 0.001);
  EXPECT_EQ(c.observations[1].observation.unit, "Cel");
  EXPECT_EQ(c.observations[2].observation.value, 96);  // no unit: the parameter's own
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[0].sequence, 3u);
  EXPECT_EQ(c.errors[0].field, 6u);
  EXPECT_EQ(c.errors[1].sequence, 5u);
}

TEST(Hl7Convert, DeviceTimeIsObx14ElseObr7) {
  auto c = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X4|P|2.6",
      "OBR|1||||||20261127142000+0100",
      "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1|70|/min|||||R|||20261127143000+0000",
      "OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|2|70|/min|||||R",
      "OBR|2",
      "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|3|96|%|||||R",
  }));
  ASSERT_EQ(c.observations.size(), 3u);
  EXPECT_EQ(c.observations[0].observation.device_time,
            vitalsd::hl7::parse_dtm("20261127143000+0000"));
  EXPECT_EQ(c.observations[1].observation.device_time,
            vitalsd::hl7::parse_dtm("20261127132000+0000"));
  EXPECT_FALSE(c.observations[2].observation.device_time);  // the second OBR has no time
}

TEST(Hl7Convert, ResultStatusAndMeasurementStatusGiveValidity) {
  EXPECT_EQ(validity("F", "", '~'), Validity::valid);
  EXPECT_EQ(validity("R", "", '~'), Validity::valid);
  EXPECT_EQ(validity("C", "", '~'), Validity::valid);
  EXPECT_EQ(validity("", "", '~'), Validity::valid);
  EXPECT_EQ(validity("P", "", '~'), Validity::questionable);
  EXPECT_EQ(validity("S", "", '~'), Validity::questionable);
  EXPECT_EQ(validity("X", "", '~'), Validity::invalid);
  EXPECT_EQ(validity("W", "", '~'), Validity::invalid);
  EXPECT_EQ(validity("D", "", '~'), std::nullopt);
  EXPECT_EQ(validity("I", "", '~'), std::nullopt);
  EXPECT_EQ(validity("R", "N~questionable", '~'), Validity::questionable);
  EXPECT_EQ(validity("R", "H~invalid", '~'), Validity::invalid);
  EXPECT_EQ(validity("R", "calibration-ongoing", '~'), Validity::questionable);
  EXPECT_EQ(validity("R", "H", '~'), Validity::valid);

  auto c = run(msg::join({
      "MSH|^~\\&|BEDMON-7||||||ORU^R01|X5|P|2.6",
      "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1|70|/min|||||X",
      "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|2|96|%||questionable|||R",
      "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|3|70|/min|||||D",
  }));
  ASSERT_EQ(c.observations.size(), 2u);
  EXPECT_EQ(c.observations[0].observation.validity, Validity::invalid);
  EXPECT_EQ(c.observations[1].observation.validity, Validity::questionable);
}

TEST(Hl7Convert, OnlyProductionOruR01IsAccepted) {
  auto adt = run("MSH|^~\\&|BEDMON-7||||||ADT^A01|X6|P|2.6\rPID|1\r");
  EXPECT_TRUE(adt.reject);
  ASSERT_EQ(adt.errors.size(), 1u);
  EXPECT_EQ(adt.errors[0].code, vitalsd::hl7::err::unsupported_message_type);
  auto training = run("MSH|^~\\&|BEDMON-7||||||ORU^R01|X7|T|2.6\r");
  EXPECT_FALSE(training.reject);  // stored as test data (DemoAndTestDataAreStoredAsSuch)
  auto other = run("MSH|^~\\&|BEDMON-7||||||ORU^R01|X7|Q|2.6\r");
  EXPECT_TRUE(other.reject);
  EXPECT_EQ(other.errors[0].code, vitalsd::hl7::err::unsupported_processing_id);
}

TEST(Hl7Convert, NumbersAreHl7Nm) {
  EXPECT_EQ(parse_number("72"), 72);
  EXPECT_EQ(parse_number(" 72.5 "), 72.5);
  EXPECT_EQ(parse_number("+1"), 1);
  EXPECT_EQ(parse_number("-0.5"), -0.5);
  EXPECT_EQ(parse_number(".5"), 0.5);
  for (const char* bad : {"", " ", "-", ".", "1e3", "inf", "nan", "0x10", "1,5", "1.2.3", "72 bpm",
                          "1 2", "++1", "\\F\\"})
    EXPECT_FALSE(parse_number(bad)) << bad;
}

}  // namespace
}  // namespace vitalsd::drivers::hl7
