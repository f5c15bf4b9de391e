#include "core/parameter.hpp"

#include <gtest/gtest.h>

namespace vitalsd::core {
namespace {

struct Expected {
  const char* name;
  std::uint32_t mdc;
  const char* ucum;
};

class ParameterCodes : public ::testing::TestWithParam<Expected> {};

TEST_P(ParameterCodes, NameMdcAndUnitAgree) {
  const auto& e = GetParam();
  auto p = parameter_from_name(e.name);
  ASSERT_TRUE(p.has_value()) << e.name;
  EXPECT_EQ(info(*p).mdc_code, e.mdc);
  EXPECT_EQ(info(*p).ucum, e.ucum);
  EXPECT_EQ(parameter_from_mdc(e.mdc), p);
  EXPECT_EQ(to_string(*p), e.name);
}

INSTANTIATE_TEST_SUITE_P(Issue2, ParameterCodes,
                         ::testing::Values(Expected{"nibp_sys", 150021, "mm[Hg]"},
                                           Expected{"nibp_dia", 150022, "mm[Hg]"},
                                           Expected{"nibp_mean", 150023, "mm[Hg]"},
                                           Expected{"hr", 147842, "/min"},
                                           Expected{"pr", 149530, "/min"},
                                           Expected{"spo2", 150456, "%"}));

TEST(Parameter, UnknownNamesAndCodesAreRejected) {
  EXPECT_FALSE(parameter_from_name("sbp").has_value());
  EXPECT_FALSE(parameter_from_name("").has_value());
  EXPECT_FALSE(parameter_from_mdc(0).has_value());
}

TEST(Parameter, TableIsInEnumOrder) {
  std::size_t i = 0;
  for (const auto& p : all_parameters()) EXPECT_EQ(static_cast<std::size_t>(p.parameter), i++);
  EXPECT_TRUE(info(Parameter::nibp_sys).intermittent);
  EXPECT_FALSE(info(Parameter::hr).intermittent);
}

}  // namespace
}  // namespace vitalsd::core
