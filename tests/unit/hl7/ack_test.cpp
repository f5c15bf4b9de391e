#include "hl7/ack.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "hl7/message.hpp"
#include "hl7/msh.hpp"
#include "unit/hl7/samples.hpp"

namespace vitalsd::hl7 {
namespace {
using namespace std::chrono;

Message parsed(std::string_view text, bool any_version = false) {
  ParseLimits lim;
  lim.check_version = !any_version;
  auto r = parse(text, lim);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << text;
  return r.ok() ? std::move(r).value() : Message{};
}

AckOptions opts() {
  AckOptions o;
  o.control_id = "ACK-1";
  o.now = core::Timestamp{sys_days{2026y / 11 / 27}} + 14h + 30min + 32s + 5ms;
  return o;
}

TEST(Hl7Ack, AcceptEchoesControlIdAndSwapsEndpoints) {
  const Message orig = parsed(samples::kPcd01);
  const std::string wire = build_ack(orig, AckCode::AA, opts());
  EXPECT_EQ(wire,
            "MSH|^~\\&|vitalsd|CLINIC|MONITOR_GW^0012EF0000000001^EUI-64|VENDOR|"
            "20261127143032.005+0000||ACK^R01^ACK|ACK-1|P|2.6\r"
            "MSA|AA|MSG00042\r");
  const Message ack = parsed(wire);
  const auto info = read_ack(ack);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->code, AckCode::AA);
  EXPECT_EQ(info->control_id, "MSG00042");
  EXPECT_EQ(info->error_code, 0);
  EXPECT_EQ(ack.count("ERR"), 0u);
}

TEST(Hl7Ack, ErrorV26UsesErr2To8) {
  const Message orig = parsed(samples::kPcd01);
  const std::string wire =
      build_ack(orig, AckCode::AE, opts(),
                {AckError{"OBX", 7, 5, err::data_type, "OBX-5 \"abc\" is not a number"},
                 AckError{"OBX", 3, 3, err::table_value_not_found, "unknown code 1^2"}});
  const Message ack = parsed(wire);
  EXPECT_EQ(ack.count("ERR"), 2u);
  EXPECT_EQ(ack.field("ERR", 0, 2), "OBX^7^5");
  EXPECT_EQ(ack.field("ERR", 0, 3), "102^Data type error^HL70357");
  EXPECT_EQ(ack.get("ERR", 0, 4), "E");
  EXPECT_EQ(ack.value("ERR", 0, 8), "OBX-5 \"abc\" is not a number");
  EXPECT_EQ(ack.value("ERR", 1, 8), "unknown code 1^2");
  EXPECT_EQ(ack.get("MSA", 0, 3), "");
  const auto info = read_ack(ack);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->code, AckCode::AE);
  EXPECT_EQ(info->error_code, 102);
  EXPECT_EQ(info->text, "OBX-5 \"abc\" is not a number");
}

TEST(Hl7Ack, ErrorV23UsesErr1AndMsa3) {
  const Message orig = parsed(samples::kV231);
  const std::string wire =
      build_ack(orig, AckCode::AE, opts(), {AckError{"OBX", 2, 5, err::data_type, "bad value"}});
  const Message ack = parsed(wire);
  EXPECT_EQ(ack.field("MSH", 0, 9), "ACK^R01");
  EXPECT_EQ(ack.get("MSH", 0, 12), "2.3.1");
  EXPECT_EQ(ack.get("MSA", 0, 2), "CTRL-7");
  EXPECT_EQ(ack.value("MSA", 0, 3), "bad value");
  EXPECT_EQ(ack.field("ERR", 0, 1), "OBX^2^5^102&Data type error&HL70357");
  const auto info = read_ack(ack);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->error_code, 102);
  EXPECT_EQ(info->text, "bad value");
}

TEST(Hl7Ack, RejectWithoutErrorsStillHasErr) {
  const Message orig = parsed(samples::kPcd01);
  const Message ack = parsed(build_ack(orig, AckCode::AR, opts()));
  EXPECT_EQ(ack.get("MSA", 0, 1), "AR");
  EXPECT_EQ(ack.get("ERR", 0, 3, 1, 1), "207");
}

TEST(Hl7Ack, UsesTheOriginalsDelimiters) {
  const Message orig = parsed(samples::with_delimiters(samples::kPcd01, '#', '$', '*', '!', '@'));
  const std::string wire = build_ack(orig, AckCode::AE, opts(), {{"PID", 1, 5, 101, "a#b"}});
  EXPECT_EQ(wire.substr(0, 8), "MSH#$*!@");
  const Message ack = parsed(wire);
  EXPECT_EQ(ack.get("MSH", 0, 5, 1, 3), "EUI-64");
  EXPECT_EQ(ack.value("ERR", 0, 8), "a#b");
  EXPECT_EQ(read_ack(ack)->control_id, "MSG00042");
}

struct RejectCase {
  const char* name;
  std::string raw;
  std::string control_id;  // MSA-2 expected
  int code;
  std::string version;  // ACK MSH-12 expected
};

