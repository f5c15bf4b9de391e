#include "alarms/protocol.hpp"

#include "core/value_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

namespace vitalsd::alarms {
namespace {

constexpr std::array<std::string_view, kPhaseCount> kPhaseNames{"baseline", "infusing", "recovery",
                                                                "ended"};
constexpr std::array<std::string_view, 3> kPriorityNames{"high", "medium", "low"};
constexpr std::array<std::string_view, 6> kKindNames{"physiological",  "comm_lost",
                                                     "nibp_overdue",   "sensor_invalid",
                                                     "storage_failed", "feed_undelivered"};
constexpr std::array<std::string_view, 6> kConditionNames{
    "above", "below", "rise_by", "fall_by", "rise_by_percent", "fall_by_percent"};

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date/time";
  }
}

// Collects diagnostics for one file; every message names the key path.
class Parser {
 public:
  Parser(const std::string& file, core::Diagnostics& out) : file_(file), out_(out) {}

  core::SourcePos pos(const toml::node& n) const {
    const auto& s = n.source();
    return {file_, static_cast<int>(s.begin.line), static_cast<int>(s.begin.column)};
  }
  void error(const toml::node& n, std::string message) {
    out_.push_back({pos(n), std::move(message)});
    ++errors_;
  }
  void error(const core::SourcePos& p, std::string message) {
    out_.push_back({p, std::move(message)});
    ++errors_;
  }
  int errors() const { return errors_; }

