#include "drivers/hl7/convert.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/text.hpp"
#include "drivers/hl7/alarm.hpp"
#include "hl7/dtm.hpp"
#include "hl7/msh.hpp"

namespace vitalsd::drivers::hl7 {
namespace h = vitalsd::hl7;
namespace {

using core::Parameter;

// MDC codes beyond core/parameter.hpp's one code per parameter.
struct Alias {
  std::uint32_t code;
  Parameter parameter;
};
constexpr std::array kAliases{
    Alias{150301, Parameter::nibp_sys},   // MDC_PRESS_CUFF_SYS
    Alias{150302, Parameter::nibp_dia},   // MDC_PRESS_CUFF_DIA
    Alias{150303, Parameter::nibp_mean},  // MDC_PRESS_CUFF_MEAN
    Alias{149546, Parameter::pr},         // MDC_PULS_RATE_NON_INV
    // Respiratory rate by method: transthoracic impedance, capnography.
    Alias{151578, Parameter::rr},  // MDC_TTHOR_RESP_RATE
    Alias{151594, Parameter::rr},  // MDC_CO2_RESP_RATE
    // Body temperature at another site is the same parameter (`temp`, Cel).
    Alias{188420, Parameter::temp},  // MDC_TEMP_RECT
    Alias{188424, Parameter::temp},  // MDC_TEMP_ORAL
    Alias{188428, Parameter::temp},  // MDC_TEMP_EAR
    Alias{188452, Parameter::temp},  // MDC_TEMP_AXILLA
    Alias{188496, Parameter::temp},  // MDC_TEMP_AXIL, as Mindray monitors send it
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::uint32_t> parse_code(std::string_view s) {
  std::uint32_t v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end || s.empty()) return std::nullopt;
  return v;
}

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A unit spelling (an OBX-6 component) and what it means for a family of parameters.
enum class Dim { pressure, rate, percent, temperature };
struct UnitName {
  std::string_view name;  // MDC code, MDC reference id or UCUM (or a common spelling)
  Dim dim;
  UnitConversion to_canonical;
};
constexpr double kKpaToMmhg = 7.500615758;  // 1 kPa = 7.500615758 mm[Hg]
constexpr std::array kUnits{
    UnitName{"266016", Dim::pressure, {}},
    UnitName{"MDC_DIM_MMHG", Dim::pressure, {}},
    UnitName{"mm[Hg]", Dim::pressure, {}},
    UnitName{"mmHg", Dim::pressure, {}},
    UnitName{"MDC_DIM_KILO_PASCAL", Dim::pressure, {kKpaToMmhg, 0}},
    UnitName{"MDC_DIM_KILO_PAC", Dim::pressure, {kKpaToMmhg, 0}},
    UnitName{"kPa", Dim::pressure, {kKpaToMmhg, 0}},
    UnitName{"264864", Dim::rate, {}},
    UnitName{"MDC_DIM_BEAT_PER_MIN", Dim::rate, {}},
    UnitName{"/min", Dim::rate, {}},
    UnitName{"{beat}/min", Dim::rate, {}},
    UnitName{"{beats}/min", Dim::rate, {}},
    UnitName{"1/min", Dim::rate, {}},
    UnitName{"bpm", Dim::rate, {}},
    UnitName{"264928", Dim::rate, {}},
    UnitName{"MDC_DIM_RESP_PER_MIN", Dim::rate, {}},
    UnitName{"{breaths}/min", Dim::rate, {}},
    UnitName{"{breath}/min", Dim::rate, {}},
    UnitName{"262688", Dim::percent, {}},
    UnitName{"MDC_DIM_PERCENT", Dim::percent, {}},
    UnitName{"%", Dim::percent, {}},
    UnitName{"268192", Dim::temperature, {}},
    UnitName{"MDC_DIM_DEGC", Dim::temperature, {}},
    UnitName{"Cel", Dim::temperature, {}},
    UnitName{"MDC_DIM_FAHR", Dim::temperature, {5.0 / 9.0, -32.0 * 5.0 / 9.0}},
    UnitName{"[degF]", Dim::temperature, {5.0 / 9.0, -32.0 * 5.0 / 9.0}},
};

Dim dimension(Parameter p) {
  switch (p) {
    case Parameter::nibp_sys:
    case Parameter::nibp_dia:
    case Parameter::nibp_mean:
    case Parameter::etco2:
      return Dim::pressure;
    case Parameter::hr:
    case Parameter::pr:
    case Parameter::rr:
      return Dim::rate;
    case Parameter::spo2:
      return Dim::percent;
    case Parameter::temp:
      return Dim::temperature;
  }
  return Dim::rate;
}

const UnitName* find_unit(std::string_view s) {
  for (const auto& u : kUnits)
    if (u.name == s) return &u;
  return nullptr;
}

h::AckError obx_error(std::size_t seq, std::size_t field, int code, std::string text) {
  return {"OBX", seq, field, code, std::move(text)};
}

// Quotes a value for an error text, cut to a readable length.
std::string quoted(std::string_view v) {
  std::string s(core::utf8_prefix(v, 40));
  if (v.size() > 40) s += "...";
  return "'" + s + "'";
}

}  // namespace

CodeMap::CodeMap(const std::map<std::string, std::string>& vendor) {
  for (const auto& [code, name] : vendor) {
    auto p = core::parameter_from_name(name);
    if (!p) throw std::invalid_argument("hl7.codes." + code + ": unknown parameter '" + name + "'");
    vendor_.emplace(code, *p);
  }
}

std::optional<Parameter> CodeMap::find(std::string_view code) const {
  code = trim(code);
  if (code.empty()) return std::nullopt;
  if (auto it = vendor_.find(code); it != vendor_.end()) return it->second;
  auto n = parse_code(code);
  if (!n) return std::nullopt;
  for (const auto& a : kAliases)
    if (a.code == *n) return a.parameter;
  return core::parameter_from_mdc(*n);
}

std::optional<UnitConversion> unit_conversion(Parameter p, std::string_view code,
                                              std::string_view text) {
  code = trim(code);
  text = trim(text);
  if (code.empty() && text.empty()) return UnitConversion{};  // unit not sent: the canonical one
  const auto& info = core::info(p);
  const auto own_code = std::to_string(info.mdc_unit_code);
  for (auto s : {code, text})
    if (!s.empty() && (s == own_code || s == info.mdc_unit_refid || s == info.ucum))
      return UnitConversion{};
  const UnitName* u = find_unit(code);
  if (!u) u = find_unit(text);
  if (!u || u->dim != dimension(p)) return std::nullopt;
  return u->to_canonical;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::size_t digits = 0;
  const std::size_t start = i;
  bool dot = false;
  for (; i < text.size(); ++i) {
    if (text[i] >= '0' && text[i] <= '9')
      ++digits;
    else if (text[i] == '.' && !dot)
      dot = true;
    else
      return std::nullopt;
  }
  if (digits == 0 || digits > 30) return std::nullopt;
  double v = 0;
  const auto body = text.substr(start);
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc{} || p != body.data() + body.size() || !std::isfinite(v)) return std::nullopt;
  return negative ? -v : v;
}

