// The Masimo ASCII line parser with lines as the devices print them (docs/masimo.md: a Rad-8's
// output with date and serial number, MD PnP's Radical-7 and Radical-5 examples, Masimo's
// trend format).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "drivers/masimo/line.hpp"

namespace vitalsd::drivers::masimo {
namespace {

using core::Parameter;
using core::Validity;

const core::Timestamp kAt{std::chrono::milliseconds{1'700'000'000'000}};

Decoded parse(std::string_view text, LineError expect = LineError::none) {
  Line line;
  EXPECT_EQ(parse_line(text, line), expect) << text;
  return decode(line, "chair-1", kAt);
}

const core::Observation* find(const Decoded& d, Parameter p) {
  for (const auto& o : d.observations)
    if (o.parameter == p) return &o;
  return nullptr;
}

TEST(MasimoLine, Rad8WithDateAndSerialNumber) {
  const auto d = parse(
      "02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% "
      "DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800");
  ASSERT_EQ(d.observations.size(), 2u);
  const auto* spo2 = find(d, Parameter::spo2);
  ASSERT_NE(spo2, nullptr);
  EXPECT_EQ(spo2->value, 98);
  EXPECT_EQ(spo2->unit, "%");
  EXPECT_EQ(spo2->validity, Validity::valid);  // 0x800: Masimo SET, informational
  EXPECT_EQ(spo2->monitor, "chair-1");
  EXPECT_EQ(spo2->received_at, kAt);
  EXPECT_FALSE(spo2->device_time);
  const auto* pr = find(d, Parameter::pr);
  ASSERT_NE(pr, nullptr);
  EXPECT_EQ(pr->value, 97);
  EXPECT_EQ(pr->unit, "/min");
  EXPECT_EQ(find(d, Parameter::hr), nullptr);  // a pulse rate from the pleth is not an ECG HR
  // PI has a value and no parameter: reported as unmapped; SPCO/SPMET/DESAT are dashes.
  ASSERT_EQ(d.unmapped.size(), 1u);
  EXPECT_EQ(d.unmapped[0].code, "PI");
  EXPECT_EQ(d.unmapped[0].name, "perfusion index");
}

TEST(MasimoLine, Radical7ExampleWithAllFields) {
  const auto d = parse(
      "12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% SPCO=01.0% SPMET=00.5% "
      "DESAT=01 PIDELTA=-02 PVI=027 ALARM=0000 EXC=000820");
  ASSERT_EQ(d.observations.size(), 2u);
  EXPECT_EQ(find(d, Parameter::pr)->value, 240);
  // 0x20: sensor off patient. The numbers are kept for the record, marked invalid.
  EXPECT_EQ(find(d, Parameter::spo2)->validity, Validity::invalid);
  EXPECT_EQ(find(d, Parameter::pr)->validity, Validity::invalid);
  std::vector<std::string> codes;
  for (const auto& u : d.unmapped) codes.push_back(u.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"PI", "SPCO", "SPMET", "DESAT", "PIDELTA", "PVI"}));
}

TEST(MasimoLine, Radical5ShortExceptionField) {
  const auto d = parse("09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800");
  ASSERT_EQ(d.observations.size(), 2u);
  EXPECT_EQ(find(d, Parameter::spo2)->value, 97);
  EXPECT_EQ(find(d, Parameter::spo2)->validity, Validity::valid);
}

TEST(MasimoLine, FieldsInAnyOrderAndMissing) {
  auto d = parse("EXC=000000 BPM=061 SPO2=099%");
  ASSERT_EQ(d.observations.size(), 2u);
  EXPECT_EQ(d.observations[0].parameter, Parameter::pr);
  EXPECT_EQ(d.observations[1].parameter, Parameter::spo2);
  d = parse("SPO2=095%");  // no EXC: nothing says the value is doubtful
  ASSERT_EQ(d.observations.size(), 1u);
  EXPECT_EQ(d.observations[0].validity, Validity::valid);
  d = parse("ALARM=0000 EXC=000001");  // a known field, no measurement
  EXPECT_TRUE(d.observations.empty());
}

TEST(MasimoLine, LowerCaseKeysOfTheTrendFormat) {
  const auto d = parse("09/21/08 09:56:14 SpO2=096 PI=02.28 EXC=C00:LowSigIQ,SET");
  ASSERT_EQ(d.observations.size(), 1u);
  EXPECT_EQ(d.observations[0].value, 96);
  // 0x400 low signal IQ: questionable.
  EXPECT_EQ(d.observations[0].validity, Validity::questionable);
}

TEST(MasimoLine, DashesAreNoValue) {
  const auto d = parse("SPO2=---% BPM=--- PI=--.--% EXC=000008");
  ASSERT_EQ(d.observations.size(), 2u);
  for (const auto& o : d.observations) {
    EXPECT_EQ(o.validity, Validity::invalid);
    EXPECT_TRUE(std::isnan(o.value));
  }
  EXPECT_TRUE(d.unmapped.empty());  // a field without a value is not reported
}