  void unknown_keys(const toml::table& t, const std::string& path,
                    std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
      std::string list;
      for (auto n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      error(v, "unknown key '" + join(path, k.str()) + "' (known: " + list + ")");
    }
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  std::optional<std::string> string(const toml::table& t, const std::string& path,
                                    std::string_view key) {
    const auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (const auto* s = n->as_string()) return s->get();
    error(*n, join(path, key) + ": expected a string, got " + std::string(type_name(*n)));
    return std::nullopt;
  }

  std::optional<double> number(const toml::table& t, const std::string& path,
                               std::string_view key) {
    const auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (const auto* i = n->as_integer()) return static_cast<double>(i->get());
    if (const auto* f = n->as_floating_point()) {
      if (std::isfinite(f->get())) return f->get();
      error(*n, join(path, key) + ": must be a finite number");
      return std::nullopt;
    }
    error(*n, join(path, key) + ": expected a number, got " + std::string(type_name(*n)));
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const toml::table& t, const std::string& path,
                                      std::string_view key) {
    const auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (const auto* i = n->as_integer()) return i->get();
    error(*n, join(path, key) + ": expected an integer, got " + std::string(type_name(*n)));
    return std::nullopt;
  }

  std::optional<bool> boolean(const toml::table& t, const std::string& path, std::string_view key) {
    const auto* n = t.get(key);
    if (!n) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    error(*n, join(path, key) + ": expected true or false, got " + std::string(type_name(*n)));
    return std::nullopt;
  }

  // An array of strings; each element is passed to `each` with its node.
  template <typename F>
  bool strings(const toml::table& t, const std::string& path, std::string_view key, F each) {
    const auto* n = t.get(key);
    if (!n) return false;
    const auto* a = n->as_array();
    if (!a) {
      error(*n,
            join(path, key) + ": expected an array of strings, got " + std::string(type_name(*n)));
      return true;
    }
    for (const auto& e : *a) {
      if (const auto* s = e.as_string())
        each(s->get(), e);
      else
        error(e, join(path, key) + ": expected strings, got " + std::string(type_name(e)));
    }
    return true;
  }

  const toml::table* table(const toml::table& t, const std::string& path, std::string_view key) {
    const auto* n = t.get(key);
    if (!n) return nullptr;
    if (const auto* tt = n->as_table()) return tt;
    error(*n, join(path, key) + ": expected a table, got " + std::string(type_name(*n)));
    return nullptr;
  }

  void parse_rule(const toml::table& t, const std::string& path, Protocol& p);
  void check_limits(const Protocol& p);

 private:
  const std::string& file_;
  core::Diagnostics& out_;
  int errors_ = 0;
};

std::string known_parameters() {
  std::string s;
  for (const auto& i : core::all_parameters()) s += (s.empty() ? "" : ", ") + std::string(i.name);
  return s;
}

std::string fmt_number(double v) {
  return core::format_value(v);
}

void Parser::parse_rule(const toml::table& t, const std::string& path, Protocol& p) {
  unknown_keys(t, path,
               {"id",
                "name",
                "parameter",
                "technical",
                "above",
                "below",
                "rise_by",
                "fall_by",
                "rise_by_percent",
                "fall_by_percent",
                "delay_s",
                "delay_readings",
                "clear_hysteresis",
                "priority",
                "phases",
                "latching",
                "escalate_after_s",
                "blocks_start",
                "interval_s",
                "grace_s",
                "reactivate_after_s",
                "worsen_by",
                "delay_area",
                "reset_after_s",
                "fallback",
                "safety_net_breaches",
                "safety_net_s",
                "clear_after_s"});
  Rule r;
  r.where = pos(t);
  const int before = errors_;

  if (auto id = string(t, path, "id")) {
    if (id->empty()) error(*t.get("id"), path + ".id: must not be empty");
    for (const auto& other : p.rules)
      if (other.id == *id)
        error(*t.get("id"), path + ".id: duplicate rule id '" + *id + "' (first at line " +
                                std::to_string(other.where.line) + ")");
    r.id = *id;
  } else if (!t.get("id")) {
    error(t, path + ": missing 'id'");
  }
  const std::string label = r.id.empty() ? path : "rule '" + r.id + "'";
  r.name = string(t, path, "name").value_or(r.id);

  if (auto tech = string(t, path, "technical")) {
    auto k = rule_kind_from_name(*tech);
    if (!k) {
      error(*t.get("technical"), label + ": unknown technical rule '" + *tech +
                                     "' (known: comm_lost, nibp_overdue, sensor_invalid)");
    } else if (*k == RuleKind::storage_failed || *k == RuleKind::feed_undelivered) {
      error(*t.get("technical"),
            label + ": '" + *tech + "' is raised by the daemon itself, not by a protocol rule");
    } else {
      r.kind = *k;
    }
  }

  if (auto name = string(t, path, "parameter")) {
    if (auto param = core::parameter_from_name(*name))
      r.parameter = param;
    else
      error(*t.get("parameter"),
            label + ": unknown parameter '" + *name + "' (known: " + known_parameters() + ")");
  }
  const bool physiological = r.kind == RuleKind::physiological && !t.get("technical");
  const bool intermittent = r.parameter && core::info(*r.parameter).intermittent;

  // Condition.
  int conditions = 0;
  for (std::size_t i = 0; i < kConditionNames.size(); ++i) {
    const auto key = kConditionNames[i];
    if (!t.get(key)) continue;
    ++conditions;
    if (!physiological) {
      error(*t.get(key), label + ": '" + std::string(key) + "' is not used by technical rules");
      continue;
    }
    if (conditions > 1) {
      error(*t.get(key), label +
                             ": more than one condition (one of above, below, rise_by, "
                             "fall_by, rise_by_percent, fall_by_percent per rule)");
      continue;
    }
    auto v = number(t, path, key);
    if (!v) continue;
    r.condition.kind = static_cast<ConditionKind>(i);
    r.condition.amount = *v;
    if (r.condition.relative() && *v <= 0)
      error(*t.get(key), label + ": " + std::string(key) + " must be greater than 0");
    if (r.condition.kind == ConditionKind::fall_by_percent && *v >= 100)
      error(*t.get(key), label + ": fall_by_percent must be less than 100");
    if (r.parameter && !r.condition.relative()) {
      const auto& info = core::info(*r.parameter);
      if (*v < info.plausible_min || *v > info.plausible_max)
        error(*t.get(key), label + ": limit " + fmt_number(*v) + " is outside the plausible " +
                               "range of " + std::string(info.name) + " (" +
                               fmt_number(info.plausible_min) + " to " +
                               fmt_number(info.plausible_max) + ")");
    }
  }
  if (physiological) {
    if (!t.get("parameter")) error(t, label + ": missing 'parameter'");
    if (conditions == 0)
      error(t, label +
                   ": missing a condition (above, below, rise_by, fall_by, "
                   "rise_by_percent or fall_by_percent)");
  } else if (r.kind == RuleKind::comm_lost || r.kind == RuleKind::nibp_overdue) {
    if (const auto* n = t.get("parameter"))
      error(*n, label + ": 'parameter' is not used by " + std::string(to_string(r.kind)));
  }

  // Delay.
  if (auto d = number(t, path, "delay_s")) {
    if (*d < 0) error(*t.get("delay_s"), label + ": delay_s must not be negative");
    if (intermittent && r.kind == RuleKind::physiological)
      error(*t.get("delay_s"), label + ": " + std::string(to_string(*r.parameter)) +
                                   " is intermittent (one cuff measurement is one reading): "
                                   "use delay_readings");
    if (r.kind == RuleKind::nibp_overdue)
      error(*t.get("delay_s"), label + ": nibp_overdue uses interval_s and grace_s, not delay_s");
    r.delay_s = *d;
  }
  if (auto n = integer(t, path, "delay_readings")) {
    if (*n < 1)
      error(*t.get("delay_readings"), label +
                                          ": delay_readings must be at least 1 (1 = raise "
                                          "on the first breaching reading)");
    if (t.get("delay_s"))
      error(*t.get("delay_readings"), label + ": give delay_s or delay_readings, not both");
    if (r.kind == RuleKind::comm_lost || r.kind == RuleKind::nibp_overdue)
      error(*t.get("delay_readings"),
            label + ": delay_readings is not used by " + std::string(to_string(r.kind)));
    if (r.kind == RuleKind::sensor_invalid && r.parameter && !intermittent)
      error(*t.get("delay_readings"),
            label + ": " + std::string(to_string(*r.parameter)) +
                " is continuous: sensor_invalid counts the time without a valid value (delay_s)");
    r.delay_readings = static_cast<std::uint32_t>(std::clamp<std::int64_t>(*n, 1, 1000000));
    r.delay_in_readings = true;
  }
  if (intermittent) r.delay_in_readings = true;

  if (auto h = number(t, path, "clear_hysteresis")) {
    if (*h < 0)
      error(*t.get("clear_hysteresis"), label + ": clear_hysteresis must not be negative");
    if (!physiological)
      error(*t.get("clear_hysteresis"), label + ": clear_hysteresis is for physiological rules");
    r.clear_hysteresis = *h;
  }
  if (auto v = number(t, path, "clear_after_s")) {
    if (*v < 0) error(*t.get("clear_after_s"), label + ": clear_after_s must not be negative");
    if (!physiological)
      error(*t.get("clear_after_s"), label + ": clear_after_s is for physiological rules");
    if (intermittent)
      error(*t.get("clear_after_s"), label + ": clear_after_s is for continuous parameters (" +
                                         std::string(to_string(*r.parameter)) +
                                         " is one cuff at a time)");
    r.clear_after_s = *v;
  }

  // Priority.
  if (auto pr = string(t, path, "priority")) {
    if (auto v = priority_from_name(*pr))
      r.priority = *v;
    else
      error(*t.get("priority"), label + ": unknown priority '" + *pr + "' (high, medium, low)");
  } else if (!t.get("priority")) {
    error(t, label + ": missing 'priority' (high, medium or low)");
  }

  // Phases.
  bool any_phase = false;
  const bool had_phases =
      strings(t, path, "phases", [&](const std::string& s, const toml::node& n) {
        auto ph = phase_from_name(s);
        if (!ph) {
          error(n, label + ": unknown phase '" + s + "' (baseline, infusing, recovery)");
        } else if (*ph == Phase::ended) {
          error(n, label + ": no rule applies in phase 'ended' (the session is over)");
        } else {
          r.applies[static_cast<int>(*ph)] = true;
          any_phase = true;
        }
      });
  if (!had_phases)
    error(t, label + ": missing 'phases' (e.g. [\"baseline\", \"infusing\", \"recovery\"])");
  else if (const auto* a = t.get("phases")->as_array(); a && a->empty())
    error(*t.get("phases"), label + ": 'phases' is empty");
  (void)any_phase;
  if (r.condition.relative() && r.applies_in(Phase::baseline))
    error(*t.get("phases"), label +
                                ": a baseline-relative rule cannot apply in 'baseline' (the "
                                "baseline is still being measured)");
  if (r.condition.relative() && r.parameter &&
      std::find(p.baseline.parameters.begin(), p.baseline.parameters.end(), *r.parameter) ==
          p.baseline.parameters.end())
    error(t, label + ": baseline-relative rule on " + std::string(to_string(*r.parameter)) +
                 ", which is not in [baseline] parameters");

  r.latching = boolean(t, path, "latching").value_or(false);
  r.blocks_start = boolean(t, path, "blocks_start").value_or(true);
  if (const auto* n = t.get("escalate_after_s")) {
    if (const auto* a = n->as_array()) {
      if (a->empty()) error(*n, label + ": escalate_after_s: the list of levels is empty");
      for (const auto& e : *a) {
        const auto v = e.value<double>();
        if (!e.is_number() || !v || !std::isfinite(*v)) {
          error(e,
                label + ": escalate_after_s: expected numbers, got " + std::string(type_name(e)));
          continue;
        }
        if (*v <= 0) error(e, label + ": escalate_after_s: each level must be > 0");
        if (!r.escalate_after_s.empty() && *v <= r.escalate_after_s.back())
          error(e, label + ": escalate_after_s: levels must increase (" + fmt_number(*v) +
                       " after " + fmt_number(r.escalate_after_s.back()) + ")");
        r.escalate_after_s.push_back(*v);
      }
    } else if (auto e = number(t, path, "escalate_after_s")) {
      if (*e <= 0) error(*n, label + ": escalate_after_s must be > 0");
      r.escalate_after_s.push_back(*e);
    }
  }
  if (auto v = number(t, path, "reactivate_after_s")) {
    if (*v <= 0) error(*t.get("reactivate_after_s"), label + ": reactivate_after_s must be > 0");
    r.reactivate_after_s = *v;
  }
  if (auto v = number(t, path, "worsen_by")) {
    if (*v <= 0) error(*t.get("worsen_by"), label + ": worsen_by must be > 0");
    if (!physiological)
      error(*t.get("worsen_by"), label + ": worsen_by is for physiological rules");
    r.worsen_by = *v;
  }

  if (physiological && !r.worsen_by && r.parameter) r.worsen_by = default_worsen_by(*r.parameter);

  // Fallback parameter.
  const bool may_fall_back =
      r.kind == RuleKind::physiological || r.kind == RuleKind::sensor_invalid;
  if (auto f = string(t, path, "fallback")) {
    const auto* n = t.get("fallback");
    if (!may_fall_back || !r.parameter) {
      error(*n, label + ": fallback is for rules on one parameter (physiological, sensor_invalid)");
    } else if (*f != "none") {
      const auto fp = core::parameter_from_name(*f);
      if (!fp)
        error(*n, label + ": unknown fallback parameter '" + *f +
                      "' (known: " + known_parameters() + ", or none)");
      else if (*fp == *r.parameter)
        error(*n, label + ": fallback is the rule's own parameter");
      else if (core::info(*fp).intermittent != core::info(*r.parameter).intermittent ||
               core::info(*fp).ucum != core::info(*r.parameter).ucum)
        error(*n, label + ": fallback " + *f + " is not measured like " +
                      std::string(to_string(*r.parameter)) + " (unit or continuity differ)");
      else
        r.fallback = fp;
    }
  } else if (may_fall_back && r.parameter == core::Parameter::hr) {
    r.fallback = core::Parameter::pr;  // a pulse oximeter's pulse rate is a heart rate
  }

  // Integrating delay.
  if (auto v = number(t, path, "delay_area")) {
    const auto* n = t.get("delay_area");
    if (*v <= 0) error(*n, label + ": delay_area must be > 0");
    if (!physiological) error(*n, label + ": delay_area is for physiological rules");
    if (intermittent)
      error(*n, label + ": delay_area integrates a continuous parameter; " +
                    std::string(to_string(*r.parameter)) + " is intermittent");
    if (t.get("delay_s") || t.get("delay_readings"))
      error(*n, label + ": give delay_area or delay_s/delay_readings, not both");
    if (!t.get("reset_after_s"))
      error(*n, label +
                    ": delay_area needs reset_after_s (how long the value must stay normal "
                    "before the sum starts again)");
    r.delay_area = *v;
  }
  if (auto v = number(t, path, "reset_after_s")) {
    if (*v < 0) error(*t.get("reset_after_s"), label + ": reset_after_s must not be negative");
    if (!t.get("delay_area"))
      error(*t.get("reset_after_s"), label + ": reset_after_s is only used with delay_area");
    r.reset_after_s = *v;
  }

  if (auto n = integer(t, path, "safety_net_breaches")) {
    const auto* node = t.get("safety_net_breaches");
    if (*n < 2) error(*node, label + ": safety_net_breaches must be at least 2");
    if (!t.get("delay_area"))
      error(*node, label + ": safety_net_breaches is only used with delay_area");
    if (!t.get("safety_net_s"))
      error(*node, label + ": safety_net_breaches needs safety_net_s (the window)");
    r.safety_net_breaches = static_cast<std::uint32_t>(std::clamp<std::int64_t>(*n, 2, 1000));
  }
  if (auto v = number(t, path, "safety_net_s")) {
    if (*v <= 0) error(*t.get("safety_net_s"), label + ": safety_net_s must be > 0");
    if (!t.get("safety_net_breaches"))
      error(*t.get("safety_net_s"), label + ": safety_net_s is only used with safety_net_breaches");
    r.safety_net_s = *v;
  }

  // nibp_overdue.
  if (const auto* iv = table(t, path, "interval_s")) {
    if (r.kind != RuleKind::nibp_overdue) error(*iv, label + ": interval_s is for nibp_overdue");
    for (const auto& [k, v] : *iv) {
      auto ph = phase_from_name(k.str());
      if (!ph || *ph == Phase::ended) {
        error(v, label + ": interval_s: unknown phase '" + std::string(k.str()) + "'");
        continue;
      }
      auto n = number(*iv, path + ".interval_s", k.str());
      if (!n) continue;
      if (*n <= 0) error(v, label + ": interval_s." + std::string(k.str()) + " must be > 0");
      r.interval_s[static_cast<int>(*ph)] = *n;
    }
  }
  if (auto g = number(t, path, "grace_s")) {
    if (*g < 0) error(*t.get("grace_s"), label + ": grace_s must not be negative");
    if (r.kind != RuleKind::nibp_overdue)
      error(*t.get("grace_s"), label + ": grace_s is for nibp_overdue");
    r.grace_s = *g;
  }
  if (r.kind == RuleKind::nibp_overdue && t.get("technical")) {
    if (!t.get("interval_s")) error(t, label + ": nibp_overdue needs interval_s");
    for (int ph = 0; ph < kPhaseCount; ++ph)
      if (r.applies[ph] && !r.interval_s[ph] && t.get("interval_s"))
        error(*t.get("interval_s"), label + ": no interval_s for phase '" +
                                        std::string(kPhaseNames[static_cast<std::size_t>(ph)]) +
                                        "', where the rule applies");
  }

  if (errors_ == before) p.rules.push_back(std::move(r));
}

// Two absolute rules on one parameter in a common phase: a `below` limit at or above an
// `above` limit means a value can breach both at once (the limits are inverted).
void Parser::check_limits(const Protocol& p) {
  for (const auto& lo : p.rules) {
    if (lo.kind != RuleKind::physiological || lo.condition.kind != ConditionKind::below) continue;
    for (const auto& hi : p.rules) {
      if (hi.kind != RuleKind::physiological || hi.condition.kind != ConditionKind::above) continue;
      if (hi.parameter != lo.parameter) continue;
      bool common = false;
      for (int ph = 0; ph < kPhaseCount; ++ph)
        common = common || (lo.applies[ph] && hi.applies[ph]);
      if (!common || lo.condition.amount < hi.condition.amount) continue;
      const auto& later = lo.where.line > hi.where.line ? lo : hi;
      error(later.where, "inverted limits on " + std::string(to_string(*lo.parameter)) +
                             ": rule '" + lo.id + "' (below " + fmt_number(lo.condition.amount) +
                             ", line " + std::to_string(lo.where.line) + ") is not below rule '" +
                             hi.id + "' (above " + fmt_number(hi.condition.amount) + ", line " +
                             std::to_string(hi.where.line) + ")");
    }
  }
}

template <std::size_t N>
std::optional<std::size_t> index_of(const std::array<std::string_view, N>& names,
                                    std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == name) return i;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Phase p) {
  return kPhaseNames[static_cast<std::size_t>(p)];
}
std::optional<Phase> phase_from_name(std::string_view name) {
  if (auto i = index_of(kPhaseNames, name)) return static_cast<Phase>(*i);
  return std::nullopt;
}
std::string_view to_string(Priority p) {
  return kPriorityNames[static_cast<std::size_t>(p)];
}
std::optional<Priority> priority_from_name(std::string_view name) {
  if (auto i = index_of(kPriorityNames, name)) return static_cast<Priority>(*i);
  return std::nullopt;
}
std::string_view to_string(RuleKind k) {
  return kKindNames[static_cast<std::size_t>(k)];
}
std::optional<RuleKind> rule_kind_from_name(std::string_view name) {
  auto i = index_of(kKindNames, name);
  if (!i || *i == 0) return std::nullopt;
  return static_cast<RuleKind>(*i);
}
std::string_view to_string(ConditionKind k) {
  return kConditionNames[static_cast<std::size_t>(k)];
}
std::string_view to_string(GateMode g) {
  switch (g) {
    case GateMode::block:
      return "block";
    case GateMode::warn:
      return "warn";
    case GateMode::off:
      return "off";
  }
  return "block";
}

