// The IntelliVue Data Export codec against the programming guide's own examples (FLOAT-Type
// values, the association request, the MDS Create result, an extended poll request), against
// datagrams assembled here field by field, and against truncation at every byte.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "drivers/intellivue/codec.hpp"
#include "drivers/intellivue/intellivue.hpp"

namespace iv = vitalsd::drivers::intellivue;
using vitalsd::core::Parameter;
using vitalsd::core::Validity;

namespace {

iv::Bytes hex(std::string_view s) {
  iv::Bytes b;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      b.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return b;
}

// A test's own big-endian assembly: a block whose 16-bit length is filled in when it closes.
struct Asm {
  iv::Bytes b;
  std::vector<std::size_t> open;
  Asm& h(std::string_view s) {
    auto x = hex(s);
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  Asm& len() {  // a length placeholder; what follows until close() is counted
    open.push_back(b.size());
    b.push_back(0);
    b.push_back(0);
    return *this;
  }
  Asm& close() {
    const auto at = open.back();
    open.pop_back();
    const auto n = b.size() - at - 2;
    b[at] = static_cast<std::uint8_t>(n >> 8);
    b[at + 1] = static_cast<std::uint8_t>(n);
    return *this;
  }
};

iv::Float f(std::uint32_t raw) {
  return iv::decode_float(raw);
}

// An extended poll result of numerics: HR 72, a compound NIBP 120/80/93 with its measurement
// time, EtCO2 5.3 kPa, SpO2 questionable, a perfusion index vitalsd does not track.
Asm poll_result(std::uint8_t ro_type = 2, std::string_view linked = "") {
  Asm a;
  a.h("E1 00 00 02").h(ro_type == 5 ? "00 05" : "00 02").len();
  a.h(linked);
  a.h("00 05 00 07").len();  // invoke id 5, CMD_CONFIRMED_ACTION
  a.h("00 21 00 00 00 00 F1 3B").len();
  a.h("00 03 00 00 00 10 00 00");  // poll number 3, sequence 0, relative time 0x00100000
  a.h("20 26 12 08 01 02 03 45");  // 2026-12-08 01:02:03.45
  a.h("00 01 00 06 00 00");        // numerics, all attributes
  a.h("00 01").len();              // one context
  a.h("00 01 00 05").len();        // context 1, five objects
  // HR, from the ECG.
  a.h("01 00 00 01").len().h("09 50 00 0A 41 82 00 00 0A A0 00 00 00 48").close();
  // NIBP: compound value and its relative time stamp (0x000F0000: 8192 ms before the poll).
  a.h("02 00 00 02").len();
  a.h("09 4B 00 22 00 03 00 1E");
  a.h("4A 05 00 00 0F 20 00 00 00 78");
  a.h("4A 06 00 00 0F 20 00 00 00 50");
  a.h("4A 07 00 00 0F 20 00 00 00 5D");
  a.h("09 91 00 04 00 0F 00 00");
  a.close();
  // EtCO2 in kPa: 53 * 10^-1.
  a.h("03 00 00 01").len().h("09 50 00 0A 50 B0 00 00 0F 03 FF 00 00 35").close();
  // SpO2 97, questionable.
  a.h("04 00 00 01").len().h("09 50 00 0A 4B B8 40 00 02 20 00 00 00 61").close();
  // NOM_PULS_OXIM_PERF_REL 2.5: not a parameter of vitalsd's.
  a.h("05 00 00 01").len().h("09 50 00 0A 4B B0 00 00 02 00 FF 00 00 19").close();
  a.close().close().close().close().close();
  return a;
}

}  // namespace

TEST(IntellivueFloat, TheProgrammingGuidesExamples) {
  EXPECT_DOUBLE_EQ(f(0xFD007D00).value, 32);
  EXPECT_DOUBLE_EQ(f(0xFF000140).value, 32);
  EXPECT_DOUBLE_EQ(f(0x01000140).value, 3200);
  EXPECT_DOUBLE_EQ(f(0x02000020).value, 3200);
  EXPECT_DOUBLE_EQ(f(0x00FFFFFF).value, -1);
  EXPECT_EQ(f(0x00FFFFFF).kind, iv::FloatKind::value);
}

TEST(IntellivueFloat, SpecialValuesAreToldByTheMantissaWhateverTheExponent) {
  for (std::uint32_t exp : {0x00u, 0x02u, 0xFEu, 0x7Fu}) {
    EXPECT_EQ(f(exp << 24 | 0x7FFFFF).kind, iv::FloatKind::nan) << exp;
    EXPECT_EQ(f(exp << 24 | 0x800000).kind, iv::FloatKind::nres) << exp;
    EXPECT_EQ(f(exp << 24 | 0x7FFFFE).kind, iv::FloatKind::pos_inf) << exp;
    EXPECT_EQ(f(exp << 24 | 0x800002).kind, iv::FloatKind::neg_inf) << exp;
  }
  // Next to them, ordinary values.
  EXPECT_DOUBLE_EQ(f(0x007FFFFD).value, 8388605);
  EXPECT_DOUBLE_EQ(f(0x00800003).value, -8388605);
  EXPECT_DOUBLE_EQ(f(0xFE00007B).value, 1.23);
}

TEST(IntellivueCodec, TheAssociationRequestIsTheGuidesExample) {
  const auto want = hex(
      "0D EC 05 08 13 01 00 16 01 02 80 00 14 02 00 02 C1 DC 31 80 A0 80 80 01 01 00 00 A2 80 A0"
      "03 00 00 01 A4 80 30 80 02 01 01 06 04 52 01 00 01 30 80 06 02 51 01 00 00 00 00 30 80 02"
      "01 02 06 0C 2A 86 48 CE 14 02 01 00 00 00 01 01 30 80 06 0C 2A 86 48 CE 14 02 01 00 00 00"
      "02 01 00 00 00 00 00 00 61 80 30 80 02 01 01 A0 80 60 80 A1 80 06 0C 2A 86 48 CE 14 02 01"
      "00 00 00 03 01 00 00 BE 80 28 80 06 0C 2A 86 48 CE 14 02 01 00 00 00 01 01 02 01 02 81 48"
      "80 00 00 00 40 00 00 00 00 00 00 00 80 00 00 00 20 00 00 00 00 00 00 00 00 01 00 2C 00 01"
      "00 28 80 00 00 00 00 00 09 C4 00 00 09 C4 00 00 03 E8 FF FF FF FF 60 00 00 00 00 01 00 0C"
      "F0 01 00 08 8C 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
  EXPECT_EQ(iv::association_request(), want);
}

TEST(IntellivueCodec, TheMdsCreateResultEchoesTheEvent) {
  EXPECT_EQ(iv::mds_create_result(1, {0x0021, 0, 0}, 0x000ABD00),
            hex("E1 00 00 02 00 02 00 14 00 01 00 01 00 0E 00 21 00 00 00 00 00 0A BD 00 0D 06 00 "
                "00"));
  const auto r = iv::mds_create_result(0x1234, {0x0021, 7, 9}, 0);
  EXPECT_EQ(r[8], 0x12);
  EXPECT_EQ(r[9], 0x34);
  EXPECT_EQ(r[16], 0x00);
  EXPECT_EQ(r[17], 0x07);
  EXPECT_EQ(r[19], 0x09);
}

TEST(IntellivueCodec, TheExtendedPollOfNumerics) {
  EXPECT_EQ(iv::extended_poll(1, 1, iv::nom::kMocVmoMetricNu),
            hex("E1 00 00 02 00 01 00 20 00 01 00 07 00 1A 00 21 00 00 00 00 00 00 00 00 F1 3B 00 "
                "0C 00 01 00 01 00 06 00 00 00 00 00 00"));
}

TEST(IntellivueCodec, AssociationAnswers) {
  for (auto [byte, pdu] : {std::pair{0x0E, iv::SessionPdu::accept},
                           {0x0C, iv::SessionPdu::refuse},
                           {0x0A, iv::SessionPdu::disconnect},
                           {0x19, iv::SessionPdu::abort}}) {
    auto m = iv::parse(iv::Bytes{static_cast<std::uint8_t>(byte), 0x00});
    ASSERT_TRUE(std::holds_alternative<iv::Message>(m));
    EXPECT_EQ(std::get<iv::AssociationAnswer>(std::get<iv::Message>(m)).pdu, pdu);
  }
  auto bad = iv::parse(iv::Bytes{0x42, 0x00});
  ASSERT_TRUE(std::holds_alternative<iv::ParseError>(bad));
  EXPECT_NE(std::get<iv::ParseError>(bad).what.find("0x42"), std::string::npos);
}

TEST(IntellivueCodec, TheMdsCreateEvent) {
  Asm a;
  a.h("E1 00 00 02 00 01").len();
  a.h("80 01 00 01").len();                          // invoke id 0x8001, CMD_CONFIRMED_EVENT_REPORT
  a.h("00 21 00 00 00 00 00 12 34 56 0D 06").len();  // MDS, event time, NOM_NOTI_MDS_CREAT
  a.h("00 21 00 00 00 00 00 03").len();              // MdsCreateInfo: object, three attributes
  a.h("09 21 00 02 00 00");
  a.h("09 87 00 08 20 26 12 08 09 30 00 00");  // NOM_ATTR_TIME_ABS
  a.h("09 8F 00 04 00 12 34 00");              // NOM_ATTR_TIME_REL
  a.close().close().close().close();
  auto m = iv::parse(a.b);
  ASSERT_TRUE(std::holds_alternative<iv::Message>(m)) << std::get<iv::ParseError>(m).what;
  const auto& e = std::get<iv::MdsCreateEvent>(std::get<iv::Message>(m));
  EXPECT_EQ(e.invoke_id, 0x8001);
  EXPECT_EQ(e.object.object_class, 0x21);
  EXPECT_EQ(e.event_time, 0x00123456u);
  ASSERT_TRUE(e.time_abs);
  EXPECT_EQ(e.time_abs->year, 2026);
  EXPECT_EQ(e.time_abs->hour, 9);
  EXPECT_EQ(e.time_abs->minute, 30);
  EXPECT_EQ(e.time_rel, 0x00123400u);
}

TEST(IntellivueCodec, APollResultsNumerics) {
  auto m = iv::parse(poll_result().b);
  ASSERT_TRUE(std::holds_alternative<iv::Message>(m)) << std::get<iv::ParseError>(m).what;
  const auto& p = std::get<iv::PollReply>(std::get<iv::Message>(m));
  EXPECT_EQ(p.invoke_id, 5);
  EXPECT_TRUE(p.extended);
  EXPECT_FALSE(p.linked);
  EXPECT_EQ(p.poll_number, 3);
  EXPECT_EQ(p.rel_time, 0x00100000u);
  ASSERT_TRUE(p.abs_time);
  EXPECT_EQ(p.abs_time->centis, 45);
  ASSERT_EQ(p.numerics.size(), 7u);
  EXPECT_EQ(p.numerics[0].physio_id, 0x4182);
  EXPECT_FALSE(p.numerics[0].compound);
  EXPECT_TRUE(p.numerics[1].compound);
  EXPECT_EQ(p.numerics[1].stamp_rel, 0x000F0000u);
  EXPECT_EQ(p.numerics[3].physio_id, 0x4A07);
}

TEST(IntellivueCodec, ALinkedResultPart) {
  auto m = iv::parse(poll_result(5, "02 04").b);
  ASSERT_TRUE(std::holds_alternative<iv::Message>(m)) << std::get<iv::ParseError>(m).what;
  const auto& p = std::get<iv::PollReply>(std::get<iv::Message>(m));
  ASSERT_TRUE(p.linked);
  EXPECT_EQ(*p.linked, iv::LinkedState::middle);
  EXPECT_EQ(p.linked_count, 4);
  EXPECT_EQ(p.numerics.size(), 7u);
}

TEST(IntellivueCodec, EveryTruncationIsAnErrorNamingWhere) {
  const auto full = poll_result().b;
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto m = iv::parse(std::span<const std::uint8_t>(full.data(), n));
    ASSERT_TRUE(std::holds_alternative<iv::ParseError>(m)) << "a prefix of " << n << " bytes";
    EXPECT_FALSE(std::get<iv::ParseError>(m).what.empty());
  }
  // An inner length that claims more than its block holds.
  auto bad = full;
  bad[bad.size() - 20] = 0x7F;  // inside the last object's attribute list
  auto m = iv::parse(bad);
  if (auto* e = std::get_if<iv::ParseError>(&m)) {
    EXPECT_NE(e->what.find("byte"), std::string::npos);
  }
}

TEST(IntellivueCodec, AbsoluteTimeTheMonitorDoesNotKeepIsNone) {
  const std::uint8_t ff[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_FALSE(iv::decode_absolute_time(std::span<const std::uint8_t, 8>(ff, 8)));
  const std::uint8_t bad[8] = {0x20, 0x26, 0x13, 0x08, 0x01, 0x02, 0x03, 0x00};  // month 13
  EXPECT_FALSE(iv::decode_absolute_time(std::span<const std::uint8_t, 8>(bad, 8)));
}

TEST(IntellivueObservations, ParametersUnitsValidityAndTheCuffsTime) {
  auto m = iv::parse(poll_result().b);
  const auto& p = std::get<iv::PollReply>(std::get<iv::Message>(m));
  iv::TimeAnchor anchor(false);  // the monitor's clock in UTC
  const auto now = vitalsd::core::Timestamp{std::chrono::seconds{1'800'000'000}};
  anchor.set(p.rel_time, p.abs_time, now);
  ASSERT_TRUE(anchor.from_monitor());
  const auto d = iv::to_observations(p.numerics, p.rel_time, anchor, "chair-5", now);
  EXPECT_TRUE(d.problems.empty());
  ASSERT_EQ(d.observations.size(), 6u);
  const auto at = *vitalsd::core::parse_iso8601("2026-12-08T01:02:03.450Z");
  const auto& hr = d.observations[0];
  EXPECT_EQ(hr.parameter, Parameter::hr);
  EXPECT_EQ(hr.value, 72);
  EXPECT_EQ(hr.unit, "/min");
  EXPECT_EQ(hr.validity, Validity::valid);
  EXPECT_EQ(hr.device_time, at);
  // The cuff: its own time (0x10000 ticks = 8192 ms before the poll) and identity.
  const auto& sys = d.observations[1];
  EXPECT_EQ(sys.parameter, Parameter::nibp_sys);
  EXPECT_EQ(sys.value, 120);
  EXPECT_EQ(sys.device_time, at - std::chrono::milliseconds{8192});
  EXPECT_EQ(sys.measurement_id, 0x000F0000u);
  EXPECT_EQ(d.observations[2].value, 80);
  EXPECT_EQ(d.observations[3].parameter, Parameter::nibp_mean);
  // EtCO2 as the monitor stated it, in kPa: stored in mm[Hg].
  EXPECT_EQ(d.observations[4].parameter, Parameter::etco2);
  EXPECT_NEAR(d.observations[4].value, 5.3 * 7.500615758, 1e-9);
  EXPECT_EQ(d.observations[4].unit, "mm[Hg]");
  EXPECT_EQ(d.observations[5].validity, Validity::questionable);
  ASSERT_EQ(d.unmapped.size(), 1u);
  EXPECT_EQ(d.unmapped[0].code, "150448");  // 0x24BB0
}

TEST(IntellivueObservations, MeasurementStatesAndSpecialValuesAreNeverValid) {
  iv::TimeAnchor anchor(false);
  const auto now = vitalsd::core::Timestamp{std::chrono::seconds{1'800'000'000}};
  anchor.set(0, std::nullopt, now);
  EXPECT_FALSE(anchor.from_monitor());
  auto hr = [&](std::uint16_t state, std::uint32_t raw) {
    iv::Numeric n;
    n.physio_id = 0x4182;
    n.unit = 0x0AA0;
    n.state = state;
    n.raw = raw;
    auto d = iv::to_observations({n}, 8000, anchor, "m", now);
    EXPECT_EQ(d.observations.size(), 1u);
    return d.observations.at(0);
  };
  EXPECT_EQ(hr(0, 0x00000048).validity, Validity::valid);
  EXPECT_EQ(hr(0, 0x00000048).device_time, now + std::chrono::seconds{1});  // host-anchored
  EXPECT_EQ(hr(0x8000, 0x00000048).validity, Validity::invalid);
  EXPECT_EQ(hr(0x2000, 0x00000048).validity, Validity::invalid);
  EXPECT_EQ(hr(0x4000, 0x00000048).validity, Validity::questionable);
  EXPECT_EQ(hr(0x1000, 0x00000048).validity, Validity::questionable);
  EXPECT_EQ(hr(0x0400, 0x00000048).validity, Validity::demo);
  EXPECT_EQ(hr(0x0800, 0x00000048).validity, Validity::test);
  for (std::uint32_t special : {0x007FFFFFu, 0x00800000u, 0x007FFFFEu, 0x00800002u}) {
    const auto o = hr(0, special);
    EXPECT_EQ(o.validity, Validity::invalid);
    EXPECT_TRUE(std::isnan(o.value));
  }
  // HR and the pleth's pulse rate stay apart.
  iv::Numeric pr;
  pr.physio_id = 0x4822;
  pr.unit = 0x0AA0;
  pr.raw = 0x00000049;
  EXPECT_EQ(iv::to_observations({pr}, 0, anchor, "m", now).observations.at(0).parameter,
            Parameter::pr);
  // A unit that is not one of the parameter's: named, not stored.
  iv::Numeric spo2;
  spo2.physio_id = 0x4BB8;
  spo2.unit = 0x0F20;  // mmHg
  spo2.raw = 0x00000061;
  const auto d = iv::to_observations({spo2}, 0, anchor, "m", now);
  EXPECT_TRUE(d.observations.empty());
  ASSERT_EQ(d.problems.size(), 1u);
  EXPECT_NE(d.problems[0].find("spo2"), std::string::npos);
}

TEST(IntellivueObservations, LocalAbsoluteTimeUsesTheHostsZone) {
  setenv("TZ", "America/New_York", 1);
  tzset();
  iv::TimeAnchor anchor(true);
  iv::AbsoluteTime t{2026, 12, 8, 1, 2, 3, 0};
  const auto got = anchor.absolute(t);
  setenv("TZ", "UTC", 1);
  tzset();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, *vitalsd::core::parse_iso8601("2026-12-08T06:02:03.000Z"));
}
