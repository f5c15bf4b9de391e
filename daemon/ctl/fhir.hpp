// The FHIR R4 form of `vitalsctl export` (docs/vitalsctl.md).
#pragma once

#include <nlohmann/json.hpp>

#include "ctl/records.hpp"

namespace vitalsd::ctl {

// A Bundle (type collection) with one vital-signs Observation per reading in `r`.
nlohmann::json to_fhir(const Records& r);

}  // namespace vitalsd::ctl
