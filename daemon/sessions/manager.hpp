// Sessions: which infusion owns a monitor's readings, its phase, its baseline, and its alarm
// engine. Pure like the alarm core: no I/O and no clock reads (time is an argument). Every call
// returns a Change — what to persist, then publish — and the caller (the app) journals it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alarms/engine.hpp"
#include "alarms/protocol.hpp"
#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "core/time.hpp"

namespace vitalsd::sessions {

// The highest and lowest valid value of one parameter in a session (its peak and trough), with
// when each was seen. Kept with the session after it ends.
struct Extreme {
  double min = 0, max = 0;
  core::Timestamp min_at{}, max_at{};
  std::string unit;
};

struct Session {
  std::int64_t id = 0;
  std::string monitor;
  std::string patient;   // opaque reference; never interpreted
  std::string protocol;  // protocol name
  alarms::Phase phase = alarms::Phase::baseline;
  core::Timestamp phase_since{};
  core::Timestamp started_at{};
  std::string started_by;
  std::optional<core::Timestamp> ended_at;
  std::string ended_by;
  // Peak and trough per parameter over the whole session (what the rules saw: valid readings
  // and device-valid implausible ones such as HR 0; never questionable, invalid, demo or test).
  std::map<core::Parameter, Extreme> extremes;
};

// A session transition, journaled as "session.<type>".
struct SessionEvent {
  std::string type;  // started | phase | ended | gate_override | discharge_override
  Session session;   // after the transition
  std::string actor;
  core::Timestamp at{};
  std::string from_phase;                 // phase: the phase left
  std::string override_reason;            // gate_override, discharge_override: the nurse's reason
  std::vector<std::string> gate_reasons;  // what the override overrode
  // ended: the engine's last state (its baseline above all), which the session row keeps
  // after the engine is gone.
  std::optional<alarms::Snapshot> last_state;
};

struct Change {
  std::vector<SessionEvent> session_events;
  std::vector<alarms::Transition> transitions;  // alert transitions, in order
  std::set<std::int64_t> touched;               // sessions whose row/state must be saved
  bool empty() const { return session_events.empty() && transitions.empty() && touched.empty(); }
};

enum class Errc {
  none,
  unknown_monitor,    // 404
  unknown_protocol,   // 400
  invalid_argument,   // 400
  monitor_busy,       // 409: the monitor already has an active session
  unknown_session,    // 404
  session_ended,      // 409
  invalid_phase,      // 409: not a legal phase change
  gate_blocked,       // 409: baseline -> infusing blocked; give an override reason
  unknown_alert,      // 404
  invalid_state,      // 409
  pause_limit,        // 409: the alert's total pause time would pass max_paused_total_s
  discharge_blocked,  // 409: ending refused (high alert open, recovery too short); override
};

struct Outcome {
  Errc error = Errc::none;
  std::string message;
  std::vector<std::string> reasons;  // gate_blocked, discharge_blocked: why
  Change change;
  std::int64_t session = 0;  // the session concerned
  std::int64_t alert = 0;    // the alert concerned
  bool ok() const { return error == Errc::none; }
};

class Manager {
 public:
  using Protocols = std::map<std::string, std::shared_ptr<const alarms::Protocol>>;
  const Protocols& protocols() const { return protocols_; }

  Manager(Protocols protocols, std::set<std::string> monitors, std::int64_t next_session_id,
          std::int64_t next_alert_id);

  // What a monitor measures and how often it sends (from its config). A session started on it
  // (or restored, or rebuilt on reload) gets an engine with these; undescribed: every parameter.
  void describe(const std::string& monitor, alarms::MonitorCapabilities capabilities);
  alarms::MonitorCapabilities capabilities(const std::string& monitor) const;

  // Counts one observation into the session's peaks and troughs (every value the rules see:
  // valid readings and device-valid implausible ones such as HR 0; never questionable, invalid,
  // demo or test values; an NIBP cuff seen again changes nothing). True when it changed them.
  static bool track_extremes(Session& session, const core::Observation& o);

  // Restart: an active session with the engine state it had (see store/records.hpp).
  void restore(Session session, alarms::Snapshot snapshot);

  // Reload: the protocols and monitors of the new config. A running session whose protocol is
  // in `changed` gets an engine on the new rules, rebuilt from its snapshot (open alerts keep
  // their ids and states; its pending condition delays restart); every other session keeps
  // its engine untouched. A session whose protocol or monitor is gone stays open on what it
  // had. Returns the ids of the sessions whose engine was rebuilt.
  std::vector<std::int64_t> reconfigure(Protocols protocols, std::set<std::string> monitors,
                                        const std::set<std::string>& changed);

  Outcome start(const std::string& monitor, const std::string& patient, const std::string& protocol,
                const std::string& actor, core::Timestamp now);
  Outcome set_phase(std::int64_t session, const std::string& phase,
                    const std::string& override_reason, const std::string& actor,
                    core::Timestamp now);
  // Refused (discharge_blocked) while the engine's discharge() has reasons, unless
  // override_reason is given: then a discharge_override event precedes `ended`.
  Outcome end(std::int64_t session, const std::string& actor, core::Timestamp now,
              const std::string& override_reason = {});
  Outcome acknowledge(std::int64_t alert, const std::string& actor, core::Timestamp now);
  Outcome pause(std::int64_t alert, double seconds, const std::string& actor, core::Timestamp now);
  Outcome reset(std::int64_t alert, const std::string& actor, core::Timestamp now);

  // Assigns each observation to its monitor's active session and runs the session's rules.
  Change observe(std::vector<core::Observation>& observations);
  Change monitor_state(const std::string& monitor, core::MonitorState state, core::Timestamp at);
  Change tick(core::Timestamp now);

  const Session* find(std::int64_t session) const;
  const Session* active_on(const std::string& monitor) const;
  const alarms::Engine* engine(std::int64_t session) const;
  std::vector<const Session*> active() const;
  // The session that owns an open alert, or 0.
  std::int64_t session_of_alert(std::int64_t alert) const;

 private:
  struct Live {
    Session session;
    alarms::Engine engine;
  };
  Outcome alert_action(std::int64_t alert, const char* what,
                       const std::function<alarms::ActionResult(alarms::Engine&)>& act);
  void finish(Live& live, alarms::ActionResult result, const std::string& actor,
              core::Timestamp now, Change& change);

  Protocols protocols_;
  std::set<std::string> monitors_;
  std::int64_t next_session_id_;
  std::shared_ptr<std::int64_t> next_alert_id_;
  std::map<std::int64_t, Live> live_;               // active sessions by id
  std::map<std::string, std::int64_t> by_monitor_;  // monitor -> active session
  std::map<std::string, alarms::MonitorCapabilities> capabilities_;
};

std::string_view to_string(Errc e);
// The HTTP status the API answers for an error.
int http_status(Errc e);

}  // namespace vitalsd::sessions
