// Parameters: what a monitor measures, with their IEEE 11073-10101 (MDC) codes and UCUM units.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vitalsd::core {

enum class Parameter : std::uint8_t {
  nibp_sys,
  nibp_dia,
  nibp_mean,
  hr,
  pr,
  spo2,
  rr,
  etco2,
  temp
};

struct ParameterInfo {
  Parameter parameter;
  std::string_view name;        // "nibp_sys": the name in config, database and API
  std::uint32_t mdc_code;       // IEEE 11073 MDC code, partition 2 (SCADA), e.g. 150021
  std::string_view mdc_refid;   // "MDC_PRESS_BLD_NONINV_SYS"
  std::string_view ucum;        // UCUM unit, e.g. "mm[Hg]"
  std::uint32_t mdc_unit_code;  // MDC unit code, e.g. 266016 (MDC_DIM_MMHG)
  std::string_view mdc_unit_refid;
  double plausible_min;  // outside [min, max] a value is not physiological: stored invalid
  double plausible_max;
  bool intermittent;  // NIBP: one cuff measurement, polled many times
};

// Every parameter, in enum order.
std::span<const ParameterInfo> all_parameters();
const ParameterInfo& info(Parameter p);
std::string_view to_string(Parameter p);
std::optional<Parameter> parameter_from_name(std::string_view name);
std::optional<Parameter> parameter_from_mdc(std::uint32_t code);

}  // namespace vitalsd::core
