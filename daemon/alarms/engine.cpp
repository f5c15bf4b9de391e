#include "alarms/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace vitalsd::alarms {
namespace {

constexpr std::size_t kOrphan = std::numeric_limits<std::size_t>::max();

core::Duration seconds(double s) {
  return core::Duration{static_cast<std::int64_t>(std::llround(s * 1000))};
}

double seconds_between(core::Timestamp from, core::Timestamp to) {
  return std::chrono::duration<double>(to - from).count();
}

// Identity of an intermittent measurement: its id, else its device time.
std::optional<std::uint64_t> measurement_identity(const core::Observation& o) {
  if (o.measurement_id) return o.measurement_id;
  if (o.device_time) return static_cast<std::uint64_t>(o.device_time->time_since_epoch().count());
  return std::nullopt;
}

std::string number_text(double v) {
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string_view to_string(AlertState s) {
  switch (s) {
    case AlertState::active:
      return "active";
    case AlertState::acknowledged:
      return "acknowledged";
    case AlertState::paused:
      return "paused";
    case AlertState::latched:
      return "latched";
    case AlertState::cleared:
      return "cleared";
  }
  return "active";
}

std::optional<AlertState> alert_state_from_name(std::string_view name) {
  for (auto s : {AlertState::active, AlertState::acknowledged, AlertState::paused,
                 AlertState::latched, AlertState::cleared})
    if (to_string(s) == name) return s;
  return std::nullopt;
}

std::string_view to_string(EventType t) {
  switch (t) {
    case EventType::raised:
      return "raised";
    case EventType::escalated:
      return "escalated";
    case EventType::acknowledged:
      return "acknowledged";
    case EventType::paused:
      return "paused";
    case EventType::unpaused:
      return "unpaused";
    case EventType::latched:
      return "latched";
    case EventType::reactivated:
      return "reactivated";
    case EventType::cleared:
      return "cleared";
    case EventType::reset:
      return "reset";
  }
  return "raised";
}

std::string_view to_string(ActionError e) {
  switch (e) {
    case ActionError::none:
      return "none";
    case ActionError::unknown_alert:
      return "unknown_alert";
    case ActionError::invalid_state:
      return "invalid_state";
    case ActionError::invalid_argument:
      return "invalid_argument";
    case ActionError::session_ended:
      return "session_ended";
    case ActionError::gate_blocked:
      return "gate_blocked";
  }
  return "none";
}

// --- construction and restore

Engine::Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id)
    : protocol_(std::move(protocol)), session_(session), next_id_(std::move(next_id)) {}

Engine::Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id,
               core::Timestamp start)
    : Engine(std::move(protocol), session, std::move(next_id)) {
  phase_since_ = start;
  now_ = start;
  monitor_since_ = start;
}

Engine Engine::restore(std::shared_ptr<const Protocol> protocol, std::int64_t session,
                       IdSource next_id, Snapshot snapshot) {
  Engine e(std::move(protocol), session, std::move(next_id));
  e.phase_ = snapshot.phase;
  e.phase_since_ = snapshot.phase_since;
  e.now_ = snapshot.phase_since;
  e.baseline_ = std::move(snapshot.baseline);
  e.last_nibp_at_ = snapshot.last_nibp_at;
  e.monitor_ = snapshot.monitor;
  if (e.last_nibp_at_) e.now_ = std::max(e.now_, *e.last_nibp_at_);
  int orphans = 0;
  for (auto& a : snapshot.alerts) {
    if (!a.open() || e.alerts_.count(a.id)) continue;
    e.now_ =
        std::max({e.now_, a.raised_at, a.active_since, a.acknowledged_at.value_or(a.raised_at)});
    e.own_next_id_ = std::max(e.own_next_id_, a.id + 1);
    if (a.state == AlertState::latched) a.condition_present = false;
    Key key{kOrphan, orphans++};
    const auto& rules = e.protocol_->rules;
    for (std::size_t r = 0; r < rules.size(); ++r) {
      if (rules[r].id != a.rule) continue;
      Key k{r, a.parameter ? static_cast<int>(*a.parameter) : -1};
      if (!e.open_by_key_.count(k)) key = k;  // a second open alert of one key is an orphan
      break;
    }
    if (key.first != kOrphan) e.open_by_key_[key] = a.id;
    e.key_of_[a.id] = key;
    e.alerts_[a.id] = std::move(a);
  }
  e.monitor_since_ = e.now_;
  return e;
}

