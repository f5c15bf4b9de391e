// Alarm protocols: the rules a session is watched with, as data (config/protocols/*.toml).
// Pure: no I/O, no clock. The settings module reads the file and hands over the parsed
// toml::table; parse_protocol() turns it into a Protocol or reports every problem with
// file:line:column. The file format is described in docs/alarms.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "core/diagnostic.hpp"
#include "core/parameter.hpp"

namespace vitalsd::alarms {

// Session phase. A session moves baseline -> infusing -> recovery -> ended (or to ended from
// any phase when it is aborted).
enum class Phase : std::uint8_t { baseline, infusing, recovery, ended };
inline constexpr int kPhaseCount = 4;
std::string_view to_string(Phase p);
std::optional<Phase> phase_from_name(std::string_view name);

enum class Priority : std::uint8_t { high, medium, low };
std::string_view to_string(Priority p);
std::optional<Priority> priority_from_name(std::string_view name);

// What a rule watches. Physiological rules watch one parameter's values; technical rules watch
// the monitoring itself. storage_failed and feed_undelivered are reserved names: the app raises
// them through its own code paths; a protocol may not yet define them.
enum class RuleKind : std::uint8_t {
  physiological,
  comm_lost,         // the monitor is not online (offline or error) for delay_s
  nibp_overdue,      // no new cuff measurement within the phase's interval + grace
  sensor_invalid,    // a parameter delivers only invalid values for the delay
  storage_failed,    // reserved
  feed_undelivered,  // reserved
};
std::string_view to_string(RuleKind k);
std::optional<RuleKind> rule_kind_from_name(std::string_view name);  // not "physiological"

// The condition of a physiological rule. `above`/`below` compare with an absolute limit;
// the rise/fall kinds compare with the session baseline of the rule's parameter:
//   rise_by:         value >= baseline + amount          fall_by:         value <= baseline -
//   amount rise_by_percent: value >= baseline * (1 + amount/100) fall_by_percent: value <= baseline
//   * (1 - amount/100)
// `above` breaches at value > limit, `below` at value < limit (strict: "SBP > 180").
enum class ConditionKind : std::uint8_t {
  above,
  below,
  rise_by,
  fall_by,
  rise_by_percent,
  fall_by_percent
};
std::string_view to_string(ConditionKind k);

struct Condition {
  ConditionKind kind = ConditionKind::above;
  double amount = 0;  // the limit (above/below) or the change (mm[Hg], /min, % ...)
  bool upward() const {
    return kind == ConditionKind::above || kind == ConditionKind::rise_by ||
           kind == ConditionKind::rise_by_percent;
  }
  bool relative() const { return kind != ConditionKind::above && kind != ConditionKind::below; }
};

// The most time one reading of an integrating delay stands for is twice the monitor's sending
// interval, and at least this: a longer gap is missing data (sensor_invalid), not a long breach.
inline constexpr double kMaxIntegrationStepS = 5;

// What worsen_by is when a physiological rule does not say, per parameter, in its unit: a
// deeper or further breach of an acknowledged or paused alert is news (docs/alarms.md).
double default_worsen_by(core::Parameter p);

struct Rule {
  std::string id;    // "sbp-severe-high": unique in the protocol; the alert's `rule`
  std::string name;  // human text for the dashboard; defaults to the id
  RuleKind kind = RuleKind::physiological;
  // physiological: required. sensor_invalid: optional (absent = every parameter, one alert per
  // parameter). Other technical rules: absent.
  std::optional<core::Parameter> parameter;
  Condition condition;  // physiological only

  // Condition delay: the condition must hold for delay_s seconds (time from the first breaching
  // reading to a breaching reading) or for delay_readings consecutive valid readings before the
  // alert is raised. Intermittent parameters (NIBP) only count readings: one cuff measurement is
  // one reading. 0 s / 1 reading = raise on the first breaching reading.
  double delay_s = 0;
  std::uint32_t delay_readings = 1;
  bool delay_in_readings = false;  // true when delay_readings was written (or NIBP)

  // Integrating delay (continuous parameters, instead of delay_s): each breaching reading adds
  // how far the value is past the limit times the seconds since the previous reading of the
  // parameter (at most kMaxIntegrationStepS, the first reading of a run counts 1 s); the alert
  // is raised once the sum reaches delay_area (unit x s, e.g. SpO2 "saturation seconds").
  // Readings on the normal side do not reset the sum: it resets only once the value has stayed
  // on the normal side for reset_after_s.
  std::optional<double> delay_area;
  double reset_after_s = 0;

