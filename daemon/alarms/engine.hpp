// The alarm engine: one Engine per session. Feed it the session's observations, the monitor's
// connection state, phase changes, ticks and nurse actions; it returns the alert transitions
// (events) to persist and publish. Pure and deterministic: no I/O, no clock reads, no threads,
// no exceptions at run time; time is always an argument. Not thread-safe: one owner calls it.
//
// Alert state machine (docs/alarms.md draws it):
//   raised -> active --acknowledge--> acknowledged --reactivate_after_s, condition present-->
//             active (reactivated, ack_expired)
//             active --pause(N s)---> paused --(N s, condition still present)--> active (unpaused)
//             acknowledged or paused, value worse by worsen_by --> active (reactivated, worsened)
//             active, nobody acknowledged, escalate_after_s[i] since it became active (a pause
//             does not restart the count) --> active + escalated (level i + 1)
//   condition ends: non-latching, or latching but acknowledged -> cleared
//                   latching and not acknowledged             -> latched --reset--> cleared
//   condition returns while latched -> active again (reactivated, same alert id)
//   an open alert of a higher-priority rule on the same parameter and side -> superseded_by it;
//   acknowledging the higher one acknowledges what it supersedes
//   session ends -> every open alert cleared (guarded: see discharge())
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alarms/baseline.hpp"
#include "alarms/protocol.hpp"
#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "core/time.hpp"

namespace vitalsd::alarms {

enum class AlertState : std::uint8_t { active, acknowledged, paused, latched, cleared };
std::string_view to_string(AlertState s);
std::optional<AlertState> alert_state_from_name(std::string_view name);

enum class EventType : std::uint8_t {
  raised,        // -> active
  escalated,     // active, unacknowledged for escalate_after_s -> active (escalated)
  acknowledged,  // -> acknowledged (actor)
  paused,        // -> paused until `until` (actor)
  unpaused,      // pause over, condition still present -> active
  latched,       // condition ended, latching rule, not acknowledged -> latched
  reactivated,   // condition back while latched -> active
  cleared,       // -> cleared (reason: condition_ended, not_in_phase, session_ended, ...)
  reset,         // latched -> cleared (actor)
  superseded,    // superseded_by set (an alert of a higher-priority rule) or cleared again
};
std::string_view to_string(EventType t);

// One alert: what the store keeps in its `alerts` table, and what restore() takes back.
struct Alert {
  std::int64_t id = 0;
  std::string rule;  // rule id
  RuleKind kind = RuleKind::physiological;
  std::optional<core::Parameter> parameter;
  Priority priority = Priority::medium;
  AlertState state = AlertState::active;
  bool escalated = false;         // level > 0
  int level = 0;                  // escalation level reached (0: not escalated)
  bool condition_present = true;  // false only when latched (or cleared)
  std::optional<double> value;    // latest value seen for the alert (raise value at first)
  std::optional<double> limit;    // the limit that was breached (relative rules: computed)
  std::string unit;               // of value and limit: UCUM, "s" for nibp_overdue
  core::Timestamp raised_at{};
  core::Timestamp active_since{};  // escalation clock: raised, unpaused or reactivated at
  std::optional<core::Timestamp> paused_until;
  std::string acknowledged_by;
  std::optional<core::Timestamp> acknowledged_at;
  double paused_s = 0;                        // pause time granted so far (max_paused_total_s)
  std::optional<double> silenced_value;       // value when acknowledged or paused (worsen_by)
  std::optional<std::int64_t> superseded_by;  // an open alert of a higher-priority rule

