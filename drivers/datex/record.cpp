#include "drivers/datex/record.hpp"

#include <limits>

namespace vitalsd::drivers::datex {
namespace {

std::uint16_t u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::int16_t i16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::int16_t>(u16(b, at));
}
std::uint32_t u32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8 |
         static_cast<std::uint32_t>(b[at + 2]) << 16 | static_cast<std::uint32_t>(b[at + 3]) << 24;
}
void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x & 0xff);
  v[at + 1] = static_cast<std::uint8_t>(x >> 8);
}

// Offsets in a dri_phdb subrecord: the 4-byte time, then basic_phdb. In basic_phdb each group
// starts with its 6-byte header (status dword, label word): ecg at 0 (hr, st1..3, imp_rr),
// four invasive pressures at 16, nibp at 72 (sys, dia, mean, hr), four temperatures at 86,
// SpO2 at 118 (SpO2, pr, ir_amp, SvO2), CO2 at 132 (et, fi, rr, amb_press).
constexpr std::size_t kTime = 0;
constexpr std::size_t kBasic = 4;
constexpr std::size_t kEcg = kBasic + 0;
constexpr std::size_t kNibp = kBasic + 72;
constexpr std::size_t kSpo2 = kBasic + 118;
constexpr std::size_t kCo2 = kBasic + 132;
constexpr std::size_t kClassWord = kBasic + kClassBytes + 2;  // after marker and reserved

Group group(std::span<const std::uint8_t> s, std::size_t at) {
  return {u32(s, at), u16(s, at + 4)};
}

}  // namespace

std::vector<std::uint8_t> displayed_values_request(std::uint8_t dri_level,
                                                   std::int16_t interval_s) {
  std::vector<std::uint8_t> r(kHeaderBytes + kRequestBytes, 0);
  put16(r, 0, static_cast<std::uint16_t>(r.size()));  // r_len
  r[3] = dri_level;
  put16(r, 14, static_cast<std::uint16_t>(kMainTypePhdb));
  // sr_desc[0]: the request at offset 0; sr_desc[1]: end of list.
  put16(r, 16, 0);
  r[18] = kSubtypeRequest;
  r[21] = kEndOfSubrecords;
  // dri_phdb_req: phdb_rcrd_type, tx_ival (s), phdb_class_bf (0: basic only), reserved.
  r[kHeaderBytes] = kSubtypeDisplayed;
  put16(r, kHeaderBytes + 1, static_cast<std::uint16_t>(interval_s));
  return r;
}

std::string_view to_string(RecordError e) {
  switch (e) {
    case RecordError::none:
      return "none";
    case RecordError::too_short:
      return "record shorter than its header or its r_len";
    case RecordError::not_phdb:
      return "not a physiological data record";
    case RecordError::bad_subrecord:
      return "subrecord outside the record";
    case RecordError::no_displayed:
      return "no basic displayed-values subrecord";
  }
  return "unknown";
}

std::string_view marker_name(std::int16_t raw) {
  switch (raw) {
    case -32767:
      return "data invalid";
    case -32766:
      return "data not updated";
    case -32765:
      return "data discontinuity (calibration)";
    case -32764:
      return "under range";
    case -32763:
      return "over range";
    case -32762:
      return "not calibrated";
    default:
      return raw < kInvalidLimit ? "invalid (marker)" : "a value";
  }
}

std::optional<Header> parse_header(std::span<const std::uint8_t> r) {
  if (r.size() < kHeaderBytes) return std::nullopt;
  Header h;
  h.r_len = i16(r, 0);
  h.r_nbr = r[2];
  h.dri_level = r[3];
  h.plug_id = u16(r, 4);
  h.r_time = u32(r, 6);
  h.r_maintype = i16(r, 14);
  for (std::size_t i = 0; i < kSubrecordCount; ++i) {
    h.sr[i].offset = i16(r, 16 + 3 * i);
    h.sr[i].type = r[18 + 3 * i];
  }
  return h;
}