// --- helpers

std::int64_t Engine::new_id() {
  if (next_id_) return next_id_();
  return own_next_id_++;
}

Alert* Engine::open_alert(const Key& key) {
  auto it = open_by_key_.find(key);
  if (it == open_by_key_.end()) return nullptr;
  auto a = alerts_.find(it->second);
  return a == alerts_.end() ? nullptr : &a->second;
}

const Alert* Engine::find(std::int64_t alert_id) const {
  auto it = alerts_.find(alert_id);
  return it == alerts_.end() ? nullptr : &it->second;
}

std::vector<Alert> Engine::open_alerts() const {
  std::vector<Alert> v;
  v.reserve(alerts_.size());
  for (const auto& [id, a] : alerts_) v.push_back(a);
  return v;
}

Snapshot Engine::snapshot() const {
  Snapshot s;
  s.phase = phase_;
  s.phase_since = phase_since_;
  s.baseline = baseline_;
  s.alerts = open_alerts();
  s.last_nibp_at = last_nibp_at_;
  s.monitor = monitor_;
  return s;
}

Transition Engine::transition(const Alert& a, EventType type, std::string_view actor,
                              std::string_view reason) const {
  Transition t;
  t.type = type;
  t.session = session_;
  t.alert_id = a.id;
  t.rule = a.rule;
  t.kind = a.kind;
  t.parameter = a.parameter;
  t.value = a.value;
  t.limit = a.limit;
  t.unit = a.unit;
  t.priority = a.priority;
  t.state = a.state;
  t.escalated = a.escalated;
  t.actor = std::string(actor);
  t.at = now_;
  t.reason = std::string(reason);
  if (a.state == AlertState::paused) t.until = a.paused_until;
  return t;
}

void Engine::forget(const Alert& a) {
  const auto id = a.id;
  auto k = key_of_.find(id);
  if (k != key_of_.end()) {
    auto o = open_by_key_.find(k->second);
    if (o != open_by_key_.end() && o->second == id) open_by_key_.erase(o);
    key_of_.erase(k);
  }
  alerts_.erase(id);
}

void Engine::close(Alert& a, EventType type, std::string_view actor, std::string_view reason,
                   std::vector<Transition>& out) {
  a.state = AlertState::cleared;
  a.condition_present = false;
  a.paused_until.reset();
  out.push_back(transition(a, type, actor, reason));
  forget(a);
}

void Engine::raise(std::size_t r, std::optional<core::Parameter> p, std::optional<double> value,
                   std::optional<double> limit, std::string unit, std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  Alert a;
  a.id = new_id();
  a.rule = rule.id;
  a.kind = rule.kind;
  a.parameter = p;
  a.priority = rule.priority;
  a.value = value;
  a.limit = limit;
  a.unit = std::move(unit);
  a.raised_at = now_;
  a.active_since = now_;
  const Key key{r, p ? static_cast<int>(*p) : -1};
  tracks_.erase(key);
  open_by_key_[key] = a.id;
  key_of_[a.id] = key;
  out.push_back(transition(a, EventType::raised));
  alerts_[a.id] = std::move(a);
}

void Engine::condition_ended(Alert& a, std::optional<double> value, std::string_view reason,
                             std::vector<Transition>& out) {
  if (value) a.value = value;
  const auto k = key_of_.find(a.id);
  const bool latching = k != key_of_.end() && k->second.first != kOrphan &&
                        protocol_->rules[k->second.first].latching;
  if (latching && a.state != AlertState::acknowledged) {
    a.state = AlertState::latched;
    a.condition_present = false;
    a.paused_until.reset();
    out.push_back(transition(a, EventType::latched, {}, reason));
  } else {
    close(a, EventType::cleared, {}, reason, out);
  }
}

void Engine::condition_back(Alert& a, std::optional<double> value, std::vector<Transition>& out) {
  if (value) a.value = value;
  a.state = AlertState::active;
  a.condition_present = true;
  a.active_since = now_;
  a.escalated = false;
  out.push_back(transition(a, EventType::reactivated));
}

