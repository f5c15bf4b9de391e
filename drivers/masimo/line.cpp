#include "drivers/masimo/line.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace vitalsd::drivers::masimo {
namespace {

using core::Parameter;
using core::Validity;

// Keys and display ranges: Rad-8 and Radical-7 operator's manuals (specifications) and the
// serial-output examples in docs/masimo.md. PR's range is the device's, 25-240 /min.
constexpr std::array<FieldSpec, 10> kFields{{
    {"SPO2", Parameter::spo2, 1, 100, "functional oxygen saturation"},
    {"BPM", Parameter::pr, 25, 240, "pulse rate"},
    {"PI", std::nullopt, 0, 20, "perfusion index"},
    {"PVI", std::nullopt, 0, 100, "pleth variability index"},
    {"SPCO", std::nullopt, 0, 99, "carboxyhemoglobin saturation"},
    {"SPMET", std::nullopt, 0, 99.9, "methemoglobin saturation"},
    {"SPHB", std::nullopt, 0, 25, "total hemoglobin"},
    {"SPOC", std::nullopt, 0, 35, "oxygen content"},
    {"DESAT", std::nullopt, 0, 99, "desaturation index"},
    {"PIDELTA", std::nullopt, -99, 99, "perfusion index delta"},
}};

// EXC bits: Masimo Radical-7 serial output (MD PnP's poxrad_discrete.h lists all 24), the low
// twelve as in the Rad-8 / Rad-57 operator's manuals' trend format. Not in the table (0x200,
// 0x800000: reserved) and bits above 24 are ignored.
constexpr std::array<ExceptionBit, 22> kExceptionBits{{
    {0x000001, "no sensor", Validity::invalid},
    {0x000002, "defective sensor", Validity::invalid},
    {0x000004, "low perfusion", Validity::questionable},
    {0x000008, "pulse search", Validity::invalid},
    {0x000010, "interference", Validity::questionable},
    {0x000020, "sensor off patient", Validity::invalid},
    {0x000040, "ambient light", Validity::questionable},
    {0x000080, "unrecognized sensor", Validity::invalid},
    {0x000100, "incompatible sensor", Validity::invalid},
    {0x000400, "low signal IQ", Validity::questionable},
    {0x000800, "Masimo SET", Validity::valid},
    {0x001000, "no cable connected", Validity::invalid},
    {0x002000, "cable life expired", Validity::invalid},
    {0x004000, "incompatible cable", Validity::invalid},
    {0x008000, "unrecognized cable", Validity::invalid},
    {0x010000, "defective cable", Validity::invalid},
    {0x020000, "sensor calibrating", Validity::invalid},
    {0x040000, "sensor life expired", Validity::invalid},
    {0x080000, "emitter temperature out of range", Validity::invalid},
    {0x100000, "sensor current limit exceeded", Validity::invalid},
    {0x200000, "SpCO low confidence", Validity::valid},
    {0x400000, "SpMET low confidence", Validity::valid},
}};

char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

int rank(Validity v) {
  return v == Validity::invalid ? 2 : v == Validity::questionable ? 1 : 0;
}

// A number as the device prints it: "098", "03.60", "-02", "+05". Dashes ("---", "--.-",
// "+--"): no value. Anything else: no value either.
std::optional<double> number(std::string_view t) {
  if (t.empty()) return std::nullopt;
  if (t.front() == '+') t.remove_prefix(1);
  if (t.empty() || t.find_first_not_of("0123456789.-") != std::string_view::npos)
    return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Hex digits up to an optional ":names" suffix (the trend format's "EXC=820:OffPat,SET").
std::optional<std::uint32_t> hex(std::string_view t) {
  t = t.substr(0, t.find(':'));
  if (t.empty() || t.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 16);
  if (ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
  return v;
}

bool space(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

std::span<const FieldSpec> fields() {
  return kFields;
}

const FieldSpec* find_field(std::string_view key) {
  for (const auto& f : kFields)
    if (iequals(f.key, key)) return &f;
  return nullptr;
}

std::span<const ExceptionBit> exception_bits() {
  return kExceptionBits;
}

Validity exception_validity(std::uint32_t exc) {
  Validity worst = Validity::valid;
  for (const auto& b : kExceptionBits)
    if ((exc & b.mask) != 0 && rank(b.effect) > rank(worst)) worst = b.effect;
  return worst;
}

std::string exception_names(std::uint32_t exc) {
  std::string out;
  for (const auto& b : kExceptionBits)
    if ((exc & b.mask) != 0) out += (out.empty() ? "" : ", ") + std::string(b.name);
  return out;
}

std::string_view to_string(LineError e) {
  switch (e) {
    case LineError::none:
      return "none";
    case LineError::no_known_field:
      return "no known field";
    case LineError::duplicate_field:
      return "a field twice (two lines run together)";
  }
  return "unknown";
}

LineError parse_line(std::string_view text, Line& out) {
  out = Line{};
  bool known = false, seen_exc = false, seen_alarm = false;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    std::size_t j = i;
    while (j < text.size() && !space(text[j])) ++j;
    const auto token = text.substr(i, j - i);
    i = j;
    const auto eq = token.find('=');
    if (eq == std::string_view::npos) continue;  // the date and time, or noise
    const auto key = token.substr(0, eq);
    auto value = token.substr(eq + 1);
    if (!value.empty() && value.back() == '%') value.remove_suffix(1);
    if (iequals(key, "EXC")) {
      if (seen_exc) return LineError::duplicate_field;
      seen_exc = known = true;
      out.exceptions = hex(value);
      out.exceptions_unreadable = !out.exceptions;
      continue;
    }
    if (iequals(key, "ALARM")) {
      if (seen_alarm) return LineError::duplicate_field;
      seen_alarm = known = true;
      out.alarms = hex(value);
      continue;
    }
    const auto* f = find_field(key);
    if (!f) continue;  // SN and fields of other firmware
    for (const auto& r : out.readings)
      if (r.field == f) return LineError::duplicate_field;
    known = true;
    Reading r{f, number(value), value};
    if (r.value && (*r.value < f->min || *r.value > f->max)) r.value.reset();
    out.readings.push_back(r);
  }
  return known ? LineError::none : LineError::no_known_field;
}

Decoded decode(const Line& line, const std::string& monitor, core::Timestamp received_at) {
  Decoded d;
  Validity status = Validity::valid;
  if (line.exceptions)
    status = exception_validity(*line.exceptions);
  else if (line.exceptions_unreadable)
    status = Validity::questionable;
  for (const auto& r : line.readings) {
    if (!r.field->parameter) {
      if (r.value) d.unmapped.push_back({std::string(r.field->key), std::string(r.field->name)});
      continue;
    }
    core::Observation o;
    o.monitor = monitor;
    o.parameter = *r.field->parameter;
    o.unit = std::string(core::info(o.parameter).ucum);
    o.received_at = received_at;
    if (r.value) {
      o.value = *r.value;
      o.validity = status;
    } else {
      o.value = std::numeric_limits<double>::quiet_NaN();
      o.validity = Validity::invalid;
    }
    d.observations.push_back(std::move(o));
  }
  return d;
}

}  // namespace vitalsd::drivers::masimo