  bool open() const { return state != AlertState::cleared; }
};

// One alert transition: a journal event. `state` is the alert's state after the transition.
struct Transition {
  EventType type = EventType::raised;
  std::int64_t session = 0;
  std::int64_t alert_id = 0;
  std::string rule;
  RuleKind kind = RuleKind::physiological;
  std::optional<core::Parameter> parameter;
  std::optional<double> value;
  std::optional<double> limit;
  std::string unit;
  Priority priority = Priority::medium;
  AlertState state = AlertState::active;
  bool escalated = false;
  int level = 0;                              // escalation level (escalated: the new level)
  std::optional<std::int64_t> superseded_by;  // announced by that alert instead
  std::string direction;  // physiological: "above" (above/rise rules) or "below"; else ""
  std::string actor;      // who (token name) for acknowledged/paused/reset; empty for the engine
  core::Timestamp at{};
  // cleared/latched: condition_ended | not_in_phase | session_ended | rule_removed;
  // reactivated: ack_expired | worsened | condition_back; acknowledged: superseding_acknowledged
  // (with the alert that supersedes it); raised (sensor_invalid): no_data | questionable |
  // invalid; superseded: superseded | no_longer_superseded
  std::string reason;
  std::optional<core::Timestamp> until;  // paused: until when
};

enum class ActionError : std::uint8_t {
  none,
  unknown_alert,      // no alert with that id in this session (or it is already cleared)
  invalid_state,      // e.g. acknowledge an acknowledged alert, reset an alert that is not latched
  invalid_argument,   // pause seconds <= 0 or above the protocol's max_pause_s, empty actor
  session_ended,      // the session is in phase `ended`
  gate_blocked,       // baseline -> infusing refused: see Gate; pass an override reason
  pause_limit,        // the pause would take the alert past the protocol's max_paused_total_s
  discharge_blocked,  // -> ended refused: see discharge(); pass an override reason
};
std::string_view to_string(ActionError e);

// The outcome of an action or phase change: on error nothing changed and transitions is empty.
struct ActionResult {
  ActionError error = ActionError::none;
  std::string message;  // for the API's error body
  std::vector<Transition> transitions;
  bool ok() const { return error == ActionError::none; }
};

// Everything the engine needs to carry on after a restart; snapshot() gives it, the store
// persists it (sessions row: phase, phase_since, baseline; alerts table: open alerts).
struct Snapshot {
  Phase phase = Phase::baseline;
  core::Timestamp phase_since{};
  Baseline baseline;
  std::vector<Alert> alerts;  // open alerts (active, acknowledged, paused, latched)
  std::optional<core::Timestamp> last_nibp_at;  // last cuff reading (for nibp_overdue)
  core::MonitorState monitor = core::MonitorState::online;
};

// What the chair's monitor can measure and how often it sends: configuration, not an alarm
// (docs/alarms.md, "What a chair measures"). Rules on a parameter the monitor does not have
// (nor a fallback for it) do not apply to the session; not_applicable() lists them.
struct MonitorCapabilities {
  // The parameters the monitor measures; empty = not declared: every parameter.
  std::vector<core::Parameter> parameters;
  // How often a value arrives (poll interval, or an HL7 monitor's declared sending interval),
  // seconds. Integrating delays, missing-value delays and the fallback's staleness scale with it.
  double send_interval_s = 1;

  bool has(core::Parameter p) const;
  // How long a continuous parameter's last valid value stands: two sending intervals, >= 5 s.
  double stale_after_s() const;
};

// A rule that does not apply to a session because its monitor cannot measure what it watches.
struct NotApplicable {
  std::string rule;
  std::optional<core::Parameter> parameter;
  std::string reason;  // "chair-3 does not measure etco2"
};

class Engine {
 public:
  // Returns a new alert id, unique across all sessions (the app keeps one counter, restored
  // from the store as max(alerts.id) + 1). When empty, the engine counts from 1 itself.
  using IdSource = std::function<std::int64_t()>;

  // A new session in phase `baseline`, started at `start`, monitor assumed online.
  Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id,
         core::Timestamp start, MonitorCapabilities monitor = {});

