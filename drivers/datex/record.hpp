// Datex-Ohmeda S/5 records, pure (no I/O, no clock): the 40-byte little-endian header, the
// displayed-values request, and the basic physiological subrecord of a displayed-values record
// (the Datex-Ohmeda S/5 Computer Interface Specification's dri_phdb; layouts as in the open
// implementations VSCapture and monitor_serial/datex.h, docs/datex-s5.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/observation.hpp"

namespace vitalsd::drivers::datex {

inline constexpr std::size_t kHeaderBytes = 40;
inline constexpr std::size_t kSubrecordCount = 8;  // sr_desc entries in the header
inline constexpr std::uint8_t kEndOfSubrecords = 0xFF;
inline constexpr std::int16_t kMainTypePhdb = 0;      // DRI_MT_PHDB
inline constexpr std::uint8_t kSubtypeRequest = 0;    // a transmission request subrecord
inline constexpr std::uint8_t kSubtypeDisplayed = 1;  // DRI_PH_DISPL
inline constexpr std::size_t kRequestBytes = 9;       // dri_phdb_req
inline constexpr std::size_t kPhdbBytes = 278;        // dri_phdb: time, 270 bytes, trailer
inline constexpr std::size_t kClassBytes = 270;       // basic_phdb (and ext1..3)
inline constexpr std::uint32_t kClassBasic = 0;       // DRI_PHDBCL_BASIC
// Values below this are markers, not measurements (DATA_INVALID_LIMIT).
inline constexpr std::int16_t kInvalidLimit = -32001;

// DRI levels the driver asks at until the monitor answers one (newest first): a monitor
// answers only a request at its own level. 2019, 2015, 2009, 2005, 2003, 2001, 2000, 99, 98, 97.
inline constexpr std::uint8_t kDriLevels[] = {12, 11, 10, 9, 8, 7, 6, 5, 4, 3};

// The 49-byte request: displayed values (DRI_PH_DISPL) of the basic class every
// `interval_s` seconds (0 stops the transmission), at `dri_level`.
std::vector<std::uint8_t> displayed_values_request(std::uint8_t dri_level, std::int16_t interval_s);

struct Header {
  std::int16_t r_len = 0;
  std::uint8_t r_nbr = 0;
  std::uint8_t dri_level = 0;
  std::uint16_t plug_id = 0;
  std::uint32_t r_time = 0;
  std::int16_t r_maintype = 0;
  struct Subrecord {
    std::int16_t offset = 0;  // from the end of the header
    std::uint8_t type = kEndOfSubrecords;
  };
  Subrecord sr[kSubrecordCount];
};

// One group of the basic class: its status word and its values as sent (raw, scaled ints).
struct Group {
  std::uint32_t status = 0;  // bit 0: exists, bit 1: active
  std::uint16_t label = 0;
  bool present() const { return (status & 0x3) == 0x3; }
};

struct Displayed {
  std::uint32_t time = 0;  // the subrecord's time stamp, Unix seconds (monitor clock)
  Group ecg;
  std::int16_t hr = 0;  // /min
  Group nibp;
  std::int16_t nibp_sys = 0, nibp_dia = 0, nibp_mean = 0;  // 1/100 mmHg
  Group spo2_group;
  std::int16_t spo2 = 0, pr = 0;  // 1/100 %, /min
  Group co2;
  std::int16_t et_co2 = 0;     // 1/100 % (fraction of the gas)
  std::int16_t co2_rr = 0;     // /min
  std::int16_t amb_press = 0;  // 1/10 mmHg
};

enum class RecordError : std::uint8_t {
  none,
  too_short,      // shorter than a header, or than its r_len
  not_phdb,       // another main type (waveforms, alarms): not for this driver
  bad_subrecord,  // an offset outside the record
  no_displayed,   // a PHDB record without a basic displayed-values subrecord
};
std::string_view to_string(RecordError e);

std::optional<Header> parse_header(std::span<const std::uint8_t> record);
// The basic displayed values of a record (the first basic DRI_PH_DISPL subrecord).
RecordError parse_displayed(std::span<const std::uint8_t> record, Header& header, Displayed& out);

// A value: empty when it is a marker (below kInvalidLimit).
inline std::optional<double> value(std::int16_t raw, double scale) {
  if (raw < kInvalidLimit) return std::nullopt;
  return raw * scale;
}
// The marker's meaning (-32767 "invalid", -32766 "not updated", ...), for logs and docs.
std::string_view marker_name(std::int16_t raw);

// Observations of one record: HR (ECG), PR and SpO2, RR and EtCO2 (mm[Hg], from the CO2
// fraction and the ambient pressure), and NIBP when `nibp_id` is set (the driver decides when a
// cuff measurement is new). A group that does not exist or is not active gives nothing; a marker
// gives an invalid observation without a value.
std::vector<core::Observation> observations(const Displayed& d, const std::string& monitor,
                                            core::Timestamp received_at,
                                            std::optional<std::uint64_t> nibp_id);

}  // namespace vitalsd::drivers::datex
