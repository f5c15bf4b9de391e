#include "hl7/dtm.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace vitalsd::hl7 {
namespace {
using namespace std::chrono;

core::Timestamp at(year_month_day d, hours h = {}, minutes m = {}, seconds s = {},
                   milliseconds ms = {}) {
  return core::Timestamp{sys_days{d}} + h + m + s + ms;
}

TEST(Hl7Dtm, ParsesTable) {
  struct C {
    const char* text;
    core::Timestamp want;
  };
  const C cases[] = {
      {"20261127143031", at(2026y / 11 / 27, 14h, 30min, 31s)},
      {"20261127143031+0000", at(2026y / 11 / 27, 14h, 30min, 31s)},
      {"20261127143031.1", at(2026y / 11 / 27, 14h, 30min, 31s, 100ms)},
      {"20261127143031.12", at(2026y / 11 / 27, 14h, 30min, 31s, 120ms)},
      {"20261127143031.123", at(2026y / 11 / 27, 14h, 30min, 31s, 123ms)},
      {"20261127143031.1239", at(2026y / 11 / 27, 14h, 30min, 31s, 123ms)},
      {"20261127143031.1234+0100", at(2026y / 11 / 27, 13h, 30min, 31s, 123ms)},
      {"20261127003031-0530", at(2026y / 11 / 27, 6h, 0min, 31s)},
      {"202611271430", at(2026y / 11 / 27, 14h, 30min)},
      {"2026112714", at(2026y / 11 / 27, 14h)},
      {"20261127", at(2026y / 11 / 27)},
      {"202611", at(2026y / 11 / 1)},
      {"2026", at(2026y / 1 / 1)},
      {"20240229235959.999", at(2024y / 2 / 29, 23h, 59min, 59s, 999ms)},
      {"20261231233000-0100", at(2027y / 1 / 1, 0h, 30min)},
  };
  for (const C& c : cases) {
    const auto t = parse_dtm(c.text);
    ASSERT_TRUE(t) << c.text;
    EXPECT_EQ(*t, c.want) << c.text << " → " << core::format_iso8601(*t);
  }
  EXPECT_EQ(parse_dtm("20261127143031", minutes{60}), at(2026y / 11 / 27, 13h, 30min, 31s));
  EXPECT_EQ(parse_dtm("20261127143031+0000", minutes{60}), at(2026y / 11 / 27, 14h, 30min, 31s));
}

TEST(Hl7Dtm, RejectsTable) {
  for (const char* bad : {"",
                          "2026112",
                          "202611271",
                          "20261327",
                          "20260230",
                          "20261127243000",
                          "20261127146000",
                          "20261127143060",
                          "2026112714303.1",
                          "20261127143031.",
                          "20261127143031.12345",
                          "20261127143031.1a",
                          "20261127143031+01",
                          "20261127143031+0160",
                          "20261127143031+2400",
                          "20261127143031+01000",
                          "2026-11-27",
                          "2026112714303x",
                          "202611271430.5",
                          "+0100",
                          "20261127143031Z",
                          "abcdefgh",
                          "20261127143031-"})
    EXPECT_FALSE(parse_dtm(bad)) << bad;
}

TEST(Hl7Dtm, FormatsUtc) {
  const auto t = at(2026y / 11 / 27, 14h, 30min, 31s, 7ms);
  EXPECT_EQ(format_dtm(t), "20261127143031.007+0000");
  EXPECT_EQ(format_dtm(t, DtmPrecision::seconds), "20261127143031+0000");
  EXPECT_EQ(format_dtm(core::Timestamp{}), "19700101000000.000+0000");
  for (const auto ts : {t, at(2024y / 2 / 29, 23h, 59min, 59s, 999ms), core::Timestamp{}})
    EXPECT_EQ(parse_dtm(format_dtm(ts)), ts);
}

}  // namespace
}  // namespace vitalsd::hl7