  // Rebuilds a session's engine after a restart. Open alerts keep their ids and states; no
  // alert is raised again for a condition that already has one. Pending condition delays
  // restart from zero. Alerts whose rule is no longer in the protocol are cleared
  // (reason rule_removed) at the next call.
  // Missing-value and comm_lost delays count from the first call after the restore (the
  // monitor is reconnecting), not from before the restart.
  static Engine restore(std::shared_ptr<const Protocol> protocol, std::int64_t session,
                        IdSource next_id, Snapshot snapshot, MonitorCapabilities monitor = {});

  // --- inputs; each first advances time to its `at` (escalations, pause ends, overdue cuffs,
  // comm_lost delays) and returns every transition in order. Time never goes back: an
  // earlier `at` is treated as the latest time seen.

  // One observation of this session (time = o.received_at). Valid values evaluate the rules
  // and, in `baseline`, count toward the baseline; questionable values are ignored; invalid
  // values feed sensor_invalid rules. A repeated NIBP measurement (same measurement_id, else
  // same device_time) is ignored, and so is a cuff measured (device_time) before the last one
  // applied or more than the protocol's nibp_max_age_s ago: it neither raises nor clears nor
  // counts as the last cuff. A rule's fallback parameter (pr for hr) is read while the
  // monitor gives no valid value of the rule's own parameter.
  std::vector<Transition> observe(const core::Observation& o);
  std::vector<Transition> monitor_state(core::MonitorState s, core::Timestamp at);
  std::vector<Transition> tick(core::Timestamp now);

  // Phase change. Allowed: baseline->infusing (subject to the gate), infusing->recovery,
  // recovery->ended, and any phase -> ended. A blocked gate is passed only with a non-empty
  // override_reason (the caller journals it). Rules that do not apply in the new phase end
  // their alerts' conditions; `ended` clears every open alert.
  ActionResult set_phase(Phase to, core::Timestamp at, std::string_view actor = {},
                         std::string_view override_reason = {});

  // -> ended is refused (discharge_blocked) while discharge() has reasons, unless
  // override_reason is given (the caller journals it with the actor).
  // Nurse actions. acknowledge: active or paused -> acknowledged (and every open alert it
  // supersedes). pause: active or paused ->
  // paused for `seconds` (0 < seconds <= protocol max_pause_s). reset: latched -> cleared.
  ActionResult acknowledge(std::int64_t alert_id, std::string_view actor, core::Timestamp at);
  ActionResult pause(std::int64_t alert_id, double seconds, std::string_view actor,
                     core::Timestamp at);
  ActionResult reset(std::int64_t alert_id, std::string_view actor, core::Timestamp at);

  // --- queries
  // Whether baseline -> infusing is blocked now, and why (empty reasons = nothing to say).
  Gate gate() const;
  // Why ending the session at `at` would be refused: each open high-priority alert, and, once
  // the infusion has started, less than the protocol's min_recovery_s in `recovery`.
  std::vector<std::string> discharge(core::Timestamp at) const;
  Phase phase() const { return phase_; }
  const Baseline& baseline() const { return baseline_; }
  const Protocol& protocol() const { return *protocol_; }
  std::int64_t session() const { return session_; }
  const MonitorCapabilities& monitor() const { return caps_; }
  // Rules that do not apply to this session's monitor, with why.
  std::vector<NotApplicable> not_applicable() const;
  const Alert* find(std::int64_t alert_id) const;  // open alerts only
  std::vector<Alert> open_alerts() const;          // by id
  Snapshot snapshot() const;

