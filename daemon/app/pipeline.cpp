#include "app/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/text.hpp"
#include "core/value_text.hpp"
#include "store/records.hpp"

namespace vitalsd::app {

using nlohmann::json;

Pipeline::Pipeline(asio::io_context& io, store::Journal& journal, sessions::Manager& sessions,
                   const std::vector<core::MonitorConfig>& monitors)
    : io_(io), journal_(journal), sessions_(sessions), monitors_(monitors), tick_(io) {}

core::Timestamp Pipeline::now() {
  return acquisition::Acquisition::system_now();
}

void Pipeline::set_monitors(const std::vector<core::MonitorConfig>& monitors) {
  monitors_ = monitors;
  std::set<std::string> ids;
  for (const auto& m : monitors_) ids.insert(m.id);
  std::erase_if(view_, [&](const auto& v) { return !ids.count(v.first); });
}

void Pipeline::start() {
  tick_.expires_after(std::chrono::seconds{1});
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    persist(sessions_.tick(now()));
    journal_refusals(refusals_.flush(now()));
    start();
  });
}

void Pipeline::stop() {
  if (!stopped_) journal_refusals(refusals_.flush(now(), true));
  stopped_ = true;
  tick_.cancel();
}

void Pipeline::persist(const sessions::Change& change) {
  std::set<std::int64_t> saved;
  for (const auto& e : change.session_events) {
    alarms::Snapshot snap;
    if (const auto* engine = sessions_.engine(e.session.id))
      snap = engine->snapshot();
    else if (e.last_state)  // ended: the engine is gone; keep what it knew (the baseline)
      snap = *e.last_state;
    else
      snap.phase = e.session.phase;
    journal_.record(store::session_event(e), store::Durability::urgent,
                    store::save_session(e.session, snap));
    saved.insert(e.session.id);
    // The record says which rules watched this session, exactly as they were applied.
    if (e.type == "started")
      if (const auto* engine = sessions_.engine(e.session.id)) {
        auto applied =
            store::protocol_applied(engine->protocol(), store::AppliedBecause::session_started,
                                    e.at, e.session.monitor, e.session.id);
        applied.payload.update(store::capabilities_json(*engine));
        journal_.record(std::move(applied), store::Durability::urgent);
      }
  }
  for (const auto& t : change.transitions) {
    const auto* session = sessions_.find(t.session);
    std::string monitor;
    const alarms::Alert* open = nullptr;
    if (session) {
      monitor = session->monitor;
      open = sessions_.engine(t.session)->find(t.alert_id);
    } else {
      for (const auto& e : change.session_events)
        if (e.session.id == t.session) monitor = e.session.monitor;
    }
    if ((t.type == alarms::EventType::raised || t.type == alarms::EventType::escalated ||
         t.type == alarms::EventType::reactivated) &&
        !t.superseded_by)
      spdlog::warn("alert {} {}{} {} on {} (session {}): {} {} (limit {}){}", t.alert_id,
                   alarms::to_string(t.type),
                   t.type == alarms::EventType::escalated ? fmt::format(" to level {}", t.level)
                                                          : std::string(),
                   alarms::to_string(t.priority), monitor, t.session, t.rule,
                   t.value ? core::format_value(*t.value) : "-",
                   t.limit ? core::format_value(*t.limit) : "-",
                   t.reason.empty() ? std::string() : " " + t.reason);
    journal_.record(store::alert_event(t, monitor), store::Durability::urgent,
                    store::save_alert(t, open, monitor));
  }
  // Sessions that changed without an event of their own (the baseline grew, alerts moved).
  for (auto id : change.touched) {
    if (saved.count(id)) continue;
    if (const auto* s = sessions_.find(id))
      journal_.write(
          store::save_session(*s, sessions_.engine(id)->snapshot()),
          change.transitions.empty() ? store::Durability::batched : store::Durability::urgent);
  }
}

void Pipeline::observations(std::vector<core::Observation> observations,
                            std::function<void(bool)> receipt) {
  auto change = sessions_.observe(observations);  // sets each observation's session
  for (const auto& o : observations) view_[o.monitor].last[o.parameter] = o;
  // The observations are queued first: their events precede the alerts they caused. Their
  // sender's receipt (an HL7 ACK) is settled by the commit that takes them.
  journal_.record(std::move(observations), std::move(receipt));
  persist(change);
}

