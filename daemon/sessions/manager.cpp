#include "sessions/manager.hpp"

#include <algorithm>
#include <cmath>

namespace vitalsd::sessions {
namespace {

Errc from(alarms::ActionError e) {
  switch (e) {
    case alarms::ActionError::none:
      return Errc::none;
    case alarms::ActionError::unknown_alert:
      return Errc::unknown_alert;
    case alarms::ActionError::invalid_state:
      return Errc::invalid_state;
    case alarms::ActionError::invalid_argument:
      return Errc::invalid_argument;
    case alarms::ActionError::session_ended:
      return Errc::session_ended;
    case alarms::ActionError::gate_blocked:
      return Errc::gate_blocked;
    case alarms::ActionError::pause_limit:
      return Errc::pause_limit;
    case alarms::ActionError::discharge_blocked:
      return Errc::discharge_blocked;
  }
  return Errc::invalid_state;
}

Outcome failure(Errc e, std::string message) {
  Outcome o;
  o.error = e;
  o.message = std::move(message);
  return o;
}

void append(std::vector<alarms::Transition>& to, std::vector<alarms::Transition> from,
            std::set<std::int64_t>& touched) {
  for (auto& t : from) {
    touched.insert(t.session);
    to.push_back(std::move(t));
  }
}

}  // namespace

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::none:
      return "ok";
    case Errc::unknown_monitor:
      return "unknown_monitor";
    case Errc::unknown_protocol:
      return "unknown_protocol";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::monitor_busy:
      return "monitor_busy";
    case Errc::unknown_session:
      return "unknown_session";
    case Errc::session_ended:
      return "session_ended";
    case Errc::invalid_phase:
      return "invalid_phase";
    case Errc::gate_blocked:
      return "gate_blocked";
    case Errc::unknown_alert:
      return "unknown_alert";
    case Errc::invalid_state:
      return "invalid_state";
    case Errc::pause_limit:
      return "pause_limit";
    case Errc::discharge_blocked:
      return "discharge_blocked";
  }
  return "error";
}

int http_status(Errc e) {
  switch (e) {
    case Errc::none:
      return 200;
    case Errc::unknown_monitor:
    case Errc::unknown_session:
    case Errc::unknown_alert:
      return 404;
    case Errc::unknown_protocol:
    case Errc::invalid_argument:
      return 400;
    case Errc::monitor_busy:
    case Errc::session_ended:
    case Errc::invalid_phase:
    case Errc::gate_blocked:
    case Errc::invalid_state:
    case Errc::pause_limit:
    case Errc::discharge_blocked:
      return 409;
  }
  return 400;
}

Manager::Manager(Protocols protocols, std::set<std::string> monitors, std::int64_t next_session_id,
                 std::int64_t next_alert_id)
    : protocols_(std::move(protocols)),
      monitors_(std::move(monitors)),
      next_session_id_(next_session_id),
      next_alert_id_(std::make_shared<std::int64_t>(next_alert_id)) {}

void Manager::describe(const std::string& monitor, alarms::MonitorCapabilities capabilities) {
  capabilities_[monitor] = std::move(capabilities);
}

alarms::MonitorCapabilities Manager::capabilities(const std::string& monitor) const {
  auto it = capabilities_.find(monitor);
  return it == capabilities_.end() ? alarms::MonitorCapabilities{} : it->second;
}

bool Manager::track_extremes(Session& session, const core::Observation& o) {
  // Every value the rules see counts, including one the device vouched for that vitalsd's range
  // table calls implausible (HR 0, an asystole the alarms raised for).
  if ((o.validity != core::Validity::valid && !o.implausible) || !std::isfinite(o.value))
    return false;
  auto [it, fresh] = session.extremes.try_emplace(o.parameter);
  auto& e = it->second;
  const auto at =
      o.device_time && core::info(o.parameter).intermittent ? *o.device_time : o.received_at;
  if (fresh) {
    e.min = e.max = o.value;
    e.min_at = e.max_at = at;
    e.unit = o.unit;
    return true;
  }
  bool changed = false;
  if (o.value > e.max) {
    e.max = o.value;
    e.max_at = at;
    changed = true;
  }
  if (o.value < e.min) {
    e.min = o.value;
    e.min_at = at;
    changed = true;
  }
  return changed;
}

void Manager::restore(Session session, alarms::Snapshot snapshot) {
  auto p = protocols_.find(session.protocol);
  if (p == protocols_.end()) return;  // the app checks this before calling; see store/records
  auto counter = next_alert_id_;
  auto engine = alarms::Engine::restore(
      p->second, session.id, [counter] { return (*counter)++; }, std::move(snapshot),
      capabilities(session.monitor));
  const auto id = session.id;
  by_monitor_[session.monitor] = id;
  next_session_id_ = std::max(next_session_id_, id + 1);
  live_.emplace(id, Live{std::move(session), std::move(engine)});
}

