#include "hl7/message.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "hl7/msh.hpp"
#include "unit/hl7/samples.hpp"

namespace vitalsd::hl7 {
namespace {

Message parsed(std::string_view text, const ParseLimits& lim = {}) {
  auto r = parse(text, lim);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Message{};
}

TEST(Hl7Message, Pcd01ContainmentAndValues) {
  const Message m = parsed(samples::kPcd01);
  EXPECT_EQ(m.segment_count(), 15u);
  EXPECT_EQ(m.count("OBX"), 10u);
  EXPECT_EQ(m.get("OBX", 6, 4), "1.2.1.150021");
  EXPECT_EQ(m.get("OBX", 6, 3, 1, 1), "150021");
  EXPECT_EQ(m.get("OBX", 6, 3, 1, 2), "MDC_PRESS_BLD_NONINV_SYS");
  EXPECT_EQ(m.get("OBX", 6, 3, 1, 3), "MDC");
  EXPECT_EQ(m.get("OBX", 6, 5), "121");
  EXPECT_EQ(m.get("OBX", 6, 6, 1, 2), "MDC_DIM_MMHG");
  EXPECT_EQ(m.get("OBX", 6, 11), "R");
  EXPECT_EQ(m.get("OBX", 6, 14), "20261127143000.250+0000");
  EXPECT_EQ(m.get("OBX", 0, 18, 1, 4), "EUI-64");
  EXPECT_EQ(m.get("OBX", 0, 18, 1, 1), "0012EF0000000001");
  EXPECT_EQ(m.get("PV1", 0, 3, 1, 2), "chair-3");
  EXPECT_EQ(m.get("MSH", 0, 3, 1, 1), "MONITOR_GW");
  EXPECT_EQ(m.get("MSH", 0, 21, 1, 3), "1.3.6.1.4.1.19376.1.6.1.1.1");
  EXPECT_EQ(m.value("NTE", 0, 3), "Cuff & probe | ok\\.br\\second line");
  EXPECT_EQ(m.get("OBX", 10, 5), "");  // there is no 11th OBX
  EXPECT_EQ(m.get("ZZZ", 0, 1), "");
  const auto obx = m.find("OBX", 9);
  ASSERT_TRUE(obx);
  EXPECT_EQ(obx->index(), 13u);
  EXPECT_EQ(obx->field_count(), 11u);
  EXPECT_EQ(obx->get(5), "71");
  EXPECT_EQ(obx->field(0), "OBX");
  EXPECT_EQ(obx->get(12), "");
  EXPECT_EQ(obx->get(5, 2), "");
  EXPECT_EQ(obx->get(5, 1, 2), "");
  EXPECT_EQ(obx->get(5, 0), "");
}

TEST(Hl7Message, MshNumberingFollowsTheStandard) {
  const Message m = parsed(samples::kPcd01);
  const Segment msh = m.msh();
  EXPECT_EQ(msh.name(), "MSH");
  EXPECT_EQ(msh.get(1), "|");
  EXPECT_EQ(msh.get(2), "^~\\&");
  EXPECT_EQ(msh.value(2), "^~\\&");  // not unescaped
  EXPECT_EQ(msh.get(2, 1, 2), "");   // not split
  EXPECT_EQ(msh.repetition_count(2), 1u);
  EXPECT_EQ(msh.component_count(2), 1u);
  EXPECT_EQ(msh.get(7), "20261127143031+0000");
  EXPECT_EQ(msh.get(9, 1, 2), "R01");
  EXPECT_EQ(msh.get(10), "MSG00042");
  EXPECT_EQ(msh.get(12), "2.6");
  EXPECT_EQ(msh.field_count(), 21u);
  const MessageType t = message_type(m);
  EXPECT_EQ(t.code, "ORU");
  EXPECT_EQ(t.trigger, "R01");
  EXPECT_EQ(t.structure, "ORU_R01");
  EXPECT_EQ(control_id(m), "MSG00042");
  EXPECT_EQ(processing_id(m), "P");
  EXPECT_EQ(version(m), "2.6");
}

TEST(Hl7Message, RepetitionsComponentsSubcomponents) {
  const Message m = parsed(samples::kV231);
  const Segment pid = *m.find("PID");
  EXPECT_EQ(pid.repetition_count(3), 2u);
  EXPECT_EQ(pid.get(3, 2, 1), "456");
  EXPECT_EQ(pid.get(3, 2, 4), "NHS");
  EXPECT_EQ(pid.component_count(3, 2), 4u);
  EXPECT_EQ(pid.repetition_count(4), 0u);
  EXPECT_EQ(m.value("OBX", 1, 5), "a^b\\c");
  EXPECT_EQ(message_type(m).structure, "");
  EXPECT_EQ(m.get("OBX", 0, 6, 1, 1), "/min");
  const Message s = parsed("MSH|^~\\&|||||||ADT^A01|1|P|2.5\rZXY|a&b&c^d~e\r");
  const Segment z = s.segment(1);
  EXPECT_EQ(z.subcomponent_count(1), 3u);
  EXPECT_EQ(z.get(1, 1, 1, 3), "c");
  EXPECT_EQ(z.get(1, 1, 2, 1), "d");
  EXPECT_EQ(z.get(1, 1, 2, 2), "");
  EXPECT_EQ(z.get(1, 2), "e");
  EXPECT_EQ(z.get(1, 3), "");
}

TEST(Hl7Message, AnyLegalDelimitersGiveTheSameValues) {
  const Message ref = parsed(samples::kPcd01);
  struct D {
    char f, c, r, e, s;
  };
  for (const D d : std::vector<D>{{'#', '$', '*', '!', '@'},
                                  {'|', '^', '~', '\\', '&'},
                                  {';', ':', ',', '/', '%'},
                                  {'~', '&', '|', '^', '\\'}}) {
    const std::string text = samples::with_delimiters(samples::kPcd01, d.f, d.c, d.r, d.e, d.s);
    const Message m = parsed(text);
    EXPECT_EQ(m.encoding().field, d.f);
    EXPECT_EQ(m.encoding().escape, d.e);
    ASSERT_EQ(m.segment_count(), ref.segment_count());
    EXPECT_EQ(m.get("OBX", 6, 4), "1.2.1.150021");
    EXPECT_EQ(m.get("OBX", 6, 6, 1, 2), "MDC_DIM_MMHG");
    EXPECT_EQ(m.value("NTE", 0, 3),
              samples::with_delimiters(ref.value("NTE", 0, 3), d.f, d.c, d.r, d.e, d.s));
    EXPECT_EQ(m.msh().get(1), std::string(1, d.f));
  }
}

TEST(Hl7Message, SegmentTerminators) {
  const Message ref = parsed(samples::kV231);
  auto replace_cr = [](std::string s, std::string_view by) {
    std::string out;
    for (char c : s) {
      if (c == '\r')
        out.append(by);
      else
        out.push_back(c);
    }
    return out;
  };
  for (std::string_view term : {"\n", "\r\n", "\r\r", "\n\n\r\n"}) {
    const Message m = parsed(replace_cr(samples::kV231, term));
    EXPECT_EQ(m, ref) << "terminator of " << term.size() << " bytes";
  }
  EXPECT_EQ(parsed("\r\n" + samples::kV231 + "\r\n\r\n"), ref);
  // No final terminator.
  std::string no_final = samples::kV231;
  no_final.pop_back();
  EXPECT_EQ(parsed(no_final), ref);
}

TEST(Hl7Message, ToStringRoundTrips) {
  for (const std::string& text :
       {samples::kPcd01, samples::kV231,
        samples::with_delimiters(samples::kPcd01, '#', '$', '*', '!', '@'),
        std::string{"MSH|^~\\&|||||||A^B|1|P|2.4|\rPID\rPV1|\rZZ1||\r"}}) {
    const Message m = parsed(text);
    EXPECT_EQ(m.to_string(), text);
    EXPECT_EQ(parsed(m.to_string()), m);
  }
  const Message m = parsed("MSH|^~\\&|||||||A^B|1|P|2.4\rPID\rPV1|");
  EXPECT_EQ(m.segment(1).field_count(), 0u);
  EXPECT_EQ(m.segment(2).field_count(), 1u);
  EXPECT_NE(parsed("MSH|^~\\&|||||||A^B|1|P|2.4\rPID|"),
            parsed("MSH|^~\\&|||||||A^B|1|P|2.4\rPID"));
}

TEST(Hl7Message, RangeForVisitsEverySegment) {
  const Message m = parsed(samples::kPcd01);
  std::string names;
  for (const Segment s : m) names.append(s.name());
  std::string expected = "MSHPIDPV1OBR";
  for (int i = 0; i < 10; ++i) expected += "OBX";
  EXPECT_EQ(names, expected + "NTE");
}

struct BadCase {
  const char* name;
  std::string text;
  ParseErrc code;
  std::size_t segment;
  std::size_t field;
};

class Hl7BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(Hl7BadInput, IsRejectedWithWhatAndWhere) {
  const BadCase& c = GetParam();
  const auto r = parse(c.text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, c.code) << to_string(r.error().code) << ": " << r.error().message;
  EXPECT_EQ(r.error().segment, c.segment) << r.error().message;
  EXPECT_EQ(r.error().field, c.field) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

const std::string kHead = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|X1|P|2.6\r";

INSTANTIATE_TEST_SUITE_P(
    Table, Hl7BadInput,
    ::testing::Values(
        BadCase{"empty", "", ParseErrc::empty, 0, 0},
        BadCase{"only_terminators", "\r\n\r", ParseErrc::empty, 0, 0},
        BadCase{"not_hl7", "GET / HTTP/1.1\r\nHost: x\r\n", ParseErrc::missing_msh, 0, 0},
        BadCase{"pid_first", "PID|||1\r" + kHead, ParseErrc::missing_msh, 0, 0},
        BadCase{"lowercase_msh", "msh|^~\\&|||||||ORU^R01|1|P|2.6", ParseErrc::missing_msh, 0, 0},
        BadCase{"just_msh", "MSH", ParseErrc::truncated_msh, 0, 1},
        BadCase{"msh_then_cr", "MSH\rPID|1", ParseErrc::truncated_msh, 0, 1},
        BadCase{"msh_ends_in_msh2", "MSH|^~\\&", ParseErrc::truncated_msh, 0, 3},
        BadCase{"msh_too_few_fields", "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|X1\r",
                ParseErrc::truncated_msh, 0, 11},
        BadCase{"three_encoding_chars", "MSH|^~\\|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"no_encoding_chars", "MSH||A|B", ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"six_encoding_chars", "MSH|^~\\&#%|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"duplicate_delimiters", "MSH|^^\\&|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"nul_truncation_char",
                std::string("MSH|^~\\&") + '\0' + "|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"field_sep_reused", "MSH|^~|&|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"alnum_delimiter", "MSH|^~\\A|A|B|C|D|1||ORU^R01|1|P|2.6",
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"letter_field_sep", "MSHX^~\\&XAXB", ParseErrc::bad_encoding_chars, 0, 1},
        BadCase{"space_field_sep", "MSH ^~\\& A B", ParseErrc::bad_encoding_chars, 0, 1},
        BadCase{"control_char_delimiter", std::string("MSH|^~\\\x01|A|B|C|D|1||ORU^R01|1|P|2.6"),
                ParseErrc::bad_encoding_chars, 0, 2},
        BadCase{"empty_message_type", "MSH|^~\\&|A|B|C|D|1|||X1|P|2.6", ParseErrc::missing_field, 0,
                9},
        BadCase{"empty_control_id", "MSH|^~\\&|A|B|C|D|1||ORU^R01||P|2.6", ParseErrc::missing_field,
                0, 10},
        BadCase{"empty_version", "MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|", ParseErrc::missing_field, 0,
                12},
        BadCase{"version_2_2", "MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|2.2",
                ParseErrc::unsupported_version, 0, 12},
        BadCase{"version_2_7", "MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|2.7",
                ParseErrc::unsupported_version, 0, 12},
        BadCase{"version_junk", "MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|banana",
                ParseErrc::unsupported_version, 0, 12},
        BadCase{"lowercase_segment", kHead + "pid|1\r", ParseErrc::bad_segment_name, 1, 0},
        BadCase{"long_segment_name", kHead + "PIDX|1\r", ParseErrc::bad_segment_name, 1, 0},
        BadCase{"short_segment_name", kHead + "PI|1\r", ParseErrc::bad_segment_name, 1, 0},
        BadCase{"binary_segment", kHead + std::string("\x00\x01\x02|x", 5),
                ParseErrc::bad_segment_name, 1, 0},
        BadCase{"second_msh", kHead + "PID|1\r" + kHead, ParseErrc::bad_segment_name, 2, 0},
        BadCase{"ten_thousand_fields", kHead + "OBX" + std::string(10000, '|'),
                ParseErrc::too_many_fields, 1, 257},
        BadCase{"msh_with_many_fields", "MSH|^~\\&" + std::string(300, '|'),
                ParseErrc::too_many_fields, 0, 257},
        BadCase{"too_many_segments",
                kHead +
                    [] {
                      std::string s;
                      for (int i = 0; i < 2000; ++i) s += "NTE|1\r";
                      return s;
                    }(),
                ParseErrc::too_many_segments, 2000, 0},
        BadCase{"too_large", kHead + "NTE|1|" + std::string(1 << 20, 'x'), ParseErrc::too_large, 0,
                0}),
    [](const auto& p) { return std::string{p.param.name}; });

TEST(Hl7Limits, TenThousandFieldsAcrossSegmentsAreBounded) {
  std::string text = kHead;
  for (int i = 0; i < 100; ++i) text += "OBX" + std::string(100, '|') + "\r";
  const auto r = parse(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->count("OBX"), 100u);
  EXPECT_EQ(r->segment(100).field_count(), 100u);
}

TEST(Hl7Limits, CustomLimits) {
  ParseLimits lim;
  lim.max_fields = 12;
  EXPECT_TRUE(parse(kHead, lim).ok());
  EXPECT_EQ(parse(kHead + "OBX|1|2|3|4|5|6|7|8|9|10|11|12|13", lim).error().code,
            ParseErrc::too_many_fields);
  lim = {};
  lim.max_segments = 2;
  EXPECT_TRUE(parse(kHead + "PID|1", lim).ok());
  EXPECT_EQ(parse(kHead + "PID|1\rPV1|1", lim).error().code, ParseErrc::too_many_segments);
  lim = {};
  lim.max_bytes = kHead.size();
  EXPECT_TRUE(parse(kHead, lim).ok());
  EXPECT_EQ(parse(kHead + "\r", lim).error().code, ParseErrc::too_large);
}

TEST(Hl7Versions, TwoThreeToTwoSix) {
  for (const char* v : {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6"}) {
    const auto r = parse(std::string("MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|") + v + "^HL7");
    EXPECT_TRUE(r.ok()) << v;
  }
  ParseLimits lax;
  lax.check_version = false;
  EXPECT_TRUE(parse("MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|2.8", lax).ok());
  EXPECT_FALSE(version_at_least_2_5("2.3.1"));
  EXPECT_FALSE(version_at_least_2_5("2.4"));
  EXPECT_TRUE(version_at_least_2_5("2.5"));
  EXPECT_TRUE(version_at_least_2_5("2.5.1"));
  EXPECT_TRUE(version_at_least_2_5("2.6"));
  EXPECT_TRUE(version_at_least_2_5("2.10"));
}

TEST(Hl7Message, TruncationCharacterIsKept) {
  const Message m = parsed("MSH|^~\\&#|A|B|C|D|1||ORU^R01|X|P|2.6\rNTE|1||a#b");
  EXPECT_EQ(m.encoding().truncation, '#');
  EXPECT_EQ(m.msh().get(2), "^~\\&#");
  EXPECT_EQ(m.value("NTE", 0, 3), "a#b");
}

TEST(Hl7Message, PiecesHelpers) {
  EXPECT_EQ(nth_piece("a^b^c", '^', 1), "a");
  EXPECT_EQ(nth_piece("a^b^c", '^', 3), "c");
  EXPECT_EQ(nth_piece("a^b^c", '^', 4), "");
  EXPECT_EQ(nth_piece("a^b^c", '^', 0), "");
  EXPECT_EQ(nth_piece("", '^', 1), "");
  EXPECT_EQ(piece_count("", '^'), 0u);
  EXPECT_EQ(piece_count("^", '^'), 2u);
  EXPECT_EQ(piece_count("abc", '^'), 1u);
}

TEST(Hl7Message, ParsesATypicalOruQuickly) {
  // A budget, not a benchmark: 2000 parses of a ~1.5 KB PCD-01 in well under a second even
  // in a sanitizer build. Typical release numbers are in docs/hl7.md.
  const auto start = std::chrono::steady_clock::now();
  std::size_t segs = 0;
  for (int i = 0; i < 2000; ++i) segs += parse(samples::kPcd01)->segment_count();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(segs, 2000u * 15u);
  EXPECT_LT(took, std::chrono::seconds(2));
}

}  // namespace
}  // namespace vitalsd::hl7