void Pipeline::monitor_state(const std::string& monitor, core::MonitorState state,
                             const std::string& detail, core::Timestamp at) {
  if (state == core::MonitorState::online)
    spdlog::info("monitor {}: online", monitor);
  else
    spdlog::warn("monitor {}: {} ({})", monitor, core::to_string(state), detail);
  auto& v = view_[monitor];
  const bool was_lost = v.state && *v.state != core::MonitorState::online;
  v.state = state;
  v.state_since = at;
  v.detail = detail;
  const std::string name(core::to_string(state));
  json payload{{"state", name}, {"detail", detail}};
  // comm_lost / comm_ok pair, as NUT's COMMBAD/COMMOK: journaled whether or not a session runs.
  if (state != core::MonitorState::online)
    payload["comm"] = "comm_lost";
  else if (was_lost)
    payload["comm"] = "comm_ok";
  const auto since = core::format_iso8601(at);
  journal_.record(
      store::Event{"monitor.state", at, monitor, std::nullopt, payload},
      state == core::MonitorState::online ? store::Durability::batched : store::Durability::urgent,
      [monitor, name, since, detail](store::Db& db) -> std::optional<std::string> {
        store::Stmt up(db,
                       "UPDATE monitors SET state = ?1, state_since = ?2, "
                       "state_detail = ?3 WHERE id = ?4");
        up.bind(1, name).bind(2, since).bind(3, detail).bind(4, monitor);
        up.step();
        if (!up.ok()) return "update monitor state: " + db.error_message();
        return std::nullopt;
      });
  persist(sessions_.monitor_state(monitor, state, at));
}

void Pipeline::clock_skew(const std::string& monitor, core::Duration skew, core::Timestamp at) {
  spdlog::warn("monitor {}: device clock differs from ours by {} ms; both times are stored",
               monitor, skew.count());
  journal_.record(
      store::Event{"monitor.clock_skew", at, monitor, std::nullopt, {{"skew_ms", skew.count()}}},
      store::Durability::batched);
}

void Pipeline::parameter_unmapped(const std::string& monitor, const drivers::UnmappedCode& code,
                                  core::Timestamp at) {
  spdlog::warn("monitor {}: code {} ({}) has values but maps to no parameter; not stored", monitor,
               code.code, code.name.empty() ? "no name" : code.name);
  journal_.record(store::Event{"monitor.parameter_unmapped",
                               at,
                               monitor,
                               std::nullopt,
                               {{"code", code.code},
                                {"name", code.name},
                                {"stored", false},
                                {"detail",
                                 "values under this code map to no vitalsd parameter and are "
                                 "not stored (journaled once per monitor and code)"}}},
                  store::Durability::batched);
}

json Pipeline::monitor_alarm_payload(const drivers::MonitorAlarm& a) {
  auto text_or_null = [](const std::string& v) { return v.empty() ? json() : json(v); };
  json p{{"origin", "monitor"},
         {"key", a.key},
         {"text", a.text},
         {"priority", a.priority},
         {"device_priority", text_or_null(a.device_priority)},
         {"kind", text_or_null(a.kind)},
         {"phase", a.phase},
         {"state", text_or_null(a.state)},
         {"inactivation", text_or_null(a.inactivation)},
         {"present", a.present()},
         {"event_code", text_or_null(a.event_code)},
         {"event_name", text_or_null(a.event_name)},
         {"source_code", text_or_null(a.source_code)},
         {"source_name", text_or_null(a.source_name)},
         {"parameter", a.parameter ? json(core::to_string(*a.parameter)) : json()},
         {"value", a.value && std::isfinite(*a.value) ? json(*a.value) : json()},
         {"unit", text_or_null(a.unit)},
         {"device_time", a.device_time ? json(core::format_iso8601(*a.device_time)) : json()},
         {"received_at", core::format_iso8601(a.received_at)}};
  if (a.test) p["test"] = true;
  return p;
}