std::optional<core::Validity> validity(std::string_view obx11, std::string_view obx8,
                                       char repetition) {
  using core::Validity;
  Validity v = Validity::valid;
  obx11 = trim(obx11);
  if (obx11.size() == 1) {
    switch (obx11[0]) {
      case 'F':  // final
      case 'C':  // correction
      case 'R':  // results entered, not verified: what monitors send
      case 'A':  // amended (v2.6)
        break;
      case 'P':  // preliminary
      case 'S':  // partial
      case 'U':  // changed to final without retransmitting: status only
        v = Validity::questionable;
        break;
      case 'X':  // results cannot be obtained
      case 'W':  // post original as wrong
      case 'N':  // not asked
        v = Validity::invalid;
        break;
      case 'D':  // delete the result
      case 'I':  // pending
        return std::nullopt;
      default:
        v = Validity::questionable;
    }
  } else if (!obx11.empty()) {
    v = Validity::questionable;
  }
  // IHE PCD measurement status (OBX-8 repetitions after the abnormal flag). Demo and test
  // data win over everything: they are not the patient's values at all.
  std::optional<Validity> not_patient;
  std::size_t pos = 0;
  while (pos <= obx8.size()) {
    auto end = obx8.find(repetition, pos);
    if (end == std::string_view::npos) end = obx8.size();
    const auto flag = trim(obx8.substr(pos, end - pos));
    pos = end + 1;
    if (iequals(flag, "demo-data") || iequals(flag, "demo"))  // "DEMO": Mindray in demo mode
      not_patient = Validity::demo;
    else if ((iequals(flag, "test-data") || iequals(flag, "test")) && !not_patient)
      not_patient = Validity::test;
    else if (iequals(flag, "invalid") || iequals(flag, "not-available") ||
             iequals(flag, "msmt-state-not-avail"))
      v = Validity::invalid;
    else if (v == Validity::valid &&
             (iequals(flag, "questionable") || iequals(flag, "calibration-ongoing") ||
              iequals(flag, "early-indication")))
      v = Validity::questionable;
  }
  return not_patient ? *not_patient : v;
}

