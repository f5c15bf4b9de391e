#include "core/observation.hpp"

#include <cmath>

namespace vitalsd::core {

std::string_view to_string(Validity v) {
  switch (v) {
    case Validity::valid:
      return "valid";
    case Validity::questionable:
      return "questionable";
    case Validity::invalid:
      return "invalid";
    case Validity::demo:
      return "demo";
    case Validity::test:
      return "test";
  }
  return "invalid";
}

std::optional<Validity> validity_from_name(std::string_view name) {
  if (name == "valid") return Validity::valid;
  if (name == "questionable") return Validity::questionable;
  if (name == "invalid") return Validity::invalid;
  if (name == "demo") return Validity::demo;
  if (name == "test") return Validity::test;
  return std::nullopt;
}

bool invalidate_if_implausible(Observation& o) {
  if (o.validity == Validity::invalid || not_patient_data(o.validity)) return false;
  const auto& i = info(o.parameter);
  if (!std::isfinite(o.value) || o.value < i.plausible_min || o.value > i.plausible_max) {
    o.implausible = o.validity == Validity::valid && std::isfinite(o.value);
    o.validity = Validity::invalid;
    return true;
  }
  return false;
}

}  // namespace vitalsd::core