std::optional<double> Engine::limit_of(const Rule& rule) const {
  const double x = rule.condition.amount;
  if (!rule.condition.relative()) return x;
  if (!rule.parameter) return std::nullopt;
  const auto base = baseline_.value(*rule.parameter, protocol_->baseline);
  if (!base) return std::nullopt;
  switch (rule.condition.kind) {
    case ConditionKind::rise_by:
      return *base + x;
    case ConditionKind::fall_by:
      return *base - x;
    case ConditionKind::rise_by_percent:
      return *base * (1 + x / 100);
    case ConditionKind::fall_by_percent:
      return *base * (1 - x / 100);
    default:
      return x;
  }
}

std::optional<double> Engine::overdue_limit(const Rule& rule) const {
  const auto& iv = rule.interval_s[static_cast<int>(phase_)];
  if (!iv) return std::nullopt;
  return *iv + rule.grace_s;
}

bool Engine::delay_met(const Rule& rule, Track& track, bool intermittent) const {
  if (rule.delay_in_readings || intermittent) return track.pending_count >= rule.delay_readings;
  return track.pending_since && seconds_between(*track.pending_since, now_) >= rule.delay_s - 1e-9;
}

// --- time

void Engine::advance(core::Timestamp at, std::vector<Transition>& out) {
  if (at > now_) now_ = at;
  if (phase_ == Phase::ended) return;

  // Pauses that are over: the condition is still present (otherwise the alert would have
  // been cleared or latched), so the alert is active again.
  for (auto& [id, a] : alerts_) {
    if (a.state != AlertState::paused || !a.paused_until || *a.paused_until > now_) continue;
    a.state = AlertState::active;
    a.paused_until.reset();
    a.active_since = now_;
    a.escalated = false;
    out.push_back(transition(a, EventType::unpaused));
  }

  const auto& rules = protocol_->rules;
  for (std::size_t r = 0; r < rules.size(); ++r) {
    const Rule& rule = rules[r];
    if (!rule.applies_in(phase_)) continue;
    const Key key{r, -1};
    if (rule.kind == RuleKind::comm_lost) {
      const bool lost = monitor_ != core::MonitorState::online &&
                        seconds_between(monitor_since_, now_) >= rule.delay_s - 1e-9;
      if (!lost) continue;
      if (Alert* a = open_alert(key)) {
        if (!a->condition_present) condition_back(*a, std::nullopt, out);
      } else {
        raise(r, std::nullopt, std::nullopt, std::nullopt, "", out);
      }
    } else if (rule.kind == RuleKind::nibp_overdue) {
      const auto limit = overdue_limit(rule);
      if (!limit) continue;
      const auto ref = std::max(last_nibp_at_.value_or(phase_since_), phase_since_);
      const double elapsed = seconds_between(ref, now_);
      if (Alert* a = open_alert(key)) {
        if (a->condition_present) a->value = std::round(elapsed);
        continue;
      }
      if (elapsed >= *limit - 1e-9) raise(r, std::nullopt, std::round(elapsed), *limit, "s", out);
    }
  }

  // Escalation: active, not acknowledged, for escalate_after_s.
  for (auto& [id, a] : alerts_) {
    if (a.state != AlertState::active || a.escalated) continue;
    const auto k = key_of_.find(id);
    if (k == key_of_.end() || k->second.first == kOrphan) continue;
    const auto& esc = rules[k->second.first].escalate_after_s;
    if (!esc || seconds_between(a.active_since, now_) < *esc - 1e-9) continue;
    a.escalated = true;
    out.push_back(transition(a, EventType::escalated));
  }
}

std::vector<Transition> Engine::tick(core::Timestamp now) {
  std::vector<Transition> out;
  advance(now, out);
  if (phase_ == Phase::ended) return out;
  std::vector<std::int64_t> orphans;
  for (const auto& [id, k] : key_of_)
    if (k.first == kOrphan) orphans.push_back(id);
  // Alerts restored for a rule the protocol no longer has (or duplicates): cleared.
  for (auto id : orphans) close(alerts_.at(id), EventType::cleared, {}, "rule_removed", out);
  return out;
}

// --- inputs