std::vector<std::int64_t> Manager::reconfigure(Protocols protocols, std::set<std::string> monitors,
                                               const std::set<std::string>& changed) {
  protocols_ = std::move(protocols);
  monitors_ = std::move(monitors);
  std::vector<std::int64_t> rebuilt;
  for (auto& [id, live] : live_) {
    auto p = protocols_.find(live.session.protocol);
    if (p == protocols_.end() || !changed.count(live.session.protocol)) continue;
    auto counter = next_alert_id_;
    live.engine = alarms::Engine::restore(
        p->second, id, [counter] { return (*counter)++; }, live.engine.snapshot(),
        capabilities(live.session.monitor));
    rebuilt.push_back(id);
  }
  return rebuilt;
}

Outcome Manager::start(const std::string& monitor, const std::string& patient,
                       const std::string& protocol, const std::string& actor, core::Timestamp now) {
  if (!monitors_.count(monitor))
    return failure(Errc::unknown_monitor, "no monitor '" + monitor + "' in the config");
  auto p = protocols_.find(protocol);
  if (p == protocols_.end())
    return failure(Errc::unknown_protocol, "no protocol '" + protocol + "' is loaded");
  if (patient.empty() || patient.size() > 128)
    return failure(Errc::invalid_argument, "patient must be 1-128 characters");
  if (auto busy = by_monitor_.find(monitor); busy != by_monitor_.end())
    return failure(Errc::monitor_busy,
                   "monitor '" + monitor + "' already has session " + std::to_string(busy->second));
  Session s;
  s.id = next_session_id_++;
  s.monitor = monitor;
  s.patient = patient;
  s.protocol = protocol;
  s.phase = alarms::Phase::baseline;
  s.phase_since = now;
  s.started_at = now;
  s.started_by = actor;
  auto counter = next_alert_id_;
  alarms::Engine engine(
      p->second, s.id, [counter] { return (*counter)++; }, now, capabilities(monitor));
  Outcome out;
  out.session = s.id;
  out.change.session_events.push_back({"started", s, actor, now, "", "", {}, std::nullopt});
  out.change.touched.insert(s.id);
  by_monitor_[monitor] = s.id;
  live_.emplace(s.id, Live{std::move(s), std::move(engine)});
  return out;
}

Outcome Manager::set_phase(std::int64_t id, const std::string& phase_name,
                           const std::string& override_reason, const std::string& actor,
                           core::Timestamp now) {
  auto it = live_.find(id);
  if (it == live_.end())
    return failure(Errc::unknown_session, "no active session " + std::to_string(id));
  auto to = alarms::phase_from_name(phase_name);
  if (!to) return failure(Errc::invalid_argument, "unknown phase '" + phase_name + "'");
  if (*to == alarms::Phase::ended) return end(id, actor, now, override_reason);
  auto& live = it->second;
  const auto gate = live.engine.gate();
  auto result = live.engine.set_phase(*to, now, actor, override_reason);
  if (!result.ok()) {
    Outcome o = failure(from(result.error), result.message);
    o.session = id;
    if (result.error == alarms::ActionError::gate_blocked)
      for (const auto& r : gate.reasons) o.reasons.push_back(r.message);
    return o;
  }
  Outcome out;
  out.session = id;
  const std::string from_phase(alarms::to_string(live.session.phase));
  if (gate.blocked && live.session.phase == alarms::Phase::baseline && !override_reason.empty()) {
    SessionEvent ev{"gate_override", live.session,    actor, now,
                    from_phase,      override_reason, {},    std::nullopt};
    for (const auto& r : gate.reasons) ev.gate_reasons.push_back(r.message);
    out.change.session_events.push_back(std::move(ev));
  }
  live.session.phase = *to;
  live.session.phase_since = now;
  out.change.session_events.push_back(
      {"phase", live.session, actor, now, from_phase, "", {}, std::nullopt});
  out.change.touched.insert(id);
  append(out.change.transitions, std::move(result.transitions), out.change.touched);
  return out;
}