void Pipeline::monitor_alarms(const std::string& monitor, std::vector<drivers::MonitorAlarm> alarms,
                              core::Timestamp at) {
  auto& v = view_[monitor];
  const auto* s = sessions_.active_on(monitor);
  const std::optional<std::int64_t> session = s ? std::optional<std::int64_t>(s->id) : std::nullopt;
  for (const auto& a : alarms) {
    auto payload = monitor_alarm_payload(a);
    auto it = v.alarms.find(a.key);
    // `since`: when the monitor first reported this alarm present (kept across its phases).
    const auto since = it != v.alarms.end() ? it->second.payload.value("since", json())
                                            : json(core::format_iso8601(a.received_at));
    if (a.present()) payload["since"] = since;
    spdlog::log(a.present() ? spdlog::level::warn : spdlog::level::info,
                "monitor {}: its own alarm '{}' ({} priority, {}{}) {}", monitor,
                core::printable(a.text),
                core::printable(a.device_priority.empty() ? a.priority : a.device_priority),
                a.phase, a.state.empty() ? "" : ", " + a.state, a.present() ? "present" : "over");
    // Persist before publish: the event is committed, then published to every feed.
    journal_.record(store::Event{"monitor.alarm", at, monitor, session, payload},
                    store::Durability::urgent);
    if (a.present()) {
      if (it == v.alarms.end()) {
        if (v.alarms.size() >= kMaxMonitorAlarms) {
          auto oldest = std::min_element(v.alarms.begin(), v.alarms.end(), [](auto& x, auto& y) {
            return x.second.order < y.second.order;
          });
          v.alarms.erase(oldest);
        }
        v.alarms.emplace(a.key, MonitorView::Present{++alarm_order_, std::move(payload)});
      } else {
        it->second.payload = std::move(payload);
      }
    } else if (it != v.alarms.end()) {
      v.alarms.erase(it);
    }
  }
}

void Pipeline::restore_monitor_alarms(const std::map<std::string, std::vector<json>>& present) {
  for (const auto& [monitor, list] : present) {
    auto& v = view_[monitor];
    for (const auto& p : list) {
      const auto key = p.value("key", std::string());
      if (key.empty() || v.alarms.size() >= kMaxMonitorAlarms) continue;
      v.alarms[key] = MonitorView::Present{++alarm_order_, p};
    }
  }
}

json Pipeline::monitor_alarms_json(const std::string& monitor) {
  json out = json::array();
  auto it = view_.find(monitor);
  if (it == view_.end()) return out;
  const auto& v = it->second;
  std::vector<const MonitorView::Present*> list;
  for (const auto& [key, p] : v.alarms) list.push_back(&p);
  std::sort(list.begin(), list.end(), [](auto* x, auto* y) { return x->order < y->order; });
  const bool stale = !v.state || *v.state != core::MonitorState::online;
  for (const auto* p : list) {
    auto j = p->payload;
    j["monitor"] = monitor;
    j["stale"] = stale;
    out.push_back(std::move(j));
  }
  return out;
}

void Pipeline::log_status() {
  const auto t = now();
  for (const auto& m : monitors_) {
    const auto& v = view_[m.id];
    std::string line;
    for (const auto& [p, o] : v.last) {
      if (core::info(p).intermittent && p != core::Parameter::nibp_sys) continue;
      std::string value =
          o.validity == core::Validity::invalid ? "--" : core::format_value(o.value);
      if (p == core::Parameter::nibp_sys) {
        auto dia = v.last.find(core::Parameter::nibp_dia);
        if (dia != v.last.end()) value += "/" + core::format_value(dia->second.value);
        value += fmt::format(" ({:.0f} s ago)",
                             std::chrono::duration<double>(t - o.received_at).count());
      }
      line += fmt::format(" {} {}", p == core::Parameter::nibp_sys ? "NIBP" : core::to_string(p),
                          value);
    }
    const auto* s = sessions_.active_on(m.id);
    spdlog::info("{} [{}{}]{}", m.id, v.state ? core::to_string(*v.state) : "unknown",
                 s ? fmt::format(", session {} {}", s->id, alarms::to_string(s->phase)) : "",
                 line.empty() ? " no readings yet" : line);
  }
}

void Pipeline::answer(const sessions::Outcome& outcome, int ok_status, json body, api::Done done) {
  if (!outcome.ok()) {
    json err{{"error", sessions::to_string(outcome.error)}, {"detail", outcome.message}};
    if (!outcome.reasons.empty()) err["reasons"] = outcome.reasons;
    done(api::Reply{sessions::http_status(outcome.error), std::move(err)});
    return;
  }
  persist(outcome.change);
  // Answer once the change is committed, back on the io_context; if storage starts failing
  // meanwhile, answer 503 within a second instead of hanging (the change took effect and is
  // written when storage recovers: it is never dropped).
  struct Pending {
    api::Done done;
    asio::steady_timer timer;
  };
  auto pending = std::make_shared<Pending>(Pending{std::move(done), asio::steady_timer(io_)});
  std::shared_ptr<std::function<void()>> watch = std::make_shared<std::function<void()>>();
  *watch = [this, pending, weak = std::weak_ptr<std::function<void()>>(watch)] {
    pending->timer.expires_after(std::chrono::seconds{1});
    pending->timer.async_wait([this, pending, weak](const boost::system::error_code& ec) {
      if (ec || !pending->done) return;
      if (!journal_.storage_failing()) {
        if (auto w = weak.lock()) (*w)();
        return;
      }
      std::exchange(pending->done, {})(api::Reply{
          503,
          {{"error", "storage_unavailable"},
           {"detail",
            "storage is failing (" + journal_.storage().error +
                "): the action took effect but is not recorded yet; it is written when storage "
                "recovers"}}});
    });
  };
  (*watch)();
  journal_.when_committed([this, pending, watch, ok_status, body = std::move(body)]() mutable {
    asio::post(io_, [pending, watch, ok_status, body = std::move(body)]() mutable {
      pending->timer.cancel();
      if (pending->done) std::exchange(pending->done, {})(api::Reply{ok_status, std::move(body)});
    });
  });
}

