#include "alarms/engine.hpp"

#include "core/value_text.hpp"

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
  return core::format_value(v);
}

// Whether `v` breaches a physiological rule whose limit is `limit` ("SBP > 180": strict for
// above/below, inclusive for the baseline-relative kinds).
bool past_limit(const Rule& rule, double v, double limit) {
  switch (rule.condition.kind) {
    case ConditionKind::above:
      return v > limit;
    case ConditionKind::below:
      return v < limit;
    case ConditionKind::rise_by:
    case ConditionKind::rise_by_percent:
      return v >= limit;
    case ConditionKind::fall_by:
    case ConditionKind::fall_by_percent:
      return v <= limit;
  }
  return false;
}

// Whether `v` is past the rule's clear band: where its alert's condition may end.
bool on_clear_side(const Rule& rule, double v, double limit) {
  const double h = rule.clear_hysteresis;
  return rule.condition.upward() ? v <= limit - h : v >= limit + h;
}

}  // namespace

bool MonitorCapabilities::has(core::Parameter p) const {
  return parameters.empty() ||
         std::find(parameters.begin(), parameters.end(), p) != parameters.end();
}

double MonitorCapabilities::stale_after_s() const {
  return std::max(kMaxIntegrationStepS, 2 * send_interval_s);
}

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
    case EventType::superseded:
      return "superseded";
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
    case ActionError::pause_limit:
      return "pause_limit";
    case ActionError::discharge_blocked:
      return "discharge_blocked";
  }
  return "none";
}

// --- construction and restore

Engine::Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id,
               MonitorCapabilities monitor)
    : protocol_(std::move(protocol)),
      caps_(std::move(monitor)),
      session_(session),
      next_id_(std::move(next_id)) {
  if (!(caps_.send_interval_s > 0) || !std::isfinite(caps_.send_interval_s))
    caps_.send_interval_s = 1;
  const auto& rules = protocol_->rules;
  applies_since_.assign(rules.size(), core::Timestamp{});
  for (std::size_t r = 0; r < rules.size(); ++r) order_.push_back(r);
  // Higher priority first: within one reading, a higher rule is raised before a lower one on
  // the same parameter, so the lower one's `raised` already names what supersedes it.
  std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
    return rules[a].priority < rules[b].priority;
  });
}

Engine::Engine(std::shared_ptr<const Protocol> protocol, std::int64_t session, IdSource next_id,
               core::Timestamp start, MonitorCapabilities monitor)
    : Engine(std::move(protocol), session, std::move(next_id), std::move(monitor)) {
  phase_since_ = start;
  now_ = start;
  monitor_since_ = start;
  applies_since_.assign(protocol_->rules.size(), start);
}

Engine Engine::restore(std::shared_ptr<const Protocol> protocol, std::int64_t session,
                       IdSource next_id, Snapshot snapshot, MonitorCapabilities monitor) {
  Engine e(std::move(protocol), session, std::move(next_id), std::move(monitor));
  e.restarted_ = true;
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
  e.applies_since_.assign(e.protocol_->rules.size(), e.now_);
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
  t.level = a.level;
  t.superseded_by = a.superseded_by;
  if (const Rule* rule = rule_of(a.id)) t.direction = std::string(rule->direction());
  t.actor = std::string(actor);
  t.at = now_;
  t.reason = std::string(reason);
  if (a.state == AlertState::paused) t.until = a.paused_until;
  return t;
}

const Rule* Engine::rule_of(std::int64_t alert_id) const {
  const auto k = key_of_.find(alert_id);
  if (k == key_of_.end() || k->second.first == kOrphan) return nullptr;
  return &protocol_->rules[k->second.first];
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
  clearing_since_.erase(id);
}