 private:
  struct Track {  // condition evaluation of one (rule, parameter)
    std::optional<core::Timestamp> pending_since;
    std::uint32_t pending_count = 0;
    double area = 0;                              // integrating delay: unit x s so far
    std::optional<core::Timestamp> last_at;       // integrating delay: previous reading
    std::optional<core::Timestamp> normal_since;  // integrating delay: normal side since
    bool breaching = false;                       // integrating delay: the last reading breached
    std::vector<core::Timestamp> breach_starts;   // safety net: starts of recent breaches
  };
  using Key = std::pair<std::size_t, int>;  // rule index, parameter (-1: none)

  Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id,
         MonitorCapabilities monitor);

  void advance(core::Timestamp at, std::vector<Transition>& out);
  void evaluate_physiological(std::size_t r, const core::Observation& o,
                              std::vector<Transition>& out);
  void clear_from_fallback(std::size_t r, const core::Observation& o, std::vector<Transition>& out);
  bool measurable(const Rule& rule) const;
  bool absent(core::Parameter p) const;  // no valid value within stale_after_s
  bool beyond_limit(const Alert& a) const;
  bool cleared_for_long_enough(const Rule& rule, const Alert& a, bool clear_side);
  double missing_delay(const Rule& rule) const;
  void evaluate_invalid(std::size_t r, const core::Observation& o, bool device_valid,
                        std::vector<Transition>& out);
  bool delay_met(const Rule& rule, Track& track, bool intermittent) const;
  bool integrate(const Rule& rule, Track& track, bool breach, double depth) const;
  void watch_missing(std::size_t r, std::vector<Transition>& out);
  void reactivate(Alert& a, std::string_view reason, std::vector<Transition>& out);
  void escalate(std::vector<Transition>& out);
  std::optional<std::int64_t> superseding(const Alert& a) const;
  void supersede(std::vector<Transition>& out);
  const Rule* rule_of(std::int64_t alert_id) const;
  std::vector<Transition> finish(std::vector<Transition> out);
  std::optional<double> limit_of(const Rule& rule) const;
  void raise(std::size_t r, std::optional<core::Parameter> p, std::optional<double> value,
             std::optional<double> limit, std::string unit, std::vector<Transition>& out,
             std::string_view reason = {});
  void condition_ended(Alert& a, std::optional<double> value, std::string_view reason,
                       std::vector<Transition>& out);
  void condition_back(Alert& a, std::optional<double> value, std::vector<Transition>& out);
  void close(Alert& a, EventType type, std::string_view actor, std::string_view reason,
             std::vector<Transition>& out);
  void reevaluate_applicability(std::vector<Transition>& out);
  std::optional<double> overdue_limit(const Rule& rule) const;
  Alert* open_alert(const Key& key);
  Transition transition(const Alert& a, EventType type, std::string_view actor = {},
                        std::string_view reason = {}) const;
  std::int64_t new_id();
  void forget(const Alert& a);

  std::shared_ptr<const Protocol> protocol_;
  MonitorCapabilities caps_;
  bool restarted_ = false;  // restored: the first call starts the missing-value clocks
  std::int64_t session_ = 0;
  IdSource next_id_;
  std::int64_t own_next_id_ = 1;

  Phase phase_ = Phase::baseline;
  core::Timestamp phase_since_{};
  core::Timestamp now_{};
  Baseline baseline_;
  core::MonitorState monitor_ = core::MonitorState::online;
  core::Timestamp monitor_since_{};
  std::optional<core::Timestamp> last_nibp_at_;    // measurement time of the last cuff applied
  std::map<int, std::uint64_t> last_measurement_;  // parameter -> last NIBP measurement identity
  std::map<int, core::Timestamp> last_valid_;      // parameter -> last valid reading
  std::map<int, core::Validity> last_seen_;        // parameter -> validity of its last reading
  std::vector<core::Timestamp> applies_since_;     // rule -> applies in the phase since
  std::vector<std::size_t> order_;                 // rule indices, higher priority first

  std::map<Key, Track> tracks_;
  std::map<Key, std::int64_t> open_by_key_;
  std::map<std::int64_t, Alert> alerts_;  // open alerts by id
  std::map<std::int64_t, Key> key_of_;
  std::map<std::int64_t, core::Timestamp> clearing_since_;  // alert -> on the clear side since
};

}  // namespace vitalsd::alarms