RecordError parse_displayed(std::span<const std::uint8_t> r, Header& h, Displayed& out) {
  const auto parsed = parse_header(r);
  if (!parsed) return RecordError::too_short;
  h = *parsed;
  if (h.r_len < static_cast<std::int16_t>(kHeaderBytes) ||
      static_cast<std::size_t>(h.r_len) > r.size())
    return RecordError::too_short;
  if (h.r_maintype != kMainTypePhdb) return RecordError::not_phdb;
  const auto data = r.subspan(kHeaderBytes, static_cast<std::size_t>(h.r_len) - kHeaderBytes);
  for (const auto& sr : h.sr) {
    if (sr.type == kEndOfSubrecords) break;
    if (sr.type != kSubtypeDisplayed) continue;
    if (sr.offset < 0 || static_cast<std::size_t>(sr.offset) + kPhdbBytes > data.size())
      return RecordError::bad_subrecord;
    const auto s = data.subspan(static_cast<std::size_t>(sr.offset), kPhdbBytes);
    // cl_drilvl_subt: the class in bits 8-11.
    if (((u16(s, kClassWord) >> 8) & 0x0F) != kClassBasic) continue;
    out = Displayed{};
    out.time = u32(s, kTime);
    out.ecg = group(s, kEcg);
    out.hr = i16(s, kEcg + 6);
    out.nibp = group(s, kNibp);
    out.nibp_sys = i16(s, kNibp + 6);
    out.nibp_dia = i16(s, kNibp + 8);
    out.nibp_mean = i16(s, kNibp + 10);
    out.spo2_group = group(s, kSpo2);
    out.spo2 = i16(s, kSpo2 + 6);
    out.pr = i16(s, kSpo2 + 8);
    out.co2 = group(s, kCo2);
    out.et_co2 = i16(s, kCo2 + 6);
    out.co2_rr = i16(s, kCo2 + 10);
    out.amb_press = i16(s, kCo2 + 12);
    return RecordError::none;
  }
  return RecordError::no_displayed;
}

std::vector<core::Observation> observations(const Displayed& d, const std::string& monitor,
                                            core::Timestamp received_at,
                                            std::optional<std::uint64_t> nibp_id) {
  std::vector<core::Observation> out;
  auto add = [&](core::Parameter p, std::optional<double> v) {
    core::Observation o;
    o.monitor = monitor;
    o.parameter = p;
    o.unit = std::string(core::info(p).ucum);
    o.received_at = received_at;
    if (v) {
      o.value = *v;
    } else {
      o.value = std::numeric_limits<double>::quiet_NaN();
      o.validity = core::Validity::invalid;
    }
    out.push_back(std::move(o));
    return &out.back();
  };
  if (d.ecg.present()) add(core::Parameter::hr, value(d.hr, 1));
  if (d.spo2_group.present()) {
    add(core::Parameter::spo2, value(d.spo2, 0.01));
    add(core::Parameter::pr, value(d.pr, 1));
  }
  if (d.co2.present()) {
    add(core::Parameter::rr, value(d.co2_rr, 1));
    // EtCO2 in mm[Hg]: the end-tidal fraction (1/100 %) of the ambient pressure (1/10 mmHg).
    const auto et = value(d.et_co2, 0.01);
    const auto amb = value(d.amb_press, 0.1);
    std::optional<double> mmhg;
    if (et && amb && *amb > 0) mmhg = *et / 100 * *amb;
    add(core::Parameter::etco2, mmhg);
  }
  if (d.nibp.present() && nibp_id) {
    for (auto [p, raw] : {std::pair{core::Parameter::nibp_sys, d.nibp_sys},
                          {core::Parameter::nibp_dia, d.nibp_dia},
                          {core::Parameter::nibp_mean, d.nibp_mean}}) {
      add(p, value(raw, 0.01))->measurement_id = nibp_id;
    }
  }
  return out;
}

}  // namespace vitalsd::drivers::datex
