#include "core/parameter.hpp"

#include <array>

namespace vitalsd::core {
namespace {
// Codes: IEEE 11073-10101 nomenclature as used by IHE PCD-01 (Rosetta Terminology Mapping).
constexpr std::array<ParameterInfo, 9> kParameters{{
    {Parameter::nibp_sys, "nibp_sys", 150021, "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", 266016,
     "MDC_DIM_MMHG", 20, 300, true},
    {Parameter::nibp_dia, "nibp_dia", 150022, "MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", 266016,
     "MDC_DIM_MMHG", 10, 250, true},
    {Parameter::nibp_mean, "nibp_mean", 150023, "MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", 266016,
     "MDC_DIM_MMHG", 15, 270, true},
    {Parameter::hr, "hr", 147842, "MDC_ECG_HEART_RATE", "/min", 264864, "MDC_DIM_BEAT_PER_MIN", 15,
     300, false},
    {Parameter::pr, "pr", 149530, "MDC_PULS_OXIM_PULS_RATE", "/min", 264864, "MDC_DIM_BEAT_PER_MIN",
     15, 300, false},
    {Parameter::spo2, "spo2", 150456, "MDC_PULS_OXIM_SAT_O2", "%", 262688, "MDC_DIM_PERCENT", 30,
     100, false},
    {Parameter::rr, "rr", 151562, "MDC_RESP_RATE", "/min", 264928, "MDC_DIM_RESP_PER_MIN", 0, 120,
     false},
    {Parameter::etco2, "etco2", 151708, "MDC_AWAY_CO2_ET", "mm[Hg]", 266016, "MDC_DIM_MMHG", 0, 150,
     false},
    {Parameter::temp, "temp", 150344, "MDC_TEMP", "Cel", 268192, "MDC_DIM_DEGC", 25, 45, false},
}};
}  // namespace

std::span<const ParameterInfo> all_parameters() {
  return kParameters;
}

const ParameterInfo& info(Parameter p) {
  return kParameters.at(static_cast<std::size_t>(p));
}

std::string_view to_string(Parameter p) {
  return info(p).name;
}

std::optional<Parameter> parameter_from_name(std::string_view name) {
  for (const auto& i : kParameters)
    if (i.name == name) return i.parameter;
  return std::nullopt;
}

std::optional<Parameter> parameter_from_mdc(std::uint32_t code) {
  for (const auto& i : kParameters)
    if (i.mdc_code == code) return i.parameter;
  return std::nullopt;
}

}  // namespace vitalsd::core