TEST(MasimoLine, OutOfRangeAndUnreadableNumbersAreNoValue) {
  for (const char* text : {"SPO2=000% BPM=000", "SPO2=101% BPM=241", "SPO2=9x8% BPM=0-7",
                           "SPO2=% BPM=", "SPO2=1e2% BPM=nan", "SPO2=.% BPM=+"}) {
    const auto d = parse(text);
    ASSERT_EQ(d.observations.size(), 2u) << text;
    for (const auto& o : d.observations) {
      EXPECT_EQ(o.validity, Validity::invalid) << text;
      EXPECT_TRUE(std::isnan(o.value)) << text;
    }
  }
  const auto d = parse("SPO2=100% BPM=025");
  EXPECT_EQ(find(d, Parameter::spo2)->validity, Validity::valid);
  EXPECT_EQ(find(d, Parameter::pr)->value, 25);
}

TEST(MasimoLine, ExceptionBitsAsValidity) {
  struct Case {
    const char* exc;
    Validity expect;
  };
  for (const auto& c : {Case{"000000", Validity::valid}, Case{"000800", Validity::valid},
                        Case{"000001", Validity::invalid},       // no sensor
                        Case{"000002", Validity::invalid},       // defective sensor
                        Case{"000004", Validity::questionable},  // low perfusion
                        Case{"000008", Validity::invalid},       // pulse search
                        Case{"000010", Validity::questionable},  // interference
                        Case{"000020", Validity::invalid},       // sensor off
                        Case{"000040", Validity::questionable},  // ambient light
                        Case{"000080", Validity::invalid},       // unrecognized sensor
                        Case{"000400", Validity::questionable},  // low signal IQ
                        Case{"000444", Validity::questionable},
                        Case{"000424", Validity::invalid},      // the worst bit wins
                        Case{"001000", Validity::invalid},      // no cable
                        Case{"200000", Validity::valid},        // SpCO low confidence: not SpO2's
                        Case{"000200", Validity::valid},        // reserved
                        Case{"zz", Validity::questionable}}) {  // unreadable: doubt
    const auto d = parse(std::string("SPO2=097% BPM=070 EXC=") + c.exc);
    ASSERT_EQ(d.observations.size(), 2u);
    EXPECT_EQ(d.observations[0].validity, c.expect) << c.exc;
    EXPECT_EQ(d.observations[0].value, 97) << c.exc;
  }
  EXPECT_EQ(exception_names(0x828), "pulse search, sensor off patient, Masimo SET");
}

TEST(MasimoLine, GarbageAndRunTogetherLinesAreErrors) {
  parse("", LineError::no_known_field);
  parse("\x01\xff\x7e garbage 12345", LineError::no_known_field);
  parse("12/08/26 01:23:32 SN=0000012345", LineError::no_known_field);
  parse("SPO2", LineError::no_known_field);
  // A lost line end: the second line's fields repeat the first's.
  parse("SPO2=098% BPM=0 SPO2=097% BPM=076 EXC=000800", LineError::duplicate_field);
  parse("EXC=000800 EXC=000020", LineError::duplicate_field);
}

TEST(MasimoLine, SplitterCutsLinesAndDropsOversizedOnes) {
  LineSplitter s(16);
  std::vector<std::string> lines;
  auto feed = [&](std::string_view bytes) {
    s.feed(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                         bytes.size()),
           [&](std::string_view l) { lines.emplace_back(l); });
  };
  feed("SPO2=09");
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(s.pending(), 7u);
  feed("8%\r\n\r\n\nBPM=1");
  feed("00\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"SPO2=098%", "BPM=100"}));
  feed("0123456789abcdefXYZ still the same line\r\nSPO2=090%\n");
  EXPECT_EQ(s.oversized(), 1u);
  EXPECT_EQ(lines.back(), "SPO2=090%");
  EXPECT_EQ(lines.size(), 3u);
  feed("0123456789abcdef");  // exactly the cap: kept
  feed("\n");
  EXPECT_EQ(lines.back(), "0123456789abcdef");
  EXPECT_EQ(s.oversized(), 1u);
}

TEST(MasimoLine, ProfileMapsOnlyWhatVitalsdTracks) {
  int mapped = 0;
  for (const auto& f : fields()) {
    if (f.parameter) ++mapped;
    EXPECT_LT(f.min, f.max) << f.key;
  }
  EXPECT_EQ(mapped, 2);
  EXPECT_EQ(find_field("spo2")->parameter, Parameter::spo2);
  EXPECT_EQ(find_field("BPM")->parameter, Parameter::pr);
  EXPECT_EQ(find_field("SN"), nullptr);
}

}  // namespace
}  // namespace vitalsd::drivers::masimo