// Whether the monitor can feed the rule: it measures the rule's parameter or its fallback.
bool Engine::measurable(const Rule& rule) const {
  switch (rule.kind) {
    case RuleKind::physiological:
    case RuleKind::sensor_invalid:
      return !rule.parameter || caps_.has(*rule.parameter) ||
             (rule.fallback && caps_.has(*rule.fallback));
    case RuleKind::nibp_overdue:
      return caps_.has(core::Parameter::nibp_sys) || caps_.has(core::Parameter::nibp_dia) ||
             caps_.has(core::Parameter::nibp_mean);
    default:
      return true;
  }
}

bool Engine::absent(core::Parameter p) const {
  if (!caps_.has(p)) return true;
  const auto it = last_valid_.find(static_cast<int>(p));
  return it == last_valid_.end() || seconds_between(it->second, now_) > caps_.stale_after_s();
}

// A physiological alert's latest value is past the limit itself (not only short of the clear
// band): reminders and escalation wait while it is not. Technical alerts: always.
bool Engine::beyond_limit(const Alert& a) const {
  const Rule* rule = rule_of(a.id);
  if (!rule || rule->kind != RuleKind::physiological || !a.value || !a.limit) return true;
  return past_limit(*rule, *a.value, *a.limit);
}

// A continuous parameter is missing after delay_s, but never before two of the monitor's
// sending intervals have passed without it: a slow sender is not a lost sensor.
double Engine::missing_delay(const Rule& rule) const {
  return std::max(rule.delay_s, 2 * caps_.send_interval_s);
}

std::vector<NotApplicable> Engine::not_applicable() const {
  std::vector<NotApplicable> v;
  for (const auto& rule : protocol_->rules) {
    if (measurable(rule)) continue;
    NotApplicable n;
    n.rule = rule.id;
    n.parameter = rule.parameter;
    n.reason = rule.kind == RuleKind::nibp_overdue
                   ? std::string("the monitor does not measure nibp")
                   : "the monitor does not measure " +
                         std::string(rule.parameter ? core::to_string(*rule.parameter) : "it");
    v.push_back(std::move(n));
  }
  return v;
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
                   std::optional<double> limit, std::string unit, std::vector<Transition>& out,
                   std::string_view reason) {
  const Rule& rule = protocol_->rules[r];
  Alert a;
  a.id = new_id();
  a.rule = rule.id;
  a.kind = rule.kind;
  a.parameter = p;
  a.priority = rule.priority;
  if (rule.kind == RuleKind::comm_lost) {
    // Losing the monitor hides every physiological alert it could have raised: it ranks at
    // least as high as the highest of them in this phase.
    for (const auto& other : protocol_->rules)
      if (other.kind == RuleKind::physiological && other.applies_in(phase_) && measurable(other))
        a.priority = std::min(a.priority, other.priority);
  }
  a.value = value;
  a.limit = limit;
  a.unit = std::move(unit);
  a.raised_at = now_;
  a.active_since = now_;
  const Key key{r, p ? static_cast<int>(*p) : -1};
  tracks_.erase(key);
  open_by_key_[key] = a.id;
  key_of_[a.id] = key;
  a.superseded_by = superseding(a);
  out.push_back(transition(a, EventType::raised, {}, reason));
  alerts_[a.id] = std::move(a);
}

void Engine::condition_ended(Alert& a, std::optional<double> value, std::string_view reason,
                             std::vector<Transition>& out) {
  if (value) a.value = value;
  clearing_since_.erase(a.id);
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
  a.level = 0;
  out.push_back(transition(a, EventType::reactivated));
}

// Acknowledged (reminder, worsened) or paused (worsened) -> active; escalation starts again.
void Engine::reactivate(Alert& a, std::string_view reason, std::vector<Transition>& out) {
  if (a.state == AlertState::paused && a.paused_until && *a.paused_until > now_)
    a.paused_s = std::max(0.0, a.paused_s - seconds_between(now_, *a.paused_until));
  a.state = AlertState::active;
  a.paused_until.reset();
  a.silenced_value.reset();
  a.active_since = now_;
  a.escalated = false;
  a.level = 0;
  out.push_back(transition(a, EventType::reactivated, {}, reason));
}