double default_worsen_by(core::Parameter p) {
  switch (p) {
    case core::Parameter::nibp_sys:
    case core::Parameter::nibp_dia:
    case core::Parameter::nibp_mean:
      return 10;  // mm[Hg]: beyond a cuff's ~4 mm[Hg] noise
    case core::Parameter::hr:
    case core::Parameter::pr:
      return 10;  // /min
    case core::Parameter::spo2:
      return 3;  // %: beyond an oximeter's +-2 % accuracy
    case core::Parameter::rr:
      return 3;  // /min
    case core::Parameter::etco2:
      return 5;  // mm[Hg]
    case core::Parameter::temp:
      return 0.5;  // Cel
  }
  return 10;
}

const Rule* Protocol::find_rule(std::string_view id) const {
  for (const auto& r : rules)
    if (r.id == id) return &r;
  return nullptr;
}

std::optional<Protocol> parse_protocol(const toml::table& table, const std::string& file,
                                       core::Diagnostics& out) {
  Parser ps(file, out);
  Protocol p;
  p.file = file;
  ps.unknown_keys(table, "", {"protocol", "baseline", "rules"});

  if (const auto* t = ps.table(table, "", "protocol")) {
    ps.unknown_keys(*t, "protocol",
                    {"name", "description", "max_pause_s", "max_paused_total_s", "min_recovery_s",
                     "nibp_max_age_s"});
    if (auto n = ps.string(*t, "protocol", "name")) {
      if (n->empty()) ps.error(*t->get("name"), "protocol.name: must not be empty");
      p.name = *n;
    } else if (!t->get("name")) {
      ps.error(*t, "protocol: missing 'name'");
    }
    p.description = ps.string(*t, "protocol", "description").value_or("");
    if (auto m = ps.number(*t, "protocol", "max_pause_s")) {
      if (*m <= 0) ps.error(*t->get("max_pause_s"), "protocol.max_pause_s: must be > 0");
      p.max_pause_s = *m;
    }
    if (auto m = ps.number(*t, "protocol", "max_paused_total_s")) {
      if (*m <= 0)
        ps.error(*t->get("max_paused_total_s"), "protocol.max_paused_total_s: must be > 0");
      else if (*m < p.max_pause_s)
        ps.error(*t->get("max_paused_total_s"), "protocol.max_paused_total_s: " + fmt_number(*m) +
                                                    " is shorter than max_pause_s " +
                                                    fmt_number(p.max_pause_s) +
                                                    " (one pause could never be given in full)");
      p.max_paused_total_s = *m;
    }
    if (auto m = ps.number(*t, "protocol", "min_recovery_s")) {
      if (*m < 0)
        ps.error(*t->get("min_recovery_s"), "protocol.min_recovery_s: must not be negative");
      p.min_recovery_s = *m;
    }
    if (auto m = ps.number(*t, "protocol", "nibp_max_age_s")) {
      if (*m <= 0) ps.error(*t->get("nibp_max_age_s"), "protocol.nibp_max_age_s: must be > 0");
      p.nibp_max_age_s = *m;
    }
  } else if (!table.get("protocol")) {
    ps.error(core::SourcePos{file, 0, 0}, "missing [protocol] table (with name = \"...\")");
  }

  if (const auto* t = ps.table(table, "", "baseline")) {
    ps.unknown_keys(*t, "baseline", {"parameters", "readings", "gate", "above"});
    ps.strings(*t, "baseline", "parameters", [&](const std::string& s, const toml::node& n) {
      auto param = core::parameter_from_name(s);
      if (!param)
        ps.error(n, "baseline.parameters: unknown parameter '" + s +
                        "' (known: " + known_parameters() + ")");
      else if (std::find(p.baseline.parameters.begin(), p.baseline.parameters.end(), *param) ==
               p.baseline.parameters.end())
        p.baseline.parameters.push_back(*param);
    });
    if (auto r = ps.integer(*t, "baseline", "readings")) {
      if (*r < 1 || *r > 100)
        ps.error(*t->get("readings"), "baseline.readings: must be between 1 and 100");
      p.baseline.readings = static_cast<std::uint32_t>(std::clamp<std::int64_t>(*r, 1, 100));
    }
    if (auto g = ps.string(*t, "baseline", "gate")) {
      if (*g == "block")
        p.baseline.gate = GateMode::block;
      else if (*g == "warn")
        p.baseline.gate = GateMode::warn;
      else if (*g == "off")
        p.baseline.gate = GateMode::off;
      else
        ps.error(*t->get("gate"), "baseline.gate: unknown value '" + *g + "' (block, warn, off)");
    }
    if (const auto* above = ps.table(*t, "baseline", "above")) {
      for (const auto& [k, v] : *above) {
        const std::string key(k.str());
        auto param = core::parameter_from_name(key);
        if (!param) {
          ps.error(v, "baseline.above: unknown parameter '" + key +
                          "' (known: " + known_parameters() + ")");
          continue;
        }
        if (std::find(p.baseline.parameters.begin(), p.baseline.parameters.end(), *param) ==
            p.baseline.parameters.end()) {
          ps.error(v, "baseline.above." + key + ": " + key +
                          " is not in [baseline] parameters (it has no baseline to check)");
          continue;
        }
        auto n = ps.number(*above, "baseline.above", key);
        if (!n) continue;
        const auto& i = core::info(*param);
        if (*n < i.plausible_min || *n > i.plausible_max) {
          ps.error(v, "baseline.above." + key + ": " + fmt_number(*n) +
                          " is outside the plausible range of " + key + " (" +
                          fmt_number(i.plausible_min) + "-" + fmt_number(i.plausible_max) + ")");
          continue;
        }
        p.baseline.above[*param] = *n;
      }
    }
  }

  if (const auto* n = table.get("rules")) {
    const auto* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      ps.error(*n, "rules: expected [[rules]] tables");
    } else {
      std::size_t i = 0;
      for (const auto& e : *arr)
        ps.parse_rule(*e.as_table(), "rules[" + std::to_string(i++) + "]", p);
    }
  }
  if (p.rules.empty() && ps.errors() == 0)
    ps.error(core::SourcePos{file, 0, 0}, "the protocol has no [[rules]]");
  ps.check_limits(p);

  if (ps.errors() > 0) return std::nullopt;
  return p;
}

}  // namespace vitalsd::alarms