std::vector<Transition> Engine::observe(const core::Observation& obs) {
  auto out = tick(obs.received_at);
  if (phase_ == Phase::ended) return out;
  core::Observation o = obs;
  core::invalidate_if_implausible(o);
  const auto& info = core::info(o.parameter);
  const int p = static_cast<int>(o.parameter);

  if (info.intermittent) {
    if (auto id = measurement_identity(o)) {
      auto it = last_measurement_.find(p);
      if (it != last_measurement_.end() && it->second == *id) return out;  // polled again
      last_measurement_[p] = *id;
    }
    if (o.validity != core::Validity::invalid) {
      last_nibp_at_ = now_;
      for (std::size_t r = 0; r < protocol_->rules.size(); ++r) {
        if (protocol_->rules[r].kind != RuleKind::nibp_overdue) continue;
        Alert* a = open_alert({r, -1});
        if (a && a->condition_present) condition_ended(*a, std::nullopt, "condition_ended", out);
      }
    }
  }
  if (phase_ == Phase::baseline && o.validity == core::Validity::valid)
    baseline_.add(o, protocol_->baseline);

  const auto& rules = protocol_->rules;
  for (std::size_t r = 0; r < rules.size(); ++r) {
    const Rule& rule = rules[r];
    if (!rule.applies_in(phase_)) continue;
    if (rule.kind == RuleKind::physiological && rule.parameter == o.parameter &&
        o.validity == core::Validity::valid)
      evaluate_physiological(r, o, out);
    else if (rule.kind == RuleKind::sensor_invalid &&
             (!rule.parameter || rule.parameter == o.parameter))
      evaluate_invalid(r, o, out);
  }
  return out;
}

void Engine::evaluate_physiological(std::size_t r, const core::Observation& o,
                                    std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  const auto limit = limit_of(rule);
  if (!limit) return;  // baseline-relative without a complete baseline
  const double v = o.value;
  const double L = *limit;
  const double h = rule.clear_hysteresis;
  bool breach = false;
  switch (rule.condition.kind) {
    case ConditionKind::above:
      breach = v > L;
      break;
    case ConditionKind::below:
      breach = v < L;
      break;
    case ConditionKind::rise_by:
    case ConditionKind::rise_by_percent:
      breach = v >= L;
      break;
    case ConditionKind::fall_by:
    case ConditionKind::fall_by_percent:
      breach = v <= L;
      break;
  }
  const bool clear_side = rule.condition.upward() ? v <= L - h : v >= L + h;
  const Key key{r, static_cast<int>(o.parameter)};

  if (Alert* a = open_alert(key)) {
    if (a->condition_present) {
      a->value = v;
      if (clear_side) condition_ended(*a, v, "condition_ended", out);
    } else if (breach) {
      a->limit = L;
      condition_back(*a, v, out);
    }
    return;
  }
  Track& tr = tracks_[key];
  if (!breach) {
    tr = {};
    return;
  }
  if (!tr.pending_since) tr.pending_since = now_;
  ++tr.pending_count;
  if (delay_met(rule, tr, core::info(o.parameter).intermittent))
    raise(r, o.parameter, v, L, o.unit, out);
}

void Engine::evaluate_invalid(std::size_t r, const core::Observation& o,
                              std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  const bool invalid = o.validity == core::Validity::invalid;
  const Key key{r, static_cast<int>(o.parameter)};
  if (Alert* a = open_alert(key)) {
    if (a->condition_present && !invalid)
      condition_ended(*a, std::nullopt, "condition_ended", out);
    else if (!a->condition_present && invalid)
      condition_back(*a, std::nullopt, out);
    return;
  }
  Track& tr = tracks_[key];
  if (!invalid) {
    tr = {};
    return;
  }
  if (!tr.pending_since) tr.pending_since = now_;
  ++tr.pending_count;
  if (delay_met(rule, tr, core::info(o.parameter).intermittent))
    raise(r, o.parameter, std::nullopt, std::nullopt, o.unit, out);
}