// Each level of escalate_after_s that is due: one `escalated` event per level, counted from
// when the alert became active. Paused and superseded alerts wait (a due level follows the
// pause's end at once); acknowledged ones do not escalate.
void Engine::escalate(std::vector<Transition>& out) {
  for (auto& [id, a] : alerts_) {
    if (a.state != AlertState::active || a.superseded_by || !beyond_limit(a)) continue;
    const Rule* rule = rule_of(id);
    if (!rule) continue;
    const auto& levels = rule->escalate_after_s;
    const double active_for = seconds_between(a.active_since, now_);
    while (static_cast<std::size_t>(a.level) < levels.size() &&
           active_for >= levels[static_cast<std::size_t>(a.level)] - 1e-9) {
      ++a.level;
      a.escalated = true;
      out.push_back(transition(a, EventType::escalated));
    }
  }
}

// Whether alert `b` ranks above alert `a` of a rule on the same side: a higher priority, or
// the same priority and a limit further out (SpO2 < 85 above SpO2 < 90).
namespace {
bool ranks_above(const Alert& b, const Alert& a, bool upward) {
  if (b.priority != a.priority) return b.priority < a.priority;
  if (!b.limit || !a.limit) return false;
  return upward ? *b.limit > *a.limit : *b.limit < *a.limit;
}
}  // namespace

// The open alert that announces `a` instead: of a physiological rule on the same parameter
// and the same side of its limit that ranks above it, with its condition present (the
// highest ranked, then the oldest).
std::optional<std::int64_t> Engine::superseding(const Alert& a) const {
  const Rule* rule = rule_of(a.id);
  if (!rule || a.kind != RuleKind::physiological || !a.parameter) return std::nullopt;
  const bool upward = rule->condition.upward();
  const Alert* best = nullptr;
  for (const auto& [id, b] : alerts_) {
    if (id == a.id || b.kind != RuleKind::physiological || b.parameter != a.parameter ||
        !b.condition_present || b.superseded_by || !ranks_above(b, a, upward))
      continue;
    const Rule* other = rule_of(id);
    if (!other || other->direction() != rule->direction()) continue;
    if (!best || ranks_above(b, *best, upward)) best = &b;
  }
  if (!best) return std::nullopt;
  return best->id;
}

void Engine::supersede(std::vector<Transition>& out) {
  // The highest-ranked alerts settle first; a chain (low < medium < high) needs a few passes.
  std::map<std::int64_t, std::optional<std::int64_t>> now;
  for (const auto& [id, a] : alerts_) now[id] = a.superseded_by;
  for (std::size_t pass = 0; pass <= alerts_.size(); ++pass) {
    bool changed = false;
    for (auto& [id, a] : alerts_) {
      const auto s = superseding(a);
      if (s == a.superseded_by) continue;
      a.superseded_by = s;
      changed = true;
    }
    if (!changed) break;
  }
  for (auto& [id, a] : alerts_)
    if (a.superseded_by != now[id])
      out.push_back(transition(a, EventType::superseded, {},
                               a.superseded_by ? "superseded" : "no_longer_superseded"));
}