Outcome Manager::end(std::int64_t id, const std::string& actor, core::Timestamp now,
                     const std::string& override_reason) {
  auto it = live_.find(id);
  if (it == live_.end())
    return failure(Errc::unknown_session, "no active session " + std::to_string(id));
  auto& live = it->second;
  const auto reasons = live.engine.discharge(now);
  auto result = live.engine.set_phase(alarms::Phase::ended, now, actor, override_reason);
  if (!result.ok()) {
    Outcome o = failure(from(result.error), result.message);
    o.session = id;
    o.reasons = reasons;
    return o;
  }
  Outcome out;
  out.session = id;
  if (!reasons.empty()) {
    SessionEvent ev{"discharge_override",
                    live.session,
                    actor,
                    now,
                    std::string(alarms::to_string(live.session.phase)),
                    override_reason,
                    reasons,
                    std::nullopt};
    out.change.session_events.push_back(std::move(ev));
  }
  finish(live, std::move(result), actor, now, out.change);
  out.change.session_events.back().last_state = live.engine.snapshot();
  by_monitor_.erase(live.session.monitor);
  live_.erase(it);
  return out;
}

void Manager::finish(Live& live, alarms::ActionResult result, const std::string& actor,
                     core::Timestamp now, Change& change) {
  const std::string from_phase(alarms::to_string(live.session.phase));
  append(change.transitions, std::move(result.transitions), change.touched);
  live.session.phase = alarms::Phase::ended;
  live.session.phase_since = now;
  live.session.ended_at = now;
  live.session.ended_by = actor;
  change.session_events.push_back(
      {"ended", live.session, actor, now, from_phase, "", {}, std::nullopt});
  change.touched.insert(live.session.id);
}

Outcome Manager::alert_action(std::int64_t alert, const char* what,
                              const std::function<alarms::ActionResult(alarms::Engine&)>& act) {
  const auto sid = session_of_alert(alert);
  if (!sid)
    return failure(Errc::unknown_alert, "no open alert " + std::to_string(alert) + " to " + what);
  auto& live = live_.at(sid);
  auto result = act(live.engine);
  if (!result.ok()) {
    auto o = failure(from(result.error), result.message);
    o.session = sid;
    o.alert = alert;
    return o;
  }
  Outcome out;
  out.session = sid;
  out.alert = alert;
  append(out.change.transitions, std::move(result.transitions), out.change.touched);
  return out;
}

Outcome Manager::acknowledge(std::int64_t alert, const std::string& actor, core::Timestamp now) {
  return alert_action(alert, "acknowledge",
                      [&](alarms::Engine& e) { return e.acknowledge(alert, actor, now); });
}

Outcome Manager::pause(std::int64_t alert, double seconds, const std::string& actor,
                       core::Timestamp now) {
  return alert_action(alert, "pause",
                      [&](alarms::Engine& e) { return e.pause(alert, seconds, actor, now); });
}

Outcome Manager::reset(std::int64_t alert, const std::string& actor, core::Timestamp now) {
  return alert_action(alert, "reset",
                      [&](alarms::Engine& e) { return e.reset(alert, actor, now); });
}

Change Manager::observe(std::vector<core::Observation>& observations) {
  Change change;
  for (auto& o : observations) {
    auto it = by_monitor_.find(o.monitor);
    if (it == by_monitor_.end()) continue;
    o.session = it->second;
    // Demo and test data are kept in the record with the session, and never reach the rules
    // or the baseline: to the engine the parameter delivered nothing.
    if (core::not_patient_data(o.validity)) continue;
    auto& live = live_.at(it->second);
    const bool in_baseline = live.session.phase == alarms::Phase::baseline;
    if (track_extremes(live.session, o)) change.touched.insert(it->second);
    append(change.transitions, live.engine.observe(o), change.touched);
    // The baseline grows with each reading taken in `baseline`: save it with the session.
    if (in_baseline && o.validity == core::Validity::valid) change.touched.insert(it->second);
  }
  return change;
}

Change Manager::monitor_state(const std::string& monitor, core::MonitorState state,
                              core::Timestamp at) {
  Change change;
  if (auto it = by_monitor_.find(monitor); it != by_monitor_.end())
    append(change.transitions, live_.at(it->second).engine.monitor_state(state, at),
           change.touched);
  return change;
}

Change Manager::tick(core::Timestamp now) {
  Change change;
  for (auto& [id, live] : live_) append(change.transitions, live.engine.tick(now), change.touched);
  return change;
}

const Session* Manager::find(std::int64_t id) const {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : &it->second.session;
}

const Session* Manager::active_on(const std::string& monitor) const {
  auto it = by_monitor_.find(monitor);
  return it == by_monitor_.end() ? nullptr : find(it->second);
}

const alarms::Engine* Manager::engine(std::int64_t id) const {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : &it->second.engine;
}

std::vector<const Session*> Manager::active() const {
  std::vector<const Session*> out;
  for (const auto& [id, live] : live_) out.push_back(&live.session);
  return out;
}

std::int64_t Manager::session_of_alert(std::int64_t alert) const {
  for (const auto& [id, live] : live_)
    if (live.engine.find(alert)) return id;
  return 0;
}

}  // namespace vitalsd::sessions
