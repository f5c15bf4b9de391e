#include "core/time.hpp"

#include <gtest/gtest.h>

namespace vitalsd::core {
namespace {
using namespace std::chrono;

TEST(Time, FormatsUtcWithMilliseconds) {
  const Timestamp t = Timestamp{sys_days{2026y / 11 / 27}} + 14h + 30min + 31s + 7ms;
  EXPECT_EQ(format_iso8601(t), "2026-11-27T14:30:31.007Z");
  EXPECT_EQ(format_iso8601(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(Time, ParsesWhatItFormatsAndOffsets) {
  const Timestamp t = Timestamp{sys_days{2024y / 2 / 29}} + 23h + 59min + 59s + 999ms;
  EXPECT_EQ(parse_iso8601(format_iso8601(t)), t);
  EXPECT_EQ(parse_iso8601("2024-02-29T23:59:59.999+01:00"), t - 1h);
  EXPECT_EQ(parse_iso8601("2024-03-01T00:00:00Z"), t + 1ms);
}

TEST(Time, RejectsMalformed) {
  for (const char* bad :
       {"", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01 x", "2024-01-01T25:00:00Z",
        "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00Zjunk"})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
}

}  // namespace
}  // namespace vitalsd::core