std::vector<Transition> Engine::finish(std::vector<Transition> out) {
  if (phase_ != Phase::ended) {
    supersede(out);
    escalate(out);  // an alert no longer superseded may be due
  }
  return out;
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
  if (restarted_) {
    // Back after a restart: the monitor is reconnecting now; what was missing before the
    // restart is not known to have stayed missing.
    restarted_ = false;
    monitor_since_ = now_;
    applies_since_.assign(protocol_->rules.size(), now_);
  }

  // Pauses that are over: the condition is still present (otherwise the alert would have
  // been cleared or latched), so the alert is active again. The escalation clock was not
  // stopped by the pause: a level that fell due during it follows at once (escalate()).
  for (auto& [id, a] : alerts_) {
    if (a.state != AlertState::paused || !a.paused_until || *a.paused_until > now_) continue;
    a.state = AlertState::active;
    a.paused_until.reset();
    out.push_back(transition(a, EventType::unpaused));
  }
  // Reminders: acknowledged, condition still present, for the rule's reactivate_after_s.
  for (auto& [id, a] : alerts_) {
    if (a.state != AlertState::acknowledged || !a.condition_present || !a.acknowledged_at ||
        !beyond_limit(a))
      continue;
    const Rule* rule = rule_of(id);
    if (!rule || !rule->reactivate_after_s ||
        seconds_between(*a.acknowledged_at, now_) < *rule->reactivate_after_s - 1e-9)
      continue;
    reactivate(a, "ack_expired", out);
  }

  const auto& rules = protocol_->rules;
  for (std::size_t r = 0; r < rules.size(); ++r) {
    const Rule& rule = rules[r];
    if (!rule.applies_in(phase_) || !measurable(rule)) continue;
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
      // From the last cuff, whichever phase it was taken in (a phase change does not restart
      // the clock); before any cuff, from when the rule began to apply.
      const auto ref = last_nibp_at_.value_or(applies_since_[r]);
      const double elapsed = seconds_between(ref, now_);
      if (Alert* a = open_alert(key)) {
        if (a->condition_present) a->value = std::round(elapsed);
        continue;
      }
      if (elapsed >= *limit - 1e-9) raise(r, std::nullopt, std::round(elapsed), *limit, "s", out);
    } else if (rule.kind == RuleKind::sensor_invalid) {
      watch_missing(r, out);
    }
  }
  escalate(out);
}

