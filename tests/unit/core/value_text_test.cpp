#include "core/value_text.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace vitalsd::core {
namespace {

TEST(FormatValue, PrintsValuesAsTheMonitorReportedThem) {
  EXPECT_EQ(format_value(160), "160");
  EXPECT_EQ(format_value(160.0), "160");
  EXPECT_EQ(format_value(36.6), "36.6");
  EXPECT_EQ(format_value(0.5), "0.5");
  EXPECT_EQ(format_value(-0.25), "-0.25");
  EXPECT_EQ(format_value(98.1), "98.1");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1234567), "1234567");
}

TEST(FormatValue, ReadsBackAsTheSameNumber) {
  for (double v : {0.1, 1.0 / 3, 72.45, 1e-7, 12345.678})
    EXPECT_EQ(std::stod(format_value(v)), v) << format_value(v);
}

TEST(FormatValue, NotFiniteIsNamed) {
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-inf");
}

}  // namespace
}  // namespace vitalsd::core
