// `vitalsctl export --format fhir`: the readings as a FHIR R4 Bundle (type collection) of
// vital-signs Observations: LOINC first, the IEEE 11073 MDC code second, UCUM units, the
// device's time as effectiveDateTime, the patient as the session's opaque reference.
#include "ctl/fhir.hpp"

#include <map>

#include "core/parameter.hpp"
#include "core/time.hpp"

namespace vitalsd::ctl {
namespace {

using nlohmann::json;

struct Loinc {
  const char* code;
  const char* display;
};

std::optional<Loinc> loinc(core::Parameter p) {
  switch (p) {
    case core::Parameter::nibp_sys:
      return Loinc{"8480-6", "Systolic blood pressure"};
    case core::Parameter::nibp_dia:
      return Loinc{"8462-4", "Diastolic blood pressure"};
    case core::Parameter::nibp_mean:
      return Loinc{"8478-0", "Mean blood pressure"};
    case core::Parameter::hr:
      return Loinc{"8867-4", "Heart rate"};
    case core::Parameter::pr:
      return Loinc{"8889-8", "Heart rate by Pulse oximetry"};
    case core::Parameter::spo2:
      return Loinc{"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"};
    case core::Parameter::rr:
      return Loinc{"9279-1", "Respiratory rate"};
    case core::Parameter::etco2:
      return Loinc{"19889-5",
                   "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration"};
    case core::Parameter::temp:
      return Loinc{"8310-5", "Body temperature"};
  }
  return std::nullopt;
}

std::string text(const json& e, const char* key) {
  auto it = e.find(key);
  return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json observation(const json& e, const std::map<std::int64_t, std::string>& patients) {
  const auto p = core::parameter_from_name(text(e, "parameter"));
  if (!p) return json();
  // A monitor in demo mode or a test message never measured this patient: it stays in the
  // journal and the CSV/JSON exports, and never reaches an EHR as a vital sign.
  const auto kind = text(e, "validity");
  if (kind == "demo" || kind == "test") return json();
  const auto& info = core::info(*p);
  json codings = json::array();
  if (auto l = loinc(*p))
    codings.push_back({{"system", "http://loinc.org"}, {"code", l->code}, {"display", l->display}});
  codings.push_back({{"system", "urn:iso:std:iso:11073:10101"},
                     {"code", std::to_string(info.mdc_code)},
                     {"display", std::string(info.mdc_refid)}});
  const auto id = e.value("id", std::int64_t{0});
  json o{{"resourceType", "Observation"},
         {"id", "vitalsd-obs-" + std::to_string(id)},
         {"identifier", {{{"system", "urn:vitalsd:observation"}, {"value", std::to_string(id)}}}},
         {"status", "final"},
         {"category",
          {{{"coding",
             {{{"system", "http://terminology.hl7.org/CodeSystem/observation-category"},
               {"code", "vital-signs"},
               {"display", "Vital Signs"}}}}}}},
         {"code", {{"coding", codings}, {"text", std::string(info.name)}}}};
  if (e.contains("session") && e["session"].is_number_integer())
    if (auto it = patients.find(e["session"].get<std::int64_t>()); it != patients.end())
      o["subject"] = {{"identifier", {{"system", "urn:vitalsd:patient"}, {"value", it->second}}}};
  const auto device_time = text(e, "device_time");
  o["effectiveDateTime"] = device_time.empty() ? text(e, "received_at") : device_time;
  o["issued"] = text(e, "received_at");
  o["device"] = {{"display", text(e, "monitor")}};
  const auto validity = text(e, "validity");
  if (validity != "invalid" && e.contains("value") && e["value"].is_number()) {
    const std::string unit(info.ucum);
    o["valueQuantity"] = {{"value", e["value"]},
                          {"unit", text(e, "unit").empty() ? unit : text(e, "unit")},
                          {"system", "http://unitsofmeasure.org"},
                          {"code", unit}};
    if (validity == "questionable")
      o["note"] = {{{"text", "the monitor flagged this value as questionable"}}};
  } else {
    o["dataAbsentReason"] = {
        {"coding",
         {{{"system", "http://terminology.hl7.org/CodeSystem/data-absent-reason"},
           {"code", "error"},
           {"display", "Error"}}}}};
    o["note"] = {{{"text", "the monitor gave no valid value (" + validity + ")"}}};
  }
  return o;
}

}  // namespace

json to_fhir(const Records& r) {
  std::map<std::int64_t, std::string> patients;
  for (const auto& s : r.sessions)
    if (s.contains("id") && s["id"].is_number_integer())
      patients[s["id"].get<std::int64_t>()] = text(s, "patient");
  json entries = json::array();
  for (const auto& e : r.events)
    if (text(e, "type") == "observation")
      if (auto o = observation(e, patients); !o.is_null()) entries.push_back({{"resource", o}});
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return {{"resourceType", "Bundle"},
          {"type", "collection"},
          {"timestamp", core::format_iso8601(now)},
          {"entry", entries}};
}

}  // namespace vitalsd::ctl
