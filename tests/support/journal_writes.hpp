// Writing sessions, alerts and readings into a real journal the way the daemon's pipeline does
// (app/pipeline.cpp): the readings first, then the session and alert events with their rows.
// Shared by the store tests and the audit benchmark (no GoogleTest here).
#pragma once

#include <string>
#include <vector>

#include "sessions/manager.hpp"
#include "store/journal.hpp"
#include "store/records.hpp"

namespace vitalsd::test {

inline core::Observation reading(const std::string& monitor, core::Parameter p, double v,
                                 core::Timestamp at, std::uint64_t cuff = 0) {
  core::Observation o;
  o.monitor = monitor;
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = at;
  if (cuff) {
    o.device_time = at;
    o.measurement_id = cuff;
  }
  return o;
}

inline void persist(store::Journal& j, sessions::Manager& m, const sessions::Change& c,
                    store::Durability durability = store::Durability::urgent) {
  for (const auto& e : c.session_events) {
    alarms::Snapshot snap;
    if (const auto* engine = m.engine(e.session.id))
      snap = engine->snapshot();
    else if (e.last_state)  // ended: what the engine knew, its baseline above all
      snap = *e.last_state;
    else
      snap.phase = e.session.phase;
    j.record(store::session_event(e), durability, store::save_session(e.session, snap));
  }
  for (const auto& t : c.transitions) {
    const auto* engine = m.engine(t.session);
    std::string monitor;
    if (const auto* s = m.find(t.session)) monitor = s->monitor;
    for (const auto& e : c.session_events)
      if (e.session.id == t.session) monitor = e.session.monitor;
    j.record(store::alert_event(t, monitor), durability,
             store::save_alert(t, engine ? engine->find(t.alert_id) : nullptr, monitor));
  }
  for (auto id : c.touched)
    if (const auto* s = m.find(id)) j.write(store::save_session(*s, m.engine(id)->snapshot()));
}

// The readings are journaled first, then what they caused.
inline sessions::Change observe(store::Journal& j, sessions::Manager& m,
                                std::vector<core::Observation> obs,
                                store::Durability durability = store::Durability::urgent) {
  auto change = m.observe(obs);
  j.record(std::move(obs));
  persist(j, m, change, durability);
  return change;
}

}  // namespace vitalsd::test
