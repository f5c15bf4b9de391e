// PCD-01 ORU^R01 → Observations: the pure part of the HL7 driver (no sockets, no clock).
// PCD-04 ORU^R40 (the monitor's own alarms) is routed the same way and decoded by
// drivers/hl7/alarm.hpp.
//
// One parsed message is checked (message type, processing id), routed to monitors by source
// (MSH-3.1, else PV1-3, else per OBX OBX-18.1), and each OBX with a parameter code becomes one
// core::Observation: value from OBX-5, unit from OBX-6 (checked and converted to the
// parameter's UCUM unit), device time from OBX-14 else OBR-7, validity from OBX-11 and the
// measurement status in OBX-8. What cannot be used is listed as hl7::AckError for the ACK.
// Rules and tables: docs/hl7-monitors.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/observation.hpp"
#include "core/parameter.hpp"
#include "core/time.hpp"
#include "drivers/driver.hpp"
#include "hl7/ack.hpp"
#include "hl7/message.hpp"

namespace vitalsd::drivers::hl7 {

// OBX-3 code → parameter: the MDC codes the driver knows (150021/150022/150023 and the cuff
// codes 150301/150302/150303 → NIBP, 147842 HR, 149530/149546 PR, 150456 SpO2, and every other
// code of core/parameter.hpp), then `vendor` codes from [hl7] codes, which win over MDC.
class CodeMap {
 public:
  CodeMap() = default;
  // Throws std::invalid_argument when a vendor code names no parameter.
  explicit CodeMap(const std::map<std::string, std::string>& vendor);
  std::optional<core::Parameter> find(std::string_view code) const;

 private:
  std::map<std::string, core::Parameter, std::less<>> vendor_;
};

// A unit as written in OBX-6 (code^text^coding system) converted to the parameter's UCUM unit.
// nullopt when the unit is not one the parameter can be expressed in.
struct UnitConversion {
  double scale = 1;
  double offset = 0;  // value * scale + offset
  double apply(double v) const { return v * scale + offset; }
};
std::optional<UnitConversion> unit_conversion(core::Parameter p, std::string_view code,
                                              std::string_view text);

// HL7 NM: optional sign, digits, optional decimal point and digits; surrounding spaces
// allowed. No exponents, no inf/nan.
std::optional<double> parse_number(std::string_view text);

// OBX-11 result status and OBX-8 measurement status → validity; nullopt means "do not store"
// (D: delete, I: pending/no result yet).
std::optional<core::Validity> validity(std::string_view obx11, std::string_view obx8_field,
                                       char repetition);

// NIBP identity: device time in ms shifted left 20 bits, plus 20 bits of a hash of the value,
// so the same cuff measurement re-sent is the same id and two measurements never share one.
std::uint64_t nibp_measurement_id(core::Timestamp device_time, double value);

struct Routed {
  std::size_t monitor = 0;  // index returned by the source lookup
  core::Observation observation;
};

struct Unmapped {
  std::size_t monitor = 0;  // index returned by the source lookup
  std::string code;         // OBX-3.1 (else OBX-3.4)
  std::string name;         // OBX-3.2 (else OBX-3.5)
};

struct RoutedAlarm {
  std::size_t monitor = 0;  // index returned by the source lookup
  MonitorAlarm alarm;
};

struct Conversion {
  // AA when errors is empty, else AE (AR when `reject`).
  bool reject = false;
  std::vector<vitalsd::hl7::AckError> errors;
  std::vector<Routed> observations;
  // Monitors (lookup indices) the message was routed to, even when it carried no observation:
  // each counts as having heard from its device.
  std::vector<std::size_t> heard;
  // Numeric OBX with a value whose code maps to no parameter (once per monitor and code in
  // this message): not stored, and reported so that they are journaled, never silently lost.
  std::vector<Unmapped> unmapped;
  // ORU^R40: the monitor's own alarms (drivers/hl7/alarm.hpp), in message order.
  std::vector<RoutedAlarm> alarms;
};

// Source lookup: the index of the monitor whose `source` is `s`, or nullopt.
using SourceLookup = std::function<std::optional<std::size_t>(std::string_view)>;

Conversion convert(const vitalsd::hl7::Message& m, const SourceLookup& lookup, const CodeMap& codes,
                   core::Timestamp received_at);

}  // namespace vitalsd::drivers::hl7