std::uint64_t nibp_measurement_id(core::Timestamp device_time, double value) {
  const auto ms = static_cast<std::uint64_t>(device_time.time_since_epoch().count());
  std::uint64_t bits = 0;
  const double rounded = std::round(value * 1000) / 1000;
  std::memcpy(&bits, &rounded, sizeof bits);
  // 2^42 ms reach beyond year 2100; << 20 stays below 2^62, a positive SQLite INTEGER.
  return ((ms & ((std::uint64_t{1} << 42) - 1)) << 20) | (mix(bits) & 0xFFFFF);
}

Conversion convert(const h::Message& m, const SourceLookup& lookup, const CodeMap& codes,
                   core::Timestamp received_at) {
  Conversion out;
  const auto type = h::message_type(m);
  const bool alarms = type.code == "ORU" && type.trigger == "R40";
  if (type.code != "ORU" || (type.trigger != "R01" && !alarms)) {
    out.reject = true;
    out.errors.push_back({"MSH", 1, 9, h::err::unsupported_message_type,
                          "only ORU^R01 (IHE PCD-01) and ORU^R40 (IHE PCD-04) are accepted, not " +
                              std::string(type.code) + "^" + std::string(type.trigger)});
    return out;
  }
  // MSH-11: P production; T training and D debugging are stored as `test` data (never
  // alarmed on); anything else is refused.
  const auto pid = h::processing_id(m);
  const bool test_message = pid == "T" || pid == "D";
  if (!pid.empty() && pid != "P" && !test_message) {
    out.reject = true;
    out.errors.push_back({"MSH", 1, 11, h::err::unsupported_processing_id,
                          "processing id " + std::string(pid) +
                              ": only production (P), training (T) and debugging (D) messages "
                              "are accepted"});
    return out;
  }

  // Routing: MSH-3.1, else PV1-3 (whole, or any one component), else OBX-18.1 per OBX.
  std::optional<std::size_t> target = lookup(m.msh().get(3, 1, 1));
  std::string tried = std::string(m.msh().get(3, 1, 1));
  if (!target) {
    if (auto pv1 = m.find("PV1")) {
      target = lookup(pv1->value(3));
      for (std::size_t c = 1; !target && c <= pv1->component_count(3) && c <= 16; ++c)
        if (auto part = pv1->value(3, 1, c); !part.empty()) target = lookup(part);
    }
  }
  if (target) out.heard.push_back(*target);

  if (alarms) {
    // The monitor's own alarms: routed by MSH-3 / PV1-3, else by the alarm OBX's OBX-18.1.
    auto d = decode_alarms(m, codes, received_at, test_message);
    out.errors = std::move(d.errors);
    std::size_t unrouted_alarms = 0;
    for (std::size_t i = 0; i < d.alarms.size(); ++i) {
      auto dest = target;
      if (!dest && !d.equipment[i].empty()) {
        dest = lookup(d.equipment[i]);
        if (dest && std::find(out.heard.begin(), out.heard.end(), *dest) == out.heard.end())
          out.heard.push_back(*dest);
      }
      if (!dest) {
        ++unrouted_alarms;
        continue;
      }
      out.alarms.push_back({*dest, std::move(d.alarms[i])});
    }
    if (out.heard.empty())
      out.errors.push_back({"MSH", 1, 3, h::err::unknown_key,
                            "no monitor has source '" + tried +
                                "' (MSH-3.1), nor PV1-3 or OBX-18.1 of this message"});
    else if (unrouted_alarms)
      out.errors.push_back({"OBX", 0, 18, h::err::unknown_key,
                            std::to_string(unrouted_alarms) +
                                " alarm(s) without a configured source in OBX-18.1 were not "
                                "stored"});
    return out;
  }

  const char rep = m.encoding().repetition;
  std::optional<core::Timestamp> obr_time;
  std::size_t obx_seq = 0;
  std::size_t unrouted = 0;  // the first OBX with a value that no monitor took
  for (const h::Segment seg : m) {
    const auto name = seg.name();
    if (name == "OBR") {
      obr_time = h::parse_dtm(seg.get(7));
      continue;
    }
    if (name != "OBX") continue;
    ++obx_seq;
    std::optional<std::size_t> dest = target;
    if (!dest) {
      const auto equipment = seg.value(18, 1, 1);
      if (!equipment.empty()) {
        dest = lookup(equipment);
        if (dest && std::find(out.heard.begin(), out.heard.end(), *dest) == out.heard.end())
          out.heard.push_back(*dest);
      }
    }
    // Which parameter: OBX-3.1, else the alternate identifier OBX-3.4.
    auto param = codes.find(seg.value(3, 1, 1));
    if (!param) param = codes.find(seg.value(3, 1, 4));
    if (!param) {
      // Containment rows and text rows carry no number; a numeric value under a code we do
      // not track is reported (journaled once per monitor and code), not silently dropped.
      const bool alt = trim(seg.get(3, 1, 1)).empty();
      const std::string code(trim(seg.value(3, 1, alt ? 4 : 1)));
      if (dest && seg.get(2) == "NM" && !trim(seg.get(5)).empty() && !code.empty()) {
        const bool seen = std::any_of(out.unmapped.begin(), out.unmapped.end(), [&](const auto& u) {
          return u.monitor == *dest && u.code == code;
        });
        if (!seen)
          out.unmapped.push_back(
              {*dest, std::string(core::utf8_prefix(code, 64)),
               std::string(core::utf8_prefix(trim(seg.value(3, 1, alt ? 5 : 2)), 64))});
      }
      continue;
    }
    const auto raw_value = seg.value(5);
    if (trim(raw_value).empty()) continue;  // no value: nothing measured
    if (!dest) {
      if (!unrouted) unrouted = obx_seq;
      continue;
    }
    const auto value = parse_number(raw_value);
    if (!value) {
      out.errors.push_back(obx_error(obx_seq, 5, h::err::data_type,
                                     "OBX " + std::to_string(obx_seq) + " (" +
                                         std::string(core::to_string(*param)) + "): OBX-5 " +
                                         quoted(raw_value) + " is not a number"));
      continue;
    }
    const auto unit = unit_conversion(*param, seg.value(6, 1, 1), seg.value(6, 1, 2));
    if (!unit) {
      out.errors.push_back(
          obx_error(obx_seq, 6, h::err::table_value_not_found,
                    "OBX " + std::to_string(obx_seq) + " (" + std::string(core::to_string(*param)) +
                        "): unit " + quoted(seg.field(6)) + " is not " +
                        std::string(core::info(*param).ucum) + " or convertible to it"));
      continue;
    }
    const auto valid = validity(seg.get(11), seg.field(8), rep);
    if (!valid) continue;  // D (delete) or I (pending): no result to store
    core::Observation o;
    o.parameter = *param;
    o.value = unit->apply(*value);
    o.unit = std::string(core::info(*param).ucum);
    o.received_at = received_at;
    o.validity = test_message && !core::not_patient_data(*valid) ? core::Validity::test : *valid;
    const auto obx14 = seg.get(14);
    o.device_time = obx14.empty() ? obr_time : h::parse_dtm(obx14);
    if (!o.device_time && !obx14.empty()) o.device_time = obr_time;
    if (core::info(*param).intermittent && o.device_time)
      o.measurement_id = nibp_measurement_id(*o.device_time, o.value);
    out.observations.push_back({*dest, std::move(o)});
  }
  if (out.heard.empty()) {
    out.errors.push_back(
        {"MSH", 1, 3, h::err::unknown_key,
         "no monitor has source '" + tried + "' (MSH-3.1), nor PV1-3 or OBX-18.1 of this message"});
  } else if (unrouted) {
    out.errors.push_back({"OBX", unrouted, 18, h::err::unknown_key,
                          "OBX " + std::to_string(unrouted) +
                              " and any later ones without a configured source in OBX-18.1 "
                              "were not stored"});
  }
  return out;
}

}  // namespace vitalsd::drivers::hl7
