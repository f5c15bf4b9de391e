// The bedside harness of the clinical reviews' replays: one session on the shipped ketamine-iv
// protocol, fed second by second. Seconds count from the start of the infusion; the baseline
// (cuffs of 120/80 mm[Hg] every minute, HR 70 and SpO2 97 % every second) is taken in the 5
// minutes before it. A case may give the chair's monitor capabilities (what it measures, how
// often it sends): the harness then feeds only what that monitor measures (pulse rate for heart
// rate on a chair without ECG).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alarms/engine.hpp"
#include "core/value_text.hpp"
#include "support/protocols.hpp"

namespace vitalsd::alarms::bedside {

using core::Parameter;
inline const core::Timestamp T0 = core::Timestamp{} + std::chrono::hours(24 * 365 * 56);

inline core::Timestamp at(double s) {
  return T0 + std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(s * 1000)));
}

inline std::shared_ptr<const Protocol> shipped() {
  static const auto p = test::shipped_protocol("ketamine-iv");
  return p;
}

inline core::Observation reading(Parameter p, double v, double t,
                                 core::Validity validity = core::Validity::valid) {
  core::Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = at(t);
  o.validity = validity;
  return o;
}

// "600 reactivated sbp-severe-high worsened", "660 escalated sbp-severe-high level 1",
// "9 raised spo2-low (superseded)", "30 acknowledged sbp-rise by nurse superseding_acknowledged",
// "30.5 raised hr-low [pr]" (the alert's parameter when it is not the rule's own).
inline std::string line(const Transition& t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.at - T0).count();
  std::string r = core::format_value(static_cast<double>(ms) / 1000) + " " +
                  std::string(to_string(t.type)) + " " + t.rule;
  if (t.parameter && t.parameter == Parameter::pr) r += " [pr]";
  if (t.type == EventType::escalated) r += " level " + std::to_string(t.level);
  if (t.superseded_by) r += " (superseded)";
  if (!t.actor.empty()) r += " by " + t.actor;
  if (!t.reason.empty() && t.type != EventType::cleared && t.type != EventType::latched)
    r += " " + t.reason;
  return r;
}

inline std::string dump(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "  \"" + x + "\",\n";
  return s;
}

struct Bedside {
  MonitorCapabilities caps;
  Engine e;
  std::vector<Transition> all;
  std::vector<std::string> actions;  // nurse actions that were refused, "250 pause pause_limit"
  std::uint64_t cuff_id = 0;

  explicit Bedside(MonitorCapabilities monitor = {}, bool infuse = true)
      : caps(monitor), e(shipped(), 1, {}, at(-300), std::move(monitor)) {
    for (int t = -299; t < 0; ++t) {
      if (t % 60 == 0) cuff(120, t);
      vitals(t, 70, 97);
    }
    if (infuse) add(e.set_phase(Phase::infusing, at(0)));
  }
  void add(const std::vector<Transition>& ts) { all.insert(all.end(), ts.begin(), ts.end()); }
  void add(const ActionResult& r) {
    add(r.transitions);
    if (!r.ok()) actions.push_back(std::to_string(now_s) + " " + std::string(to_string(r.error)));
  }
  // One cuff measurement, received at `t`; measured `age` seconds before (the monitor's own
  // time stamp), if given.
  void cuff(double sys, double t, std::optional<double> age = std::nullopt, double dia = 80) {
    ++cuff_id;
    last_cuff_s = t;
    for (auto [p, v] : {std::pair{Parameter::nibp_sys, sys}, std::pair{Parameter::nibp_dia, dia}}) {
      auto o = reading(p, v, t);
      o.measurement_id = cuff_id;
      if (age) o.device_time = at(t - *age);
      add(e.observe(o));
    }
  }
  // HR goes as ECG heart rate where the monitor has it, else as pulse rate.
  void vitals(double t, std::optional<double> hr, std::optional<double> spo2,
              core::Validity spo2_validity = core::Validity::valid) {
    if (hr)
      add(e.observe(reading(caps.has(Parameter::hr) ? Parameter::hr : Parameter::pr, *hr, t)));
    if (spo2 && caps.has(Parameter::spo2))
      add(e.observe(reading(Parameter::spo2, *spo2, t, spo2_validity)));
    // Capnography where the monitor has it: normal breathing unless a case says otherwise.
    if (caps.has(Parameter::rr) && breathing_rr)
      add(e.observe(reading(Parameter::rr, *breathing_rr, t)));
    if (caps.has(Parameter::etco2) && breathing_etco2)
      add(e.observe(reading(Parameter::etco2, *breathing_etco2, t)));
  }
  // Every second from `from` to `to`: `each(t)` feeds readings and acts, then the clock ticks.
  void run(int from, int to, const std::function<void(int)>& each) {
    for (int t = from; t <= to; ++t) {
      now_s = t;
      // A normal cuff on the protocol's 5-minute cycle, for cases that are not about BP.
      if (routine_cuffs && t > 0 && t % 300 == 0 && t - last_cuff_s >= 300) cuff(120, t);
      each(t);
      add(e.tick(at(t)));
    }
  }
  const Alert* open(std::string_view rule) const {
    for (const auto& a : e.open_alerts())
      if (a.rule == rule) return e.find(a.id);
    return nullptr;
  }
  std::vector<std::string> lines(std::string_view rule = {}) const {
    std::vector<std::string> v;
    for (const auto& t : all)
      if (rule.empty() || t.rule == rule) v.push_back(line(t));
    return v;
  }
  int now_s = 0;
  double last_cuff_s = -300;
  bool routine_cuffs = false;
  std::optional<double> breathing_rr = 14, breathing_etco2 = 38;
};

}  // namespace vitalsd::alarms::bedside