TEST(Hl7Ack, RejectForUnparseableInput) {
  const RejectCase cases[] = {
      {"not_hl7", "GET / HTTP/1.1\r\n", "", err::segment_sequence, "2.6"},
      {"empty", "", "", err::segment_sequence, "2.6"},
      {"bad_version", "MSH|^~\\&|MON|ICU|vitalsd|C|1||ORU^R01|C9|P|2.2\rPID|1", "C9",
       err::unsupported_version, "2.2"},
      {"missing_type", "MSH|^~\\&|MON|ICU|vitalsd|C|1|||C10|P|2.5", "C10",
       err::required_field_missing, "2.5"},
      {"bad_encoding", "MSH|^^\\&|MON|ICU|||1||ORU^R01|C11|P|2.4", "C11", err::data_type, "2.4"},
      {"bad_segment", "MSH|^~\\&|MON|ICU|||1||ORU^R01|C12|P|2.6\rpid|x", "C12",
       err::segment_sequence, "2.6"},
      {"hostile_control_id", "MSH|^~\\&|MON|ICU|||1||ORU^R01|a|b^c|P|2.6\rpid", "a",
       err::segment_sequence, "2.6"},
      {"other_delims", "MSH#$*!@#MON#ICU#####ORU$R01#C!F!13#P#2.6\rbad#", "C#13",
       err::segment_sequence, "2.6"},
      {"huge_version", "MSH|^~\\&|||||||ORU^R01|C14|P|" + std::string(50, '9'), "C14",
       err::unsupported_version, "2.6"},
  };
  for (const RejectCase& c : cases) {
    const auto r = parse(c.raw);
    ASSERT_FALSE(r.ok()) << c.name;
    const std::string wire = build_reject(c.raw, r.error(), opts());
    const Message ack = parsed(wire, /*any_version=*/true);  // a reject echoes MSH-12
    EXPECT_EQ(ack.get("MSA", 0, 1), "AR") << c.name;
    EXPECT_EQ(ack.value("MSA", 0, 2), c.control_id) << c.name;
    EXPECT_EQ(ack.get("MSH", 0, 12), c.version) << c.name;
    const auto info = read_ack(ack);
    ASSERT_TRUE(info) << c.name;
    EXPECT_EQ(info->error_code, c.code) << c.name;
    EXPECT_FALSE(info->text.empty()) << c.name;
  }
}

// Issue 13: a reject copies MSH-3/4 into MSH-5/6 with their components intact (an EUI-64
// device id stays three components), in our delimiters when the sender used others.
TEST(Hl7Ack, ARejectKeepsTheSendersComponentsInMsh5And6) {
  const std::string raw =
      "MSH|^~\\&|BEDMON-7^0012345678ABCDEF^EUI-64|CLINIC^1.2.3^ISO|VITALSD|C|1||ORU^R01|V22|P|"
      "2.2\rPID|1";
  const auto r = parse(raw);
  ASSERT_FALSE(r.ok());
  const Message ack = parsed(build_reject(raw, r.error(), opts()), /*any_version=*/true);
  EXPECT_EQ(ack.value("MSH", 0, 5, 1, 1), "BEDMON-7");
  EXPECT_EQ(ack.value("MSH", 0, 5, 1, 2), "0012345678ABCDEF");
  EXPECT_EQ(ack.value("MSH", 0, 5, 1, 3), "EUI-64");
  EXPECT_EQ(ack.value("MSH", 0, 6, 1, 1), "CLINIC");
  EXPECT_EQ(ack.value("MSH", 0, 6, 1, 3), "ISO");
  EXPECT_EQ(ack.field("MSH", 0, 5), "BEDMON-7^0012345678ABCDEF^EUI-64");
  EXPECT_EQ(ack.get("MSA", 0, 1), "AR");

  // Other delimiters: '$' components, '!' escape, '@' subcomponents; an escaped '$' in the text
  // stays text (escaped in ours), a real '$' stays a component separator.
  const std::string odd = "MSH#$*!@#A!S!B$DEV@X#FAC###1##ORU$R01#V23#P#2.2\rPID#1";
  const auto r2 = parse(odd);
  ASSERT_FALSE(r2.ok());
  const Message ack2 = parsed(build_reject(odd, r2.error(), opts()), /*any_version=*/true);
  EXPECT_EQ(ack2.value("MSH", 0, 5, 1, 1), "A$B");
  EXPECT_EQ(ack2.value("MSH", 0, 5, 1, 2, 1), "DEV");
  EXPECT_EQ(ack2.value("MSH", 0, 5, 1, 2, 2), "X");
  EXPECT_EQ(ack2.value("MSH", 0, 6), "FAC");
}

TEST(Hl7Ack, ReadAckEnhancedCodesAndGarbage) {
  EXPECT_EQ(read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6\rMSA|CA|9"))->code, AckCode::AA);
  EXPECT_EQ(read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6\rMSA|CE|9"))->code, AckCode::AE);
  EXPECT_EQ(read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6\rMSA|CR|9"))->code, AckCode::AR);
  EXPECT_FALSE(read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6\rMSA|XX|9")));
  EXPECT_FALSE(read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6")));
  const auto info = read_ack(parsed("MSH|^~\\&|||||||ACK|1|P|2.6\rMSA|AE|9\rERR||||E"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->error_code, 0);
}

}  // namespace
}  // namespace vitalsd::hl7