std::vector<Transition> Engine::monitor_state(core::MonitorState s, core::Timestamp at) {
  auto out = tick(at);
  if (phase_ == Phase::ended || s == monitor_) return out;
  const bool was_online = monitor_ == core::MonitorState::online;
  const bool online = s == core::MonitorState::online;
  monitor_ = s;
  if (was_online == online) return out;  // offline <-> error: still lost, same clock
  monitor_since_ = now_;
  if (!online) {
    tracks_.clear();  // no data: pending condition delays start again when data is back
  } else {
    for (std::size_t r = 0; r < protocol_->rules.size(); ++r) {
      if (protocol_->rules[r].kind != RuleKind::comm_lost) continue;
      Alert* a = open_alert({r, -1});
      if (a && a->condition_present) condition_ended(*a, std::nullopt, "condition_ended", out);
    }
  }
  advance(now_, out);
  return out;
}

// --- phase and actions

Gate Engine::gate() const {
  Gate g;
  const auto& spec = protocol_->baseline;
  if (spec.gate == GateMode::off || phase_ != Phase::baseline) return g;
  for (auto p : spec.parameters) {
    const auto n = baseline_.count(p);
    if (n >= spec.readings) continue;
    GateReason reason;
    reason.kind = GateReason::Kind::baseline_incomplete;
    reason.parameter = p;
    reason.message = std::string(core::to_string(p)) + ": " + std::to_string(n) + " of " +
                     std::to_string(spec.readings) + " valid baseline readings";
    g.reasons.push_back(std::move(reason));
  }
  for (const auto& [id, a] : alerts_) {
    const auto k = key_of_.find(id);
    if (k == key_of_.end() || k->second.first == kOrphan) continue;
    const Rule& rule = protocol_->rules[k->second.first];
    if (!rule.blocks_start || !rule.applies_in(Phase::baseline)) continue;
    GateReason reason;
    reason.kind = GateReason::Kind::breach;
    reason.parameter = a.parameter;
    reason.alert_id = id;
    reason.rule = a.rule;
    reason.message =
        "alert " + std::to_string(id) + " (" + a.rule + ") is " + std::string(to_string(a.state));
    if (a.parameter && a.value && a.limit)
      reason.message += ": " + std::string(core::to_string(*a.parameter)) + " " +
                        number_text(*a.value) + " " + a.unit + ", limit " + number_text(*a.limit);
    g.reasons.push_back(std::move(reason));
  }
  g.blocked = spec.gate == GateMode::block && !g.reasons.empty();
  return g;
}

void Engine::reevaluate_applicability(std::vector<Transition>& out) {
  std::vector<std::int64_t> ids;
  for (const auto& [id, a] : alerts_) ids.push_back(id);
  for (auto id : ids) {
    auto it = alerts_.find(id);
    if (it == alerts_.end()) continue;
    Alert& a = it->second;
    const Key k = key_of_.at(id);
    if (k.first == kOrphan || !a.condition_present) continue;
    const Rule& rule = protocol_->rules[k.first];
    if (!rule.applies_in(phase_))
      condition_ended(a, std::nullopt, "not_in_phase", out);
    else if (rule.kind == RuleKind::nibp_overdue)  // the interval starts again with the phase
      condition_ended(a, std::nullopt, "condition_ended", out);
  }
}

ActionResult Engine::set_phase(Phase to, core::Timestamp at, std::string_view actor,
                               std::string_view override_reason) {
  (void)actor;  // the caller journals the phase change itself, with its actor
  ActionResult res;
  if (phase_ == Phase::ended) {
    res.error = ActionError::session_ended;
    res.message = "the session has ended";
    return res;
  }
  const bool allowed = (phase_ == Phase::baseline && to == Phase::infusing) ||
                       (phase_ == Phase::infusing && to == Phase::recovery) || to == Phase::ended;
  if (!allowed) {
    res.error = ActionError::invalid_state;
    res.message =
        "cannot move from " + std::string(to_string(phase_)) + " to " + std::string(to_string(to));
    return res;
  }
  if (phase_ == Phase::baseline && to == Phase::infusing && override_reason.empty()) {
    const auto g = gate();
    if (g.blocked) {
      res.error = ActionError::gate_blocked;
      res.message = "baseline gate:";
      for (const auto& r : g.reasons) res.message += " " + r.message + ";";
      res.message.pop_back();
      return res;
    }
  }
  auto& out = res.transitions;
  advance(at, out);
  phase_ = to;
  phase_since_ = now_;
  if (to == Phase::ended) {
    std::vector<std::int64_t> ids;
    for (const auto& [id, a] : alerts_) ids.push_back(id);
    for (auto id : ids) close(alerts_.at(id), EventType::cleared, {}, "session_ended", out);
    tracks_.clear();
    return res;
  }
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    if (!protocol_->rules[it->first.first].applies_in(phase_))
      it = tracks_.erase(it);
    else
      ++it;
  }
  reevaluate_applicability(out);
  advance(now_, out);
  return res;
}