bool Pipeline::refuse_while_storage_fails(api::Done& done) {
  if (!journal_.storage_failing()) return false;
  done(api::Reply{503,
                  {{"error", "storage_unavailable"},
                   {"detail", "storage is failing (" + journal_.storage().error +
                                  "): nothing was changed; try again when it recovers"}}});
  return true;
}

nlohmann::json Pipeline::health() {
  const auto s = journal_.storage();
  json storage{{"state", s.failing ? "failing" : "ok"}};
  json alerts = json::array();
  if (s.failing) {
    storage["since"] = core::format_iso8601(s.since);
    storage["error"] = s.error;
    storage["failed_commits"] = s.failed_commits;
    storage["backlog_observations"] = s.backlog_observations;
    storage["backlog_events"] = s.backlog_events;
    storage["dropped_observations"] = s.dropped_observations;
    alerts.push_back({{"rule", "storage_failed"},
                      {"priority", "high"},
                      {"state", "active"},
                      {"since", core::format_iso8601(s.since)},
                      {"detail", s.error},
                      {"persisted", false}});
  }
  const auto& r = refusals_.counters();
  return {{"status", s.failing ? "degraded" : "ok"},
          {"storage", storage},
          {"alerts", alerts},
          {"refused",
           {{"unauthorized", r.unauthorized}, {"forbidden", r.forbidden}, {"events", r.events}}}};
}

void Pipeline::refused(const api::RefusedAttempt& attempt) {
  journal_refusals(refusals_.add(attempt, now()));
  // Stopped: no tick any more, so nothing is left open.
  if (stopped_) journal_refusals(refusals_.flush(now(), true));
}

void Pipeline::access(const api::Access& a) {
  store::Event e;
  e.type = a.signed_in ? "api.signed_in" : "api.signed_out";
  e.at = now();
  e.payload = {{"actor", a.actor}, {"role", a.role}, {"address", a.address}};
  if (!a.expires_at.empty()) e.payload["expires_at"] = a.expires_at;
  journal_.record(std::move(e), store::Durability::batched);
}

nlohmann::json Pipeline::protocols() {
  // Each protocol exactly as the protocol.applied event records it, with its name as `name`.
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, p] : sessions_.protocols()) {
    if (!p) continue;
    auto j = store::protocol_json(*p);
    j["name"] = p->name;
    list.push_back(std::move(j));
  }
  return {{"protocols", list}};
}

void Pipeline::journal_refusals(std::vector<store::Event> events) {
  for (auto& e : events) {
    const auto& p = e.payload;
    const auto who =
        fmt::format("api: refused {} {} from {}{}", p.value("status", 0), p.value("reason", ""),
                    p.value("address", ""), p.contains("by") ? " (" + p.value("by", "") + ")" : "");
    if (p.value("summary", false))
      spdlog::warn("{}: {} more in {} s", who, p.value("count", 0), p.value("window_s", 0));
    else
      spdlog::info("{}: {} {}", who, p.value("method", ""), p.value("path", ""));
    journal_.record(std::move(e), store::Durability::batched);
  }
}

void Pipeline::start_session(const std::string& monitor, const std::string& patient,
                             const std::string& protocol, const std::string& actor,
                             api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.start(monitor, patient, protocol, actor, now());
  answer(out, 201, out.ok() ? session(out.session) : json(), std::move(done));
}