// sensor_invalid on continuous parameters: no valid value (absent, questionable or invalid)
// for delay_s while the monitor is online, counted from the later of the last valid reading,
// the monitor coming online and the rule starting to apply. Without `parameter` the rule
// watches every continuous parameter that a physiological rule of the phase watches.
void Engine::watch_missing(std::size_t r, std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  if (monitor_ != core::MonitorState::online) return;
  std::vector<core::Parameter> watched;
  if (rule.parameter) {
    watched.push_back(*rule.parameter);
  } else {
    for (const auto& other : protocol_->rules)
      if (other.kind == RuleKind::physiological && other.applies_in(phase_) && other.parameter &&
          caps_.has(*other.parameter) &&
          std::find(watched.begin(), watched.end(), *other.parameter) == watched.end())
        watched.push_back(*other.parameter);
  }
  for (auto p : watched) {
    if (core::info(p).intermittent) continue;  // NIBP: counted in readings (evaluate_invalid)
    // A parameter the monitor does not have is configuration, not a missing value.
    if (!caps_.has(p) && !(rule.parameter && rule.fallback && caps_.has(*rule.fallback))) continue;
    const int pi = static_cast<int>(p);
    auto ref = std::max(monitor_since_, applies_since_[r]);
    if (auto it = last_valid_.find(pi); it != last_valid_.end()) ref = std::max(ref, it->second);
    if (rule.parameter && rule.fallback)  // a valid pulse rate is a heart rate
      if (auto it = last_valid_.find(static_cast<int>(*rule.fallback)); it != last_valid_.end())
        ref = std::max(ref, it->second);
    if (seconds_between(ref, now_) < missing_delay(rule) - 1e-9) continue;
    if (Alert* a = open_alert({r, pi})) {
      if (!a->condition_present) condition_back(*a, std::nullopt, out);
      continue;
    }
    // What the parameter delivered last: questionable or invalid values, or nothing since its
    // last valid one.
    const auto seen = last_seen_.find(pi);
    std::string_view why = "no_data";
    if (seen != last_seen_.end() && seen->second == core::Validity::questionable)
      why = "questionable";
    else if (seen != last_seen_.end() && seen->second == core::Validity::invalid)
      why = "invalid";
    raise(r, p, std::nullopt, std::nullopt, std::string(core::info(p).ucum), out, why);
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
  return finish(std::move(out));
}

// --- inputs

std::vector<Transition> Engine::observe(const core::Observation& obs) {
  auto out = tick(obs.received_at);
  if (phase_ == Phase::ended) return out;
  core::Observation o = obs;
  core::invalidate_if_implausible(o);
  const auto& info = core::info(o.parameter);
  const int p = static_cast<int>(o.parameter);
  // A value the device marked valid is a reading for the rules even when vitalsd's range table
  // finds it implausible (HR 0 is asystole, not a sensor problem); it never enters a baseline.
  const bool device_valid = o.validity == core::Validity::valid || o.implausible;

  if (info.intermittent) {
    if (auto id = measurement_identity(o)) {
      auto it = last_measurement_.find(p);
      if (it != last_measurement_.end() && it->second == *id) return out;  // polled again
      last_measurement_[p] = *id;
    }
    // A cuff counts by when it was measured (the monitor's time stamp; never later than now).
    const auto measured = std::min(o.device_time.value_or(now_), now_);
    if (seconds_between(measured, now_) > protocol_->nibp_max_age_s + 1e-9 ||
        (last_nibp_at_ && measured < *last_nibp_at_))
      return out;  // too old, or older than the cuff already applied: for the record only
    if (o.validity != core::Validity::invalid && (!last_nibp_at_ || measured > *last_nibp_at_)) {
      last_nibp_at_ = measured;  // a new cuff (its other values share the time stamp)
      for (std::size_t r = 0; r < protocol_->rules.size(); ++r) {
        if (protocol_->rules[r].kind != RuleKind::nibp_overdue) continue;
        Alert* a = open_alert({r, -1});
        if (a && a->condition_present) condition_ended(*a, std::nullopt, "condition_ended", out);
      }
    }
  }
  if (phase_ == Phase::baseline && o.validity == core::Validity::valid) {
    baseline_.add(o, protocol_->baseline);
    // A stand-in counts toward the baseline of the parameter it stands in for (pulse rate for
    // heart rate on a chair without ECG).
    for (const auto& rule : protocol_->rules)
      if (rule.fallback == o.parameter && rule.parameter && absent(*rule.parameter) &&
          std::find(protocol_->baseline.parameters.begin(), protocol_->baseline.parameters.end(),
                    *rule.parameter) != protocol_->baseline.parameters.end()) {
        core::Observation as = o;
        as.parameter = *rule.parameter;
        baseline_.add(as, protocol_->baseline);
        break;
      }
  }

  last_seen_[p] = o.validity;

  const auto& rules = protocol_->rules;
  for (const std::size_t r : order_) {
    const Rule& rule = rules[r];
    if (!rule.applies_in(phase_) || !measurable(rule)) continue;
    const bool own = !rule.parameter || rule.parameter == o.parameter;
    // The stand-in is read while the rule's own parameter has no valid value (checked before
    // this reading counts), and for as long as an alert it raised is open.
    const bool stand_in = rule.parameter && rule.fallback == o.parameter;
    if (rule.kind == RuleKind::physiological && device_valid) {
      if (own) {
        evaluate_physiological(r, o, out);
      } else if (stand_in) {
        const bool standing_in = absent(*rule.parameter);
        if (standing_in || open_alert({r, p}))
          evaluate_physiological(r, o, out);
        else
          tracks_.erase({r, p});  // a delay the stand-in began does not outlive its standing in
        if (standing_in) clear_from_fallback(r, o, out);
      }
    } else if (rule.kind == RuleKind::sensor_invalid && (own || (stand_in && device_valid))) {
      core::Observation as = o;
      if (!own) as.parameter = *rule.parameter;  // a valid stand-in is a valid value
      evaluate_invalid(r, as, device_valid, out);
    }
  }
  if (device_valid) last_valid_[p] = now_;
  return finish(std::move(out));
}

// The rule's own parameter has no valid value and its stand-in is back on the normal side: an
// alert the own parameter raised ends too (it would otherwise wait for a value that may not
// come back, reminding about a heart rate the pulse rate shows is normal).
void Engine::clear_from_fallback(std::size_t r, const core::Observation& o,
                                 std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  Alert* a = open_alert({r, static_cast<int>(*rule.parameter)});
  const auto limit = limit_of(rule);
  if (!a || !a->condition_present || !limit) return;
  if (cleared_for_long_enough(rule, *a, on_clear_side(rule, o.value, *limit)))
    condition_ended(*a, std::nullopt, "condition_ended", out);
}

// A reading on the clear side ends the condition once the value has stayed there for the
// rule's clear_after_s (at once without one); one short of it starts the count again.
bool Engine::cleared_for_long_enough(const Rule& rule, const Alert& a, bool clear_side) {
  if (!clear_side) {
    clearing_since_.erase(a.id);
    return false;
  }
  if (rule.clear_after_s <= 0) return true;
  const auto since = clearing_since_.try_emplace(a.id, now_).first->second;
  return seconds_between(since, now_) >= rule.clear_after_s - 1e-9;
}

void Engine::evaluate_physiological(std::size_t r, const core::Observation& o,
                                    std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  const auto limit = limit_of(rule);
  if (!limit) return;  // baseline-relative without a complete baseline
  const double v = o.value;
  const double L = *limit;
  const bool breach = past_limit(rule, v, L);
  const bool clear_side = on_clear_side(rule, v, L);
  const Key key{r, static_cast<int>(o.parameter)};

  if (Alert* a = open_alert(key)) {
    if (a->condition_present) {
      a->value = v;
      if (cleared_for_long_enough(rule, *a, clear_side)) {
        condition_ended(*a, v, "condition_ended", out);
      } else if (rule.worsen_by && a->silenced_value &&
                 (a->state == AlertState::acknowledged || a->state == AlertState::paused)) {
        const double worse =
            rule.condition.upward() ? v - *a->silenced_value : *a->silenced_value - v;
        if (worse >= *rule.worsen_by - 1e-9) reactivate(*a, "worsened", out);
      }
    } else if (breach) {
      a->limit = L;
      condition_back(*a, v, out);
    }
    return;
  }
  Track& tr = tracks_[key];
  if (rule.delay_area) {
    const double depth = rule.condition.upward() ? v - L : L - v;
    if (integrate(rule, tr, breach, std::max(depth, 0.0)))
      raise(r, o.parameter, v, L, o.unit, out,
            tr.area < *rule.delay_area - 1e-9 ? "safety_net" : "");
    return;
  }
  if (!breach) {
    tr = {};
    return;
  }
  if (!tr.pending_since) tr.pending_since = now_;
  ++tr.pending_count;
  if (delay_met(rule, tr, core::info(o.parameter).intermittent))
    raise(r, o.parameter, v, L, o.unit, out);
}

// One reading of an integrating delay; true when the sum has reached delay_area on a
// breaching reading.
// Each breaching reading stands for the time since the previous reading, up to two of the
// monitor's sending intervals (at least kMaxIntegrationStepS): a monitor sending every 10 s
// integrates 10 s per reading, not 1. With a safety net, the rule's count of separate
// breaches starting within safety_net_s raises too (Nellcor SatSeconds).
bool Engine::integrate(const Rule& rule, Track& tr, bool breach, double depth) const {
  const double cap = caps_.stale_after_s();
  const double step = tr.last_at ? std::min(seconds_between(*tr.last_at, now_), cap) : 1.0;
  tr.last_at = now_;
  const bool starts = breach && !tr.breaching;
  tr.breaching = breach;
  if (!breach) {
    if (!tr.normal_since) tr.normal_since = now_;
    if (seconds_between(*tr.normal_since, now_) >= rule.reset_after_s - 1e-9) tr.area = 0;
    return false;
  }
  tr.normal_since.reset();
  tr.area += depth * step;
  if (rule.safety_net_breaches > 0 && starts) {
    auto& v = tr.breach_starts;
    v.push_back(now_);
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](core::Timestamp t) {
                             return seconds_between(t, now_) > rule.safety_net_s + 1e-9;
                           }),
            v.end());
    if (v.size() >= rule.safety_net_breaches) return true;
  }
  return tr.area >= *rule.delay_area - 1e-9;
}