ActionResult Engine::acknowledge(std::int64_t alert_id, std::string_view actor,
                                 core::Timestamp at) {
  ActionResult res;
  if (phase_ == Phase::ended) {
    res.error = ActionError::session_ended;
    res.message = "the session has ended";
    return res;
  }
  auto it = alerts_.find(alert_id);
  if (it == alerts_.end()) {
    res.error = ActionError::unknown_alert;
    res.message = "no open alert " + std::to_string(alert_id) + " in this session";
    return res;
  }
  if (actor.empty()) {
    res.error = ActionError::invalid_argument;
    res.message = "an acknowledgement needs an actor";
    return res;
  }
  if (it->second.state != AlertState::active && it->second.state != AlertState::paused) {
    res.error = ActionError::invalid_state;
    res.message = "alert " + std::to_string(alert_id) + " is " +
                  std::string(to_string(it->second.state)) +
                  (it->second.state == AlertState::latched ? " (reset it)" : "");
    return res;
  }
  advance(at, res.transitions);
  Alert& a = alerts_.at(alert_id);
  a.state = AlertState::acknowledged;
  a.paused_until.reset();
  a.acknowledged_by = std::string(actor);
  a.acknowledged_at = now_;
  res.transitions.push_back(transition(a, EventType::acknowledged, actor));
  return res;
}

ActionResult Engine::pause(std::int64_t alert_id, double secs, std::string_view actor,
                           core::Timestamp at) {
  ActionResult res;
  if (phase_ == Phase::ended) {
    res.error = ActionError::session_ended;
    res.message = "the session has ended";
    return res;
  }
  auto it = alerts_.find(alert_id);
  if (it == alerts_.end()) {
    res.error = ActionError::unknown_alert;
    res.message = "no open alert " + std::to_string(alert_id) + " in this session";
    return res;
  }
  if (actor.empty() || !std::isfinite(secs) || secs <= 0 || secs > protocol_->max_pause_s) {
    res.error = ActionError::invalid_argument;
    res.message = actor.empty()
                      ? std::string("a pause needs an actor")
                      : "pause seconds must be > 0 and <= " + number_text(protocol_->max_pause_s);
    return res;
  }
  if (it->second.state != AlertState::active && it->second.state != AlertState::paused) {
    res.error = ActionError::invalid_state;
    res.message =
        "alert " + std::to_string(alert_id) + " is " + std::string(to_string(it->second.state));
    return res;
  }
  advance(at, res.transitions);
  Alert& a = alerts_.at(alert_id);
  a.state = AlertState::paused;
  a.paused_until = now_ + seconds(secs);
  res.transitions.push_back(transition(a, EventType::paused, actor));
  return res;
}

ActionResult Engine::reset(std::int64_t alert_id, std::string_view actor, core::Timestamp at) {
  ActionResult res;
  if (phase_ == Phase::ended) {
    res.error = ActionError::session_ended;
    res.message = "the session has ended";
    return res;
  }
  auto it = alerts_.find(alert_id);
  if (it == alerts_.end()) {
    res.error = ActionError::unknown_alert;
    res.message = "no open alert " + std::to_string(alert_id) + " in this session";
    return res;
  }
  if (actor.empty()) {
    res.error = ActionError::invalid_argument;
    res.message = "a reset needs an actor";
    return res;
  }
  if (it->second.state != AlertState::latched) {
    res.error = ActionError::invalid_state;
    res.message = "alert " + std::to_string(alert_id) + " is " +
                  std::string(to_string(it->second.state)) + ", not latched";
    return res;
  }
  advance(at, res.transitions);
  close(alerts_.at(alert_id), EventType::reset, actor, "reset", res.transitions);
  return res;
}

}  // namespace vitalsd::alarms