void Pipeline::set_phase(std::int64_t id, const std::string& phase,
                         const std::string& override_reason, const std::string& actor,
                         api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.set_phase(id, phase, override_reason, actor, now());
  json body;
  if (out.ok()) {
    body = session(id);
    if (body.is_null())  // ended: the last state is in the change
      for (const auto& e : out.change.session_events) body = store::session_json(e.session);
  }
  answer(out, 200, std::move(body), std::move(done));
}

void Pipeline::end_session(std::int64_t id, const std::string& override_reason,
                           const std::string& actor, api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.end(id, actor, now(), override_reason);
  json body;
  for (const auto& e : out.change.session_events) body = store::session_json(e.session);
  answer(out, 200, std::move(body), std::move(done));
}

json Pipeline::alert_reply(const sessions::Outcome& out) {
  for (auto it = out.change.transitions.rbegin(); it != out.change.transitions.rend(); ++it)
    if (it->alert_id == out.alert) {
      const auto* s = sessions_.find(it->session);
      auto j = store::alert_json(*it, s ? s->monitor : "");
      if (const auto* e = sessions_.engine(it->session))
        if (const auto* a = e->find(it->alert_id)) {
          j["acknowledged_by"] = a->acknowledged_by.empty() ? json() : json(a->acknowledged_by);
          j["paused_until"] =
              a->paused_until ? json(core::format_iso8601(*a->paused_until)) : json();
          j["raised_at"] = core::format_iso8601(a->raised_at);
        }
      return j;
    }
  return json::object();
}

void Pipeline::acknowledge(std::int64_t alert, const std::string& actor, api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.acknowledge(alert, actor, now());
  answer(out, 200, out.ok() ? alert_reply(out) : json(), std::move(done));
}

void Pipeline::pause(std::int64_t alert, double seconds, const std::string& actor, api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.pause(alert, seconds, actor, now());
  answer(out, 200, out.ok() ? alert_reply(out) : json(), std::move(done));
}

void Pipeline::reset(std::int64_t alert, const std::string& actor, api::Done done) {
  if (refuse_while_storage_fails(done)) return;
  auto out = sessions_.reset(alert, actor, now());
  answer(out, 200, out.ok() ? alert_reply(out) : json(), std::move(done));
}

json Pipeline::monitors() {
  const auto t = now();
  std::map<std::string, acquisition::MonitorStatus> status;
  if (acquisition_)
    for (auto& s : acquisition_->status()) status[s.id] = s;
  json out = json::array();
  for (const auto& m : monitors_) {
    const auto& v = view_[m.id];
    json last = json::object();
    for (const auto& [p, o] : v.last) {
      const double age = std::chrono::duration<double>(t - o.received_at).count();
      last[std::string(core::to_string(p))] = {
          {"value", std::isfinite(o.value) ? json(o.value) : json()},
          {"unit", o.unit},
          {"validity", core::to_string(o.validity)},
          {"at", core::format_iso8601(o.received_at)},
          {"device_time", o.device_time ? json(core::format_iso8601(*o.device_time)) : json()},
          {"age_s", std::round(age * 10) / 10},
          // A value older than 3 poll periods (NIBP: its cuff cycle) is not current.
          {"stale", core::info(p).intermittent
                        ? false
                        : age * 1000 > 3.0 * static_cast<double>(m.poll.count())}};
    }
    const auto* s = sessions_.active_on(m.id);
    out.push_back({{"id", m.id},
                   {"location", m.location},
                   {"driver", m.driver},
                   {"state", v.state ? json(core::to_string(*v.state)) : json("unknown")},
                   {"state_since", v.state ? json(core::format_iso8601(v.state_since)) : json()},
                   {"detail", v.detail},
                   {"session", s ? json(s->id) : json()},
                   {"last", last},
                   {"monitor_alarms", monitor_alarms_json(m.id)}});
  }
  return out;
}

json Pipeline::session(std::int64_t id) {
  const auto* s = sessions_.find(id);
  if (!s) return nullptr;
  const auto* engine = sessions_.engine(id);
  auto j = store::session_json(*s);
  j["baseline"] = store::baseline_json(engine->baseline());
  const auto gate = engine->gate();
  json reasons = json::array();
  for (const auto& r : gate.reasons) reasons.push_back(r.message);
  j["gate"] = {{"blocked", gate.blocked}, {"reasons", reasons}};
  j.update(store::capabilities_json(*engine));
  json alerts = json::array();
  for (const auto& a : engine->open_alerts()) alerts.push_back(a.id);
  j["open_alerts"] = alerts;
  j["monitor_alarms"] = monitor_alarms_json(s->monitor);
  return j;
}

}  // namespace vitalsd::app
