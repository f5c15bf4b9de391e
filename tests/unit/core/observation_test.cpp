#include "core/observation.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace vitalsd::core {
namespace {

Observation make(Parameter p, double v) {
  Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = std::string(info(p).ucum);
  return o;
}

TEST(Observation, ImplausibleValuesBecomeInvalid) {
  auto nan = make(Parameter::hr, std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(invalidate_if_implausible(nan));
  EXPECT_EQ(nan.validity, Validity::invalid);
  auto inf = make(Parameter::nibp_sys, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(invalidate_if_implausible(inf));
  auto spo2 = make(Parameter::spo2, 101);
  EXPECT_TRUE(invalidate_if_implausible(spo2));
  auto sentinel = make(Parameter::nibp_sys, 65535);
  EXPECT_TRUE(invalidate_if_implausible(sentinel));
}

TEST(Observation, PlausibleValuesStayValid) {
  auto sys = make(Parameter::nibp_sys, 185);
  EXPECT_FALSE(invalidate_if_implausible(sys));
  EXPECT_EQ(sys.validity, Validity::valid);
  auto brady = make(Parameter::hr, 38);
  EXPECT_FALSE(invalidate_if_implausible(brady));
}

TEST(Observation, ValidityNamesRoundTrip) {
  for (auto v : {Validity::valid, Validity::questionable, Validity::invalid})
    EXPECT_EQ(validity_from_name(to_string(v)), v);
  EXPECT_FALSE(validity_from_name("ok").has_value());
}

}  // namespace
}  // namespace vitalsd::core
