// The session baseline: what "normal" is for this patient today, from the valid readings taken
// in the `baseline` phase. Rule: per parameter, the median of the last N (BaselineSpec::readings,
// 3 in ketamine-iv) valid readings; one NIBP cuff measurement is one reading however often it is
// polled. A parameter's baseline is complete once it has N readings; baseline-relative rules
// (rise_by, fall_by, ...) use only complete baselines. The baseline freezes when the session
// leaves `baseline`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alarms/protocol.hpp"
#include "core/observation.hpp"

namespace vitalsd::alarms {

struct BaselineValue {
  std::vector<double> readings;                   // the last N valid readings, oldest first
  std::string unit;                               // UCUM
  std::optional<std::uint64_t> last_measurement;  // NIBP: id of the last counted cuff reading
  double value() const;                           // median of `readings` (0 when empty)
};

class Baseline {
 public:
  // Counts one observation taken in `baseline`: only valid readings of the spec's parameters;
  // an NIBP measurement already counted (same measurement_id, else same device_time) is
  // ignored. Returns true when it was counted.
  bool add(const core::Observation& o, const BaselineSpec& spec);

  // The baseline value of `p`, if `p` has a complete baseline (at least spec.readings readings).
  std::optional<double> value(core::Parameter p, const BaselineSpec& spec) const;
  // Number of readings held for `p` (at most spec.readings).
  std::uint32_t count(core::Parameter p) const;
  bool complete(const BaselineSpec& spec) const;

  // Everything, for persisting and restoring (the store keeps this per session).
  const std::map<core::Parameter, BaselineValue>& values() const { return values_; }
  std::map<core::Parameter, BaselineValue>& values() { return values_; }

 private:
  std::map<core::Parameter, BaselineValue> values_;
};

// The same rule as a function of the readings, for code that has them in a list (e.g. from
// the database): `readings` are the session's observations taken in `baseline`, oldest first.
Baseline compute_baseline(std::span<const core::Observation> readings, const BaselineSpec& spec);

// Why baseline -> infusing is blocked (or, with gate = "warn", would be).
struct GateReason {
  // baseline_high: a complete baseline value above [baseline] above (the pre-dose check).
  enum class Kind : std::uint8_t { baseline_incomplete, breach, baseline_high };
  Kind kind = Kind::baseline_incomplete;
  std::optional<core::Parameter> parameter;
  std::int64_t alert_id = 0;  // breach: the open alert
  std::string rule;           // breach: its rule id
  std::string message;        // "nibp_sys: 1 of 3 baseline readings", "alert 12 (sbp-...) open"
};

struct Gate {
  bool blocked = false;  // true: the API answers 409 unless the nurse gives an override reason
  std::vector<GateReason> reasons;
};

}  // namespace vitalsd::alarms
