#include "core/text.hpp"

#include <gtest/gtest.h>

#include "core/json_text.hpp"

namespace vitalsd::core {
namespace {

TEST(Text, ValidUtf8) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("MDC_PRESS_BLD_NONINV_DIA"));
  EXPECT_TRUE(valid_utf8("Jos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\x89"));  // é € 💉
  EXPECT_FALSE(
      valid_utf8("1500\xA4"
                 "22"));                         // a lone continuation byte
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\xFF"));
}

TEST(Text, RepairReplacesEachMaximalInvalidSubpartAndCounts) {
  std::string s =
      "1500\xA4"
      "22";
  EXPECT_EQ(repair_utf8(s), 1u);
  EXPECT_EQ(s,
            "1500\xEF\xBF\xBD"
            "22");
  EXPECT_TRUE(valid_utf8(s));
  // "E2 82" is one broken sequence, then 'A' as it was; F0 alone, then a valid é.
  s = "\xE2\x82"
      "A\xF0\xC3\xA9";
  EXPECT_EQ(repair_utf8(s), 2u);
  EXPECT_EQ(s,
            "\xEF\xBF\xBD"
            "A\xEF\xBF\xBD\xC3\xA9");
  // Valid text is left alone.
  s = "Jos\xC3\xA9";
  EXPECT_EQ(repair_utf8(s), 0u);
  EXPECT_EQ(s, "Jos\xC3\xA9");
  // Every byte value, alone: the result is always valid.
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b));
    repair_utf8(one);
    EXPECT_TRUE(valid_utf8(one)) << b;
  }
}

// Found by the whole-path fuzzer: an ACK's error text, clipped to a length, cut a UTF-8
// sequence in two and was no longer UTF-8.
TEST(Text, Utf8PrefixNeverCutsACharacter) {
  EXPECT_EQ(utf8_prefix("abc", 5), "abc");
  EXPECT_EQ(utf8_prefix("abc", 2), "ab");
  EXPECT_EQ(utf8_prefix("a\xC3\xA9", 2), "a");  // é would be cut
  EXPECT_EQ(utf8_prefix("a\xC3\xA9", 3), "a\xC3\xA9");
  EXPECT_EQ(utf8_prefix("\xE2\x82\xAC\xE2\x82\xAC", 5), "\xE2\x82\xAC");  // €€
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x92\x89", 3), "");
  std::string s;
  for (int i = 0; i < 50; ++i) s += "\xC3\xA9\xE2\x82\xAC";
  for (std::size_t n = 0; n <= s.size(); ++n) EXPECT_TRUE(valid_utf8(utf8_prefix(s, n))) << n;
}

TEST(Text, HasControl) {
  EXPECT_FALSE(has_control("P-7 Jos\xC3\xA9"));
  EXPECT_TRUE(
      has_control("P\x0B"
                  "7"));
  EXPECT_TRUE(has_control("P\x1C"));
  EXPECT_TRUE(has_control("a\nb"));
  EXPECT_TRUE(has_control("\x7F"));
  EXPECT_TRUE(
      has_control("\xC2\x9B"
                  "2J"));                 // U+009B, a C1 CSI
  EXPECT_FALSE(has_control("\xC2\xA0"));  // U+00A0 is not a control
}

TEST(Text, PrintableEscapesControlsBackslashesAndBadBytes) {
  EXPECT_EQ(printable("plain text, caf\xC3\xA9"), "plain text, caf\xC3\xA9");
  EXPECT_EQ(printable("X\n2099-01-01T00:00:00.000Z info FORGED\x1B[2J"),
            "X\\x0A2099-01-01T00:00:00.000Z info FORGED\\x1B[2J");
  EXPECT_EQ(printable("a\\x0Ab"), "a\\\\x0Ab");  // a literal backslash cannot pass for an escape
  EXPECT_EQ(printable("\xC2\x9B"
                      "2J"),
            "\\u009B2J");
  EXPECT_EQ(printable("1500\xA4"
                      "22"),
            "1500\\xA422");
  EXPECT_EQ(printable("\x7F\t\r"), "\\x7F\\x09\\x0D");
  const auto out = printable("\x01\x02\x1B\n\xC2\x85\xFF");
  EXPECT_FALSE(has_control(out));
  EXPECT_TRUE(valid_utf8(out));
}

TEST(Text, JsonTextNeverThrowsOnBadText) {
  nlohmann::json j{{"code",
                    "1500\xA4"
                    "22"},
                   {"text", "a\nb\x1B"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // what a plain dump() does
  std::string out;
  ASSERT_NO_THROW(out = json_text(j));
  EXPECT_EQ(out,
            "{\"code\":\"1500\xEF\xBF\xBD"
            "22\",\"text\":\"a\\nb\\u001b\"}");
  EXPECT_TRUE(valid_utf8(out));
}

}  // namespace
}  // namespace vitalsd::core
