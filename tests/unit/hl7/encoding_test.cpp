#include "hl7/encoding.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace vitalsd::hl7 {
namespace {

struct EscCase {
  std::string raw;
  std::string decoded;
};

TEST(Hl7Escape, DecodesTable) {
  const Encoding e;
  const EscCase cases[] = {
      {"plain", "plain"},
      {"", ""},
      {"a\\F\\b", "a|b"},
      {"\\S\\\\T\\\\R\\\\E\\", "^&~\\"},
      {"x\\X0D0A\\y", "x\r\ny"},
      {"\\X41\\", "A"},
      {"\\Xc3a9\\", "\xc3\xa9"},
      {"\\H\\bold\\N\\", "\\H\\bold\\N\\"},    // highlighting: passed through
      {"line\\.br\\next", "line\\.br\\next"},  // formatting: passed through
      {"\\Zvendor\\", "\\Zvendor\\"},          // locally defined: passed through
      {"\\C2842\\", "\\C2842\\"},              // charset switch: passed through
      {"\\X4\\", "\\X4\\"},                    // odd hex: verbatim
      {"\\XZZ\\", "\\XZZ\\"},                  // not hex: verbatim
      {"\\X\\", "\\X\\"},                      // empty hex: verbatim
      {"\\\\", "\\\\"},                        // empty sequence: verbatim
      {"tail\\F", "tail\\F"},                  // unterminated: verbatim
      {"\\", "\\"},
      {"\\FF\\", "\\FF\\"},
  };
  for (const auto& c : cases) EXPECT_EQ(unescape(c.raw, e), c.decoded) << c.raw;
}

TEST(Hl7Escape, EncodesTable) {
  const Encoding e;
  EXPECT_EQ(escape("a|b^c&d~e\\f", e), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
  EXPECT_EQ(escape("x\r\ny", e), "x\\X0D\\\\X0A\\y");
  EXPECT_EQ(escape("", e), "");
  const Encoding other{'#', '$', '*', '!', '@', '\0'};
  EXPECT_EQ(escape("a#b$c*d!e@f|^~\\&", other), "a!F!b!S!c!R!d!E!e!T!f|^~\\&");
  EXPECT_EQ(unescape("a!F!b!S!c!R!d!E!e!T!f|^~\\&", other), "a#b$c*d!e@f|^~\\&");
}

// Issue 23: no control character reaches a frame raw (a patient reference with 0x0B or 0x1C
// broke the receiver's MLLP framing), and no decoded value is ever invalid UTF-8.
TEST(Hl7Escape, EveryControlCharacterIsHexEscaped) {
  const Encoding e;
  EXPECT_EQ(escape("P\x0B"
                   "7\x1C\x1D",
                   e),
            "P\\X0B\\7\\X1C\\\\X1D\\");
  EXPECT_EQ(escape("\x1B[2J", e), "\\X1B\\[2J");
  EXPECT_EQ(escape("a\x7F"
                   "b",
                   e),
            "a\\X7F\\b");
  EXPECT_EQ(escape("\xC2\x9B"
                   "2J",
                   e),
            "\\XC29B\\2J");                                              // C1 CSI, as UTF-8
  EXPECT_EQ(escape("Jos\xC3\xA9 \xC2\xA0", e), "Jos\xC3\xA9 \xC2\xA0");  // not controls
  for (int c = 0; c < 0x20; ++c) {
    const auto esc = escape(std::string(1, static_cast<char>(c)), e);
    for (const char x : esc) EXPECT_GE(static_cast<unsigned char>(x), 0x20) << c;
    EXPECT_EQ(unescape(esc, e), std::string(1, static_cast<char>(c)));
  }
}

TEST(Hl7Escape, DecodedValuesAreValidUtf8) {
  const Encoding e;
  std::size_t replaced = 0;
  EXPECT_EQ(unescape("1500\xA4"
                     "22",
                     e, &replaced),
            "1500\xEF\xBF\xBD"
            "22");
  EXPECT_EQ(replaced, 1u);
  EXPECT_EQ(unescape("\\XA4\\", e, &replaced), "\xEF\xBF\xBD");  // a byte by hex escape
  EXPECT_EQ(replaced, 1u);
  EXPECT_EQ(unescape("\\Xc3a9\\", e, &replaced), "\xC3\xA9");
  EXPECT_EQ(replaced, 0u);
}

TEST(Hl7Escape, RandomRoundTrips) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab|^~\\&#$*!@\r\nX0F. ";
  for (const Encoding& e : {Encoding{}, Encoding{'#', '$', '*', '!', '@', '\0'}}) {
    for (int i = 0; i < 2000; ++i) {
      std::string s(rng() % 24, ' ');
      for (char& c : s) c = alphabet[rng() % alphabet.size()];
      const std::string esc = escape(s, e);
      for (const char c : esc) {
        EXPECT_NE(c, e.field);
        EXPECT_NE(c, e.component);
        EXPECT_NE(c, '\r');
      }
      EXPECT_EQ(unescape(esc, e), s);
    }
  }
}

TEST(Hl7Escape, DelimiterValidity) {
  EXPECT_TRUE(valid(Encoding{}));
  EXPECT_TRUE(valid(Encoding{'#', '$', '*', '!', '@', '\0'}));
  EXPECT_TRUE(valid(Encoding{'|', '^', '~', '\\', '&', '#'}));
  EXPECT_FALSE(valid(Encoding{'|', '^', '~', '\\', '&', '^'}));
  EXPECT_FALSE(valid(Encoding{'|', '|', '~', '\\', '&', '\0'}));
  EXPECT_FALSE(valid(Encoding{'|', 'A', '~', '\\', '&', '\0'}));
  EXPECT_FALSE(valid(Encoding{'|', ' ', '~', '\\', '&', '\0'}));
  EXPECT_FALSE(valid(Encoding{'\r', '^', '~', '\\', '&', '\0'}));
  EXPECT_FALSE(valid_delimiter('\x7f'));
  EXPECT_FALSE(valid_delimiter('\xe9'));
  EXPECT_EQ(Encoding{}.encoding_characters(), "^~\\&");
}

}  // namespace
}  // namespace vitalsd::hl7