  // Clear hysteresis, in the parameter's unit: an `above`-like alert clears once a valid
  // reading is at or below limit - clear_hysteresis, a `below`-like one at or above
  // limit + clear_hysteresis.
  double clear_hysteresis = 0;
  // And the value must have stayed there this long (every reading short of it starts the
  // count again): a value flapping across the limit keeps its one alert instead of a new alert
  // per dip. 0 = the first reading there ends the condition.
  double clear_after_s = 0;

  Priority priority = Priority::medium;
  bool applies[kPhaseCount] = {false, false, false, false};  // indexed by Phase
  bool latching = false;
  // Escalation levels: active and unacknowledged this long (seconds since the alert became
  // active: raised or reactivated; a pause does not restart it) -> escalated to level i + 1.
  // Increasing; empty = never.
  std::vector<double> escalate_after_s;
  // Reminder: an acknowledged alert whose condition is still present this long after the
  // acknowledgement is active again (reactivated, reason ack_expired).
  std::optional<double> reactivate_after_s;
  // An acknowledged or paused alert whose value moves this far (parameter's unit) further past
  // the limit than the value when it was silenced is active again at once (reason worsened).
  // Default for physiological rules: default_worsen_by(parameter).
  std::optional<double> worsen_by;
  // Another parameter that stands in for `parameter` while the monitor gives no valid value
  // of it (HR rules: the pulse oximeter's pulse rate). The alert then names the stand-in as
  // its parameter. Default: pr for rules on hr; `fallback = "none"` turns it off.
  std::optional<core::Parameter> fallback;
  // Integrating delays only (Nellcor SatSeconds' safety net): this many separate breaches
  // (runs of breaching readings) starting within safety_net_s raise the alert even before
  // the sum reaches delay_area. 0 = off.
  std::uint32_t safety_net_breaches = 0;
  double safety_net_s = 0;
  // Whether an open alert of this rule during `baseline` blocks the move to `infusing`.
  bool blocks_start = true;

  // nibp_overdue: the expected cuff interval per phase (absent = not checked in that phase)
  // and the grace added to it.
  std::optional<double> interval_s[kPhaseCount];
  double grace_s = 0;

  core::SourcePos where;  // the [[rules]] table, for messages

  bool applies_in(Phase p) const { return applies[static_cast<int>(p)]; }
  // "above" for above/rise rules, "below" for below/fall rules, "" for technical rules.
  std::string_view direction() const {
    if (kind != RuleKind::physiological) return "";
    return condition.upward() ? "above" : "below";
  }
};

// What the baseline is and what the phase gate does with it.
enum class GateMode : std::uint8_t {
  block,  // baseline -> infusing is refused (409) unless a nurse gives an override reason
  warn,   // reasons are reported, the move is allowed
  off,    // no gate
};
std::string_view to_string(GateMode g);

struct BaselineSpec {
  // Parameters whose baseline is computed (and must be complete for the gate).
  std::vector<core::Parameter> parameters;
  // Baseline value = median of the last `readings` valid readings taken in `baseline`.
  std::uint32_t readings = 3;
  GateMode gate = GateMode::block;
  // Pre-dose check: a complete baseline value above its limit here is a gate reason
  // (baseline_high), e.g. { nibp_sys = 140, nibp_dia = 90 }. Each parameter is in `parameters`.
  std::map<core::Parameter, double> above;
};

struct Protocol {
  std::string name;  // "ketamine-iv"
  std::string description;
  std::string file;          // where it was loaded from (for messages)
  std::string sha256;        // hex SHA-256 of the file's bytes as loaded (set by the loader)
  double max_pause_s = 300;  // the longest pause a nurse may set on one alert
  // The longest total paused time of one alert (all its pauses); past it a pause is refused.
  std::optional<double> max_paused_total_s;
  // Ending a session that has started infusing before this long in `recovery` is refused
  // unless the nurse gives an override reason (the discharge guard).
  std::optional<double> min_recovery_s;
  // A cuff measurement (by the monitor's own time stamp) older than this when it arrives is
  // stored but neither raises nor clears an alert nor counts as the last cuff.
  double nibp_max_age_s = 300;
  BaselineSpec baseline;
  std::vector<Rule> rules;

  const Rule* find_rule(std::string_view id) const;
};

// Parses a protocol from an already-read TOML table. `file` is used only in diagnostics.
// Appends one Diagnostic per problem found (unknown keys, wrong types, unknown parameter,
// phase or priority, missing priority, negative delays, inverted limits, ...) and returns
// nullopt when there was any; never throws.
std::optional<Protocol> parse_protocol(const toml::table& table, const std::string& file,
                                       core::Diagnostics& out);

}  // namespace vitalsd::alarms
