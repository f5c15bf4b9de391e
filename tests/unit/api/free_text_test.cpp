// The free-text rule of the API (daemon/api/free_text.cpp) without a server: what is refused,
// what is not, and how the refusal reads.
#include "api/free_text.hpp"

#include <gtest/gtest.h>

namespace vitalsd::api {
namespace {

TEST(FreeText, PrintableTextOfAnyScriptIsAccepted) {
  for (const char* ok : {"", "P-1001", "Zoë Ñúñez", "山田太郎", "№42 — ½", "🙂", "\xc2\xa0nbsp",
                         "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"})
    EXPECT_FALSE(free_text_error(ok)) << ok;
}

TEST(FreeText, ControlCharactersAreRefusedWithTheirCodePoint) {
  EXPECT_EQ(free_text_error("ab\x07"),
            "holds a control character, U+0007, at byte 2 (control characters are not accepted "
            "in text)");
  for (int c = 0; c < 0x20; ++c)
    EXPECT_TRUE(free_text_error(std::string("x") + static_cast<char>(c))) << c;
  EXPECT_NE(free_text_error("x\x7f")->find("U+007F"), std::string::npos);
  EXPECT_NE(free_text_error("x\xc2\x80")->find("U+0080"), std::string::npos);
  EXPECT_NE(free_text_error("x\xc2\x9f")->find("U+009F"), std::string::npos);
  EXPECT_FALSE(free_text_error("x\xc2\xa0"));  // U+00A0: the first after C1
}

TEST(FreeText, InvalidUtf8IsRefusedWithItsOffset) {
  EXPECT_EQ(free_text_error("ab\xff"), "is not valid UTF-8 (byte 2)");
  for (const char* bad : {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80",
                          "\xf5\x80\x80\x80", "\xe2\x82", "\xc3", "\xfe", "\xff"}) {
    const auto e = free_text_error(bad);
    ASSERT_TRUE(e) << bad;
    EXPECT_NE(e->find("UTF-8"), std::string::npos) << *e;
  }
  EXPECT_EQ(first_invalid_utf8("ok \xe2\x82\xac then \xff"), 12u);
  EXPECT_EQ(first_invalid_utf8("ok"), std::string_view::npos);
}

TEST(FreeText, TheFieldOfAnInvalidByteInABodyIsNamed) {
  EXPECT_EQ(field_with_invalid_utf8("{\"monitor\":\"c\",\"patient\":\"P\xff\"}"), "patient");
  EXPECT_EQ(field_with_invalid_utf8("{\"a\":\"x\",\"b\":[\"\\\"\",\"\xff\"]}"), "b");
  EXPECT_EQ(field_with_invalid_utf8("{\"a\\\"\xff\":\"x\"}"), "");  // in a name
  EXPECT_EQ(field_with_invalid_utf8("{\"a\":1,\xff}"), "");         // outside strings
  EXPECT_EQ(field_with_invalid_utf8("{\"a\":\"fine\"}"), "");
}

}  // namespace
}  // namespace vitalsd::api
