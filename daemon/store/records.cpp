#include "store/records.hpp"

#include "core/json_text.hpp"

#include <algorithm>

namespace vitalsd::store {
namespace {

using nlohmann::json;

json ts(const std::optional<core::Timestamp>& t) {
  return t ? json(core::format_iso8601(*t)) : json();
}
std::optional<core::Timestamp> ts_from(const json& j) {
  if (!j.is_string()) return std::nullopt;
  return core::parse_iso8601(j.get<std::string>());
}
json opt(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

std::optional<std::string> run(Stmt& s, Db& db, const char* what) {
  s.step();
  if (!s.ok()) return std::string(what) + ": " + db.error_message();
  return std::nullopt;
}

json state_json(const alarms::Snapshot& snap) {
  return {{"phase", alarms::to_string(snap.phase)},
          {"phase_since", core::format_iso8601(snap.phase_since)},
          {"last_nibp_at", ts(snap.last_nibp_at)},
          {"monitor", core::to_string(snap.monitor)},
          {"baseline_readings", [&] {
             json b = json::object();
             for (const auto& [p, v] : snap.baseline.values()) {
               json e{{"readings", v.readings}, {"unit", v.unit}};
               if (v.last_measurement) e["last_measurement"] = *v.last_measurement;
               b[std::string(core::to_string(p))] = e;
             }
             return b;
           }()}};
}

}  // namespace

json baseline_json(const alarms::Baseline& b) {
  json out = json::object();
  for (const auto& [p, v] : b.values())
    if (!v.readings.empty())
      out[std::string(core::to_string(p))] = {
          {"value", v.value()}, {"unit", v.unit}, {"readings", v.readings.size()}};
  return out;
}

json baseline_from_events(const std::vector<json>& events) {
  std::vector<core::Observation> readings;
  std::string phase = "baseline";
  alarms::BaselineSpec spec;
  auto text = [](const json& e, const char* key) {
    auto it = e.find(key);
    return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (const auto& e : events) {
    if (!e.is_object()) continue;
    const auto type = text(e, "type");
    if (type.rfind("session.", 0) == 0) phase = text(e, "phase");
    if (type != "observation" || phase != "baseline" || text(e, "validity") != "valid" ||
        !e.contains("value") || !e["value"].is_number())
      continue;
    auto p = core::parameter_from_name(text(e, "parameter"));
    if (!p) continue;
    core::Observation o;
    o.monitor = text(e, "monitor");
    o.parameter = *p;
    o.value = e["value"].get<double>();
    o.unit = text(e, "unit");
    if (auto t = core::parse_iso8601(text(e, "received_at"))) o.received_at = *t;
    o.device_time = core::parse_iso8601(text(e, "device_time"));
    if (e.contains("measurement_id") && e["measurement_id"].is_number_unsigned())
      o.measurement_id = e["measurement_id"].get<std::uint64_t>();
    if (std::find(spec.parameters.begin(), spec.parameters.end(), *p) == spec.parameters.end())
      spec.parameters.push_back(*p);
    readings.push_back(std::move(o));
  }
  return baseline_json(alarms::compute_baseline(readings, spec));
}

json extremes_json(const std::map<core::Parameter, sessions::Extreme>& extremes) {
  json out = json::object();
  for (const auto& [p, e] : extremes)
    out[std::string(core::to_string(p))] = {{"max", e.max},
                                            {"max_at", core::format_iso8601(e.max_at)},
                                            {"min", e.min},
                                            {"min_at", core::format_iso8601(e.min_at)},
                                            {"unit", e.unit}};
  return out;
}

std::map<core::Parameter, sessions::Extreme> extremes_from_json(const json& j) {
  std::map<core::Parameter, sessions::Extreme> out;
  if (!j.is_object()) return out;
  for (const auto& [name, v] : j.items()) {
    auto p = core::parameter_from_name(name);
    if (!p || !v.is_object() || !v.contains("max") || !v["max"].is_number() || !v.contains("min") ||
        !v["min"].is_number())
      continue;
    sessions::Extreme e;
    e.max = v["max"].get<double>();
    e.min = v["min"].get<double>();
    e.max_at = ts_from(v.value("max_at", json())).value_or(core::Timestamp{});
    e.min_at = ts_from(v.value("min_at", json())).value_or(core::Timestamp{});
    e.unit = v.value("unit", "");
    out[*p] = e;
  }
  return out;
}

json session_json(const sessions::Session& s) {
  return {{"id", s.id},
          {"monitor", s.monitor},
          {"patient", s.patient},
          {"protocol", s.protocol},
          {"phase", alarms::to_string(s.phase)},
          {"phase_since", core::format_iso8601(s.phase_since)},
          {"started_at", core::format_iso8601(s.started_at)},
          {"started_by", s.started_by},
          {"ended_at", ts(s.ended_at)},
          {"ended_by", s.ended_by.empty() ? json() : json(s.ended_by)},
          {"extremes", extremes_json(s.extremes)}};
}

json alert_json(const alarms::Transition& t, const std::string& monitor) {
  json j{{"id", t.alert_id},
         {"session", t.session},
         {"monitor", monitor},
         {"rule", t.rule},
         {"kind", alarms::to_string(t.kind)},
         {"parameter", t.parameter ? json(core::to_string(*t.parameter)) : json()},
         {"value", opt(t.value)},
         {"unit", t.unit},
         {"limit", opt(t.limit)},
         {"priority", alarms::to_string(t.priority)},
         {"state", alarms::to_string(t.state)},
         {"escalated", t.escalated},
         {"level", t.level},
         {"superseded_by", t.superseded_by ? json(*t.superseded_by) : json()}};
  if (!t.direction.empty()) j["direction"] = t.direction;
  if (t.parameter) j["mdc_code"] = core::info(*t.parameter).mdc_code;
  return j;
}

Apply save_session(const sessions::Session& s, const alarms::Snapshot& snap) {
  return [s, baseline = core::json_text(baseline_json(snap.baseline)),
          state = core::json_text(state_json(snap)),
          extremes =
              core::json_text(extremes_json(s.extremes))](Db& db) -> std::optional<std::string> {
    Stmt up(db,
            "INSERT INTO sessions (id, monitor, patient, protocol, phase, phase_since, started_at, "
            "started_by, ended_at, ended_by, baseline, state, extremes) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET phase = excluded.phase, phase_since = "
            "excluded.phase_since, ended_at = excluded.ended_at, ended_by = excluded.ended_by, "
            "baseline = excluded.baseline, state = excluded.state, extremes = excluded.extremes");
    up.bind(1, s.id).bind(2, s.monitor).bind(3, s.patient).bind(4, s.protocol);
    up.bind(5, alarms::to_string(s.phase)).bind(6, core::format_iso8601(s.phase_since));
    up.bind(7, core::format_iso8601(s.started_at)).bind(8, s.started_by);
    up.bind(9, s.ended_at ? std::optional(core::format_iso8601(*s.ended_at)) : std::nullopt);
    up.bind(10, s.ended_by.empty() ? std::nullopt : std::optional(s.ended_by));
    up.bind(11, baseline).bind(12, state).bind(13, extremes);
    return run(up, db, "save session");
  };
}

Apply save_alert(const alarms::Transition& t, const alarms::Alert* open,
                 const std::string& monitor) {
  struct Row {
    alarms::Transition t;
    std::optional<alarms::Alert> a;
    std::string monitor;
  };
  Row row{t, open ? std::optional(*open) : std::nullopt, monitor};
  return [row](Db& db) -> std::optional<std::string> {
    const auto& tr = row.t;
    const auto at = core::format_iso8601(tr.at);
    Stmt up(db,
            "INSERT INTO alerts (id, session, monitor, rule, kind, parameter, value, limit_value, "
            "unit, priority, state, escalated, raised_at, active_since, updated_at, paused_until, "
            "acknowledged_by, acknowledged_at, cleared_at, cleared_reason, escalation_level, "
            "superseded_by, paused_total_s, silenced_value) "
            "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
            "?22,?23,?24) "
            "ON CONFLICT(id) DO UPDATE SET value = excluded.value, limit_value = "
            "excluded.limit_value, state = excluded.state, escalated = excluded.escalated, "
            "active_since = excluded.active_since, updated_at = excluded.updated_at, "
            "paused_until = excluded.paused_until, acknowledged_by = "
            "coalesce(excluded.acknowledged_by, alerts.acknowledged_by), acknowledged_at = "
            "coalesce(excluded.acknowledged_at, alerts.acknowledged_at), cleared_at = "
            "excluded.cleared_at, cleared_reason = excluded.cleared_reason, escalation_level = "
            "excluded.escalation_level, superseded_by = excluded.superseded_by, paused_total_s = "
            "CASE WHEN excluded.state = 'cleared' THEN alerts.paused_total_s ELSE "
            "excluded.paused_total_s END, silenced_value = excluded.silenced_value");
    up.bind(1, tr.alert_id).bind(2, tr.session).bind(3, row.monitor).bind(4, tr.rule);
    up.bind(5, alarms::to_string(tr.kind));
    up.bind(6, tr.parameter ? std::optional(std::string(core::to_string(*tr.parameter)))
                            : std::nullopt);
    up.bind(7, tr.value)
        .bind(8, tr.limit)
        .bind(9, tr.unit)
        .bind(10, alarms::to_string(tr.priority));
    up.bind(11, alarms::to_string(tr.state)).bind(12, std::int64_t{tr.escalated});
    up.bind(21, std::int64_t{tr.level}).bind(22, tr.superseded_by);
    if (row.a) {
      const auto& a = *row.a;
      up.bind(13, core::format_iso8601(a.raised_at)).bind(14, core::format_iso8601(a.active_since));
      up.bind(16,
              a.paused_until ? std::optional(core::format_iso8601(*a.paused_until)) : std::nullopt);
      up.bind(17, a.acknowledged_by.empty() ? std::nullopt : std::optional(a.acknowledged_by));
      up.bind(18, a.acknowledged_at ? std::optional(core::format_iso8601(*a.acknowledged_at))
                                    : std::nullopt);
      up.bind_null(19).bind_null(20);
      up.bind(23, a.paused_s).bind(24, a.silenced_value);
    } else {
      up.bind(23, 0.0).bind_null(24);
      up.bind(13, at).bind(14, at).bind_null(16).bind_null(17).bind_null(18);
      up.bind(19, at).bind(20, tr.reason);
    }
    up.bind(15, at);
    return run(up, db, "save alert");
  };
}

Event session_event(const sessions::SessionEvent& e) {
  json payload = session_json(e.session);
  payload["by"] = e.actor;
  if (!e.from_phase.empty()) payload["from_phase"] = e.from_phase;
  // The end keeps what the session measured: its baseline (and, in session_json, its peaks).
  if (e.last_state) payload["baseline"] = baseline_json(e.last_state->baseline);
  if (e.type == "gate_override") {
    payload["override_reason"] = e.override_reason;
    payload["gate_reasons"] = e.gate_reasons;
  } else if (e.type == "discharge_override") {
    payload["override_reason"] = e.override_reason;
    payload["discharge_reasons"] = e.gate_reasons;
  }
  return Event{"session." + e.type, e.at, e.session.monitor, e.session.id, std::move(payload)};
}

Event alert_event(const alarms::Transition& t, const std::string& monitor) {
  json payload{{"alert", alert_json(t, monitor)}};
  if (!t.actor.empty()) payload["by"] = t.actor;
  if (!t.reason.empty()) payload["reason"] = t.reason;
  if (t.until) payload["until"] = core::format_iso8601(*t.until);
  // Top-level copies of the alert's key fields, so a subscriber can filter without nesting.
  payload["priority"] = alarms::to_string(t.priority);
  payload["rule"] = t.rule;
  return Event{"alert." + std::string(alarms::to_string(t.type)), t.at, monitor, t.session,
               std::move(payload)};
}

json protocol_json(const alarms::Protocol& p) {
  using alarms::Phase;
  auto phases = [](const alarms::Rule& r) {
    json a = json::array();
    for (auto ph : {Phase::baseline, Phase::infusing, Phase::recovery})
      if (r.applies_in(ph)) a.push_back(alarms::to_string(ph));
    return a;
  };
  json rules = json::array();
  for (const auto& r : p.rules) {
    json j{{"id", r.id},
           {"name", r.name},
           {"kind", alarms::to_string(r.kind)},
           {"priority", alarms::to_string(r.priority)},
           {"phases", phases(r)},
           {"latching", r.latching},
           {"blocks_start", r.blocks_start},
           {"escalate_after_s", r.escalate_after_s}};
    if (r.parameter) {
      j["parameter"] = core::to_string(*r.parameter);
      j["unit"] = core::info(*r.parameter).ucum;
    }
    if (r.kind == alarms::RuleKind::physiological) {
      j["condition"] = alarms::to_string(r.condition.kind);
      j["amount"] = r.condition.amount;
      j["clear_hysteresis"] = r.clear_hysteresis;
    }
    if (r.delay_area) {
      j["delay_area"] = *r.delay_area;
      j["reset_after_s"] = r.reset_after_s;
    } else if (r.delay_in_readings) {
      j["delay_readings"] = r.delay_readings;
    } else if (r.kind != alarms::RuleKind::nibp_overdue) {
      j["delay_s"] = r.delay_s;
    }
    if (r.reactivate_after_s) j["reactivate_after_s"] = *r.reactivate_after_s;
    if (r.worsen_by) j["worsen_by"] = *r.worsen_by;
    if (r.fallback) j["fallback"] = core::to_string(*r.fallback);
    if (r.clear_after_s > 0) j["clear_after_s"] = r.clear_after_s;
    if (r.safety_net_breaches > 0) {
      j["safety_net_breaches"] = r.safety_net_breaches;
      j["safety_net_s"] = r.safety_net_s;
    }
    if (r.kind == alarms::RuleKind::nibp_overdue) {
      json iv = json::object();
      for (auto ph : {Phase::baseline, Phase::infusing, Phase::recovery})
        if (const auto& v = r.interval_s[static_cast<int>(ph)])
          iv[std::string(alarms::to_string(ph))] = *v;
      j["interval_s"] = iv;
      j["grace_s"] = r.grace_s;
    }
    rules.push_back(std::move(j));
  }
  json baseline_params = json::array();
  for (auto bp : p.baseline.parameters) baseline_params.push_back(core::to_string(bp));
  json above = json::object();
  for (const auto& [bp, v] : p.baseline.above) above[std::string(core::to_string(bp))] = v;
  return {{"protocol", p.name},
          {"description", p.description},
          {"file", p.file},
          {"sha256", p.sha256},
          {"max_pause_s", p.max_pause_s},
          {"max_paused_total_s", opt(p.max_paused_total_s)},
          {"min_recovery_s", opt(p.min_recovery_s)},
          {"nibp_max_age_s", p.nibp_max_age_s},
          {"baseline",
           {{"parameters", baseline_params},
            {"readings", p.baseline.readings},
            {"gate", alarms::to_string(p.baseline.gate)},
            {"above", above}}},
          {"rules", rules}};
}

std::string_view to_string(AppliedBecause why) {
  switch (why) {
    case AppliedBecause::config_loaded:
      return "config_loaded";
    case AppliedBecause::config_reloaded:
      return "config_reloaded";
    case AppliedBecause::session_started:
      return "session_started";
  }
  return "config_loaded";
}

Event protocol_applied(const alarms::Protocol& p, AppliedBecause why, core::Timestamp at,
                       const std::string& monitor, std::optional<std::int64_t> session) {
  json payload = protocol_json(p);
  payload["reason"] = to_string(why);
  return Event{"protocol.applied", at, monitor, session, std::move(payload)};
}

json capabilities_json(const alarms::Engine& engine) {
  json parameters = json::array();
  for (auto p : engine.monitor().parameters) parameters.push_back(core::to_string(p));
  json na = json::array();
  for (const auto& n : engine.not_applicable())
    na.push_back({{"rule", n.rule},
                  {"parameter", n.parameter ? json(core::to_string(*n.parameter)) : json()},
                  {"reason", n.reason}});
  return {{"monitor_parameters", parameters.empty() ? json("all") : parameters},
          {"send_interval_s", engine.monitor().send_interval_s},
          {"not_applicable", na}};
}

void journal_protocols_applied(
    Journal& journal,
    const std::map<std::string, std::shared_ptr<const alarms::Protocol>>& protocols,
    AppliedBecause why, core::Timestamp at) {
  for (const auto& [name, p] : protocols)
    if (p) journal.record(protocol_applied(*p, why, at), Durability::urgent);
}

std::map<std::string, std::vector<LastMeasurement>> last_measurements(Db& db, std::int64_t rows) {
  std::map<std::string, std::vector<LastMeasurement>> out;
  // One pass over the newest `rows` readings (the table has no index by monitor): per monitor
  // and NIBP parameter, the row with the highest id (SQLite takes the bare columns from it).
  Stmt s(db,
         "SELECT src.monitor, k.parameter, r.measurement_id, r.device_ms, max(r.id) "
         "FROM readings r JOIN observation_sources src ON src.id = r.source "
         "JOIN observation_kinds k ON k.id = r.kind "
         "WHERE r.id > (SELECT coalesce(max(id), 0) FROM readings) - ?1 "
         "AND k.parameter IN ('nibp_sys', 'nibp_dia', 'nibp_mean') "
         "GROUP BY r.source, r.kind");
  s.bind(1, rows);
  while (s.step()) {
    const auto parameter = core::parameter_from_name(s.text(1));
    if (!parameter) continue;
    LastMeasurement m;
    m.parameter = *parameter;
    if (!s.is_null(2)) m.measurement_id = static_cast<std::uint64_t>(s.int64(2));
    if (!s.is_null(3)) m.device_time = core::Timestamp{std::chrono::milliseconds{s.int64(3)}};
    out[s.text(0)].push_back(m);
  }
  return out;
}

Restored restore(Db& db) {
  Restored out;
  out.next_session_id = db.scalar_int("SELECT coalesce(max(id), 0) + 1 FROM sessions");
  out.next_alert_id = db.scalar_int("SELECT coalesce(max(id), 0) + 1 FROM alerts");
  Stmt s(
      db,
      "SELECT id, monitor, patient, protocol, phase, phase_since, started_at, started_by, state, "
      "extremes FROM sessions WHERE phase != 'ended' ORDER BY id");
  Stmt a(db,
         "SELECT id, rule, kind, parameter, priority, state, escalated, value, limit_value, unit, "
         "raised_at, active_since, paused_until, acknowledged_by, acknowledged_at, "
         "escalation_level, superseded_by, paused_total_s, silenced_value "
         "FROM alerts WHERE session = ? AND state != 'cleared' ORDER BY id");
  auto time = [](const std::string& text) {
    return core::parse_iso8601(text).value_or(core::Timestamp{});
  };
  while (s.step()) {
    sessions::Session session;
    session.id = s.int64(0);
    session.monitor = s.text(1);
    session.patient = s.text(2);
    session.protocol = s.text(3);
    session.phase = alarms::phase_from_name(s.text(4)).value_or(alarms::Phase::baseline);
    session.phase_since = time(s.text(5));
    session.started_at = time(s.text(6));
    session.started_by = s.text(7);
    session.extremes = extremes_from_json(json::parse(s.text(9), nullptr, false));
    alarms::Snapshot snap;
    snap.phase = session.phase;
    snap.phase_since = session.phase_since;
    const auto state = json::parse(s.text(8), nullptr, false);
    if (state.is_object()) {
      snap.last_nibp_at = ts_from(state.value("last_nibp_at", json()));
      snap.monitor = core::monitor_state_from_name(state.value("monitor", "online"))
                         .value_or(core::MonitorState::online);
      const json readings =
          state.contains("baseline_readings") ? state["baseline_readings"] : json::object();
      for (const auto& [name, v] : readings.items()) {
        auto p = core::parameter_from_name(name);
        if (!p || !v.is_object()) continue;
        alarms::BaselineValue bv;
        bv.readings = v.value("readings", std::vector<double>{});
        bv.unit = v.value("unit", "");
        if (v.contains("last_measurement"))
          bv.last_measurement = v["last_measurement"].get<std::uint64_t>();
        snap.baseline.values()[*p] = std::move(bv);
      }
    }
    a.reset();
    a.bind(1, session.id);
    while (a.step()) {
      alarms::Alert al;
      al.id = a.int64(0);
      al.rule = a.text(1);
      al.kind = alarms::rule_kind_from_name(a.text(2)).value_or(alarms::RuleKind::physiological);
      if (auto p = a.text_or_null(3)) al.parameter = core::parameter_from_name(*p);
      al.priority = alarms::priority_from_name(a.text(4)).value_or(alarms::Priority::high);
      al.state = alarms::alert_state_from_name(a.text(5)).value_or(alarms::AlertState::active);
      al.escalated = a.int64(6) != 0;
      al.condition_present = al.state != alarms::AlertState::latched;
      if (!a.is_null(7)) al.value = a.real(7);
      if (!a.is_null(8)) al.limit = a.real(8);
      al.unit = a.text(9);
      al.raised_at = time(a.text(10));
      al.active_since = time(a.text(11));
      if (auto t = a.text_or_null(12)) al.paused_until = core::parse_iso8601(*t);
      if (auto t = a.text_or_null(13)) al.acknowledged_by = *t;
      if (auto t = a.text_or_null(14)) al.acknowledged_at = core::parse_iso8601(*t);
      al.level = static_cast<int>(a.int64(15));
      if (!a.is_null(16)) al.superseded_by = a.int64(16);
      al.paused_s = a.real(17);
      if (!a.is_null(18)) al.silenced_value = a.real(18);
      snap.alerts.push_back(std::move(al));
    }
    if (!a.ok()) throw StoreError("database " + db.path().string() + ": " + db.error_message());
    out.sessions.emplace_back(std::move(session), std::move(snap));
  }
  if (!s.ok()) throw StoreError("database " + db.path().string() + ": " + db.error_message());
  return out;
}

std::map<std::string, std::vector<json>> present_monitor_alarms(Db& db, std::int64_t rows) {
  std::map<std::string, std::vector<json>> out;
  Stmt q(db,
         "SELECT e.monitor, e.payload FROM events e WHERE e.seq IN ("
         " SELECT max(seq) FROM (SELECT seq, monitor, json_extract(payload, '$.key') AS k"
         "  FROM events WHERE type = 'monitor.alarm' ORDER BY seq DESC LIMIT ?1)"
         " GROUP BY monitor, k) ORDER BY e.seq");
  q.bind(1, rows);
  while (q.step()) {
    auto payload = json::parse(q.text(1), nullptr, false);
    if (!payload.is_object() || !payload.value("present", false)) continue;
    out[q.text(0)].push_back(std::move(payload));
  }
  return out;
}

}  // namespace vitalsd::store
