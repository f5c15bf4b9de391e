// Observation: one value of one parameter from one monitor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/parameter.hpp"
#include "core/time.hpp"

namespace vitalsd::core {

enum class Validity : std::uint8_t {
  valid,         // a measured value the device vouches for
  questionable,  // the device flagged it (artifact, calibration) but gave a number
  invalid,       // no usable value: sentinel, out of physiological range, sensor off
  // Not a patient's value at all: stored for the record, never seen by alarms or baselines.
  demo,  // the monitor is in demo mode (HL7 OBX-8 DEMO / demo-data): simulated values
  test,  // test or training data (HL7 MSH-11 processing id T or D, OBX-8 test-data)
};
// demo or test: data that must never drive an alarm or a baseline.
inline bool not_patient_data(Validity v) {
  return v == Validity::demo || v == Validity::test;
}

std::string_view to_string(Validity v);
std::optional<Validity> validity_from_name(std::string_view name);

struct Observation {
  std::string monitor;  // monitor id, "chair-1"
  Parameter parameter{};
  double value{};                        // in `unit`
  std::string unit;                      // UCUM
  std::optional<Timestamp> device_time;  // the device's own time stamp, if it gives one
  Timestamp received_at{};               // when vitalsd received it (UTC)
  Validity validity{Validity::valid};
  // Identity of an intermittent (NIBP) measurement, e.g. the cuff cycle counter or its time
  // stamp: the same measurement polled again carries the same id and is stored once.
  std::optional<std::uint64_t> measurement_id;
  std::optional<std::int64_t> session;  // set by the sessions module, not by drivers
  // Set by invalidate_if_implausible when the device marked the value valid and vitalsd's own
  // range table made it invalid: the alarm rules still see the value (HR 0 is asystole).
  bool implausible = false;
};

// Marks the observation invalid when its value is not finite or outside the parameter's
// physiological range (a finite value the device marked valid is flagged `implausible`).
// Returns true when it changed the validity.
bool invalidate_if_implausible(Observation& o);

}  // namespace vitalsd::core