void Engine::evaluate_invalid(std::size_t r, const core::Observation& o, bool device_valid,
                              std::vector<Transition>& out) {
  const Rule& rule = protocol_->rules[r];
  const Key key{r, static_cast<int>(o.parameter)};
  if (!core::info(o.parameter).intermittent) {
    // Continuous: the time without a valid value is watched in advance(); a valid one ends it.
    Alert* a = open_alert(key);
    if (a && a->condition_present && device_valid)
      condition_ended(*a, std::nullopt, "condition_ended", out);
    return;
  }
  const bool invalid = o.validity == core::Validity::invalid && !device_valid;
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
  return finish(std::move(out));
}

// --- phase and actions

Gate Engine::gate() const {
  Gate g;
  const auto& spec = protocol_->baseline;
  if (spec.gate == GateMode::off || phase_ != Phase::baseline) return g;
  for (auto p : spec.parameters) {
    // A parameter the monitor cannot measure (nor a stand-in for it) has no baseline to wait for.
    bool measured = caps_.has(p);
    for (const auto& rule : protocol_->rules)
      measured = measured || (rule.parameter == p && rule.fallback && caps_.has(*rule.fallback));
    if (!measured) continue;
    const auto n = baseline_.count(p);
    if (n >= spec.readings) continue;
    GateReason reason;
    reason.kind = GateReason::Kind::baseline_incomplete;
    reason.parameter = p;
    reason.message = std::string(core::to_string(p)) + ": " + std::to_string(n) + " of " +
                     std::to_string(spec.readings) + " valid baseline readings";
    g.reasons.push_back(std::move(reason));
  }
  for (const auto& [p, limit] : spec.above) {
    const auto value = baseline_.value(p, spec);  // nullopt while incomplete (reported above)
    if (!value || *value <= limit) continue;
    GateReason reason;
    reason.kind = GateReason::Kind::baseline_high;
    reason.parameter = p;
    reason.message = std::string(core::to_string(p)) + ": baseline " + number_text(*value) + " " +
                     std::string(core::info(p).ucum) + " is above " + number_text(limit) +
                     " (pre-dose check)";
    g.reasons.push_back(std::move(reason));
  }
  for (const auto& [id, a] : alerts_) {
    const auto k = key_of_.find(id);
    if (k == key_of_.end() || k->second.first == kOrphan) continue;
    const Rule& rule = protocol_->rules[k->second.first];
    if (!rule.blocks_start || !rule.applies_in(Phase::baseline) || !measurable(rule)) continue;
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

std::vector<std::string> Engine::discharge(core::Timestamp at) const {
  std::vector<std::string> reasons;
  if (phase_ == Phase::ended) return reasons;
  for (const auto& [id, a] : alerts_) {
    if (a.priority != Priority::high) continue;
    std::string m = "high-priority alert " + std::to_string(id) + " (" + a.rule + ") is " +
                    std::string(to_string(a.state));
    if (a.parameter && a.value)
      m += ": " + std::string(core::to_string(*a.parameter)) + " " + number_text(*a.value) + " " +
           a.unit;
    reasons.push_back(std::move(m));
  }
  // Before the infusion started no drug was given: only open alerts hold the session.
  if (protocol_->min_recovery_s && phase_ != Phase::baseline) {
    const double need = *protocol_->min_recovery_s;
    const double in_recovery =
        phase_ == Phase::recovery ? seconds_between(phase_since_, std::max(at, now_)) : 0;
    if (in_recovery < need - 1e-9)
      reasons.push_back(
          phase_ == Phase::recovery
              ? "in recovery for " + number_text(std::floor(in_recovery)) +
                    " s of the protocol's " + "min_recovery_s " + number_text(need) + " s"
              : "the session is " + std::string(to_string(phase_)) + ": recovery (min_recovery_s " +
                    number_text(need) + " s) has not begun");
  }
  return reasons;
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
    // An overdue cuff stays overdue across a phase change: only a new cuff ends it.
    if (!rule.applies_in(phase_)) condition_ended(a, std::nullopt, "not_in_phase", out);
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
  if (to == Phase::ended && override_reason.empty()) {
    const auto reasons = discharge(at);
    if (!reasons.empty()) {
      res.error = ActionError::discharge_blocked;
      res.message = "discharge blocked:";
      for (const auto& r : reasons) res.message += " " + r + ";";
      res.message.pop_back();
      return res;
    }
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
  for (std::size_t r = 0; r < protocol_->rules.size(); ++r)
    if (!protocol_->rules[r].applies_in(phase_)) applies_since_[r] = now_;
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
  res.transitions = finish(std::move(res.transitions));
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
  auto silence = [&](Alert& a, std::string_view reason) {
    if (a.state == AlertState::paused && a.paused_until && *a.paused_until > now_)
      a.paused_s = std::max(0.0, a.paused_s - seconds_between(now_, *a.paused_until));
    if (a.state == AlertState::active) a.silenced_value = a.value;
    a.state = AlertState::acknowledged;
    a.paused_until.reset();
    a.acknowledged_by = std::string(actor);
    a.acknowledged_at = now_;
    res.transitions.push_back(transition(a, EventType::acknowledged, actor, reason));
  };
  silence(alerts_.at(alert_id), {});
  // What it supersedes is acknowledged with it: one announcement, one acknowledgement.
  for (auto& [id, b] : alerts_)
    if (b.superseded_by == alert_id &&
        (b.state == AlertState::active || b.state == AlertState::paused))
      silence(b, "superseding_acknowledged");
  res.transitions = finish(std::move(res.transitions));
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
  if (const auto cap = protocol_->max_paused_total_s) {
    const Alert& a = it->second;
    const auto t = std::max(at, now_);
    double used = a.paused_s;
    if (a.state == AlertState::paused && a.paused_until && *a.paused_until > t)
      used -= seconds_between(t, *a.paused_until);  // extending: the unused rest is given back
    if (used + secs > *cap + 1e-9) {
      res.error = ActionError::pause_limit;
      res.message = "pause_limit: alert " + std::to_string(alert_id) + " has been paused " +
                    number_text(std::round(used)) + " s of the protocol's max_paused_total_s " +
                    number_text(*cap) + " s; a pause of " + number_text(secs) + " s is refused";
      return res;
    }
  }
  advance(at, res.transitions);
  // advance() only unpauses, escalates or reminds: the alert is still active or paused.
  Alert& a = alerts_.at(alert_id);
  if (a.state == AlertState::paused && a.paused_until && *a.paused_until > now_)
    a.paused_s = std::max(0.0, a.paused_s - seconds_between(now_, *a.paused_until));
  else
    a.silenced_value = a.value;
  a.state = AlertState::paused;
  a.paused_until = now_ + seconds(secs);
  a.paused_s += secs;
  res.transitions.push_back(transition(a, EventType::paused, actor));
  res.transitions = finish(std::move(res.transitions));
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
  res.transitions = finish(std::move(res.transitions));
  return res;
}

}  // namespace vitalsd::alarms
