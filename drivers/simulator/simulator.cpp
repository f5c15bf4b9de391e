#include "drivers/simulator/simulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

#include "drivers/errors.hpp"

namespace vitalsd::drivers::simulator {
namespace {

constexpr std::array kScenarios{
    ScenarioInfo{"steady", "stable vitals with measurement noise", 0, 0},
    ScenarioInfo{
        "hypertensive-spike",
        "systolic rises to ~200 and diastolic to ~115 mm[Hg], HR +30/min, over 10 s "
        "from event_at_s; holds for event_duration_s, then returns to baseline over 10 min",
        2400, 1800},
    ScenarioInfo{"bradycardia",
                 "heart and pulse rate fall to ~42/min over 10 s, for event_duration_s", 1800, 300},
    ScenarioInfo{"desaturation", "SpO2 falls to ~84 % over 20 s, for event_duration_s", 1500, 180},
    ScenarioInfo{"dropout", "the monitor stops answering for event_duration_s", 600, 60},
    ScenarioInfo{"respiratory-depression",
                 "respiratory rate falls to ~6/min and EtCO2 rises to ~58 mm[Hg] over 60 s, SpO2 "
                 "falls to ~86 % over 120 s, for event_duration_s; back over 60 s",
                 1200, 300},
};

// splitmix64: a small, well-mixed, portable hash; the noise must not depend on the platform.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double unit_interval(std::uint64_t h) {
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

enum NoiseKey : std::uint64_t { kSys = 1, kDia, kHr, kPr, kSpo2, kPatient, kRr = 16, kEtco2 };

core::Observation obs(const std::string& monitor, core::Parameter p, double value,
                      core::Timestamp received) {
  core::Observation o;
  o.monitor = monitor;
  o.parameter = p;
  o.value = value;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = received;
  return o;
}

core::Duration seconds(double s) {
  return core::Duration{static_cast<std::int64_t>(std::llround(s * 1000))};
}

}  // namespace

std::span<const ScenarioInfo> scenarios() {
  return kScenarios;
}

const ScenarioInfo* find_scenario(std::string_view name) {
  for (const auto& s : kScenarios)
    if (s.name == name) return &s;
  return nullptr;
}

Model::Model(const core::SimulatorConfig& config)
    : scenario_(find_scenario(config.scenario)), config_(config) {
  if (!scenario_)
    throw std::invalid_argument("unknown simulator scenario '" + config.scenario + "'");
  event_at_s_ = config.event_at_s.value_or(scenario_->default_event_at_s);
  event_duration_s_ = config.event_duration_s.value_or(scenario_->default_event_duration_s);
  // Each seed is a slightly different patient.
  base_sys_ = 118 + 10 * unit_interval(mix(config.seed ^ (kPatient << 56)));
  base_dia_ = 74 + 8 * unit_interval(mix(config.seed ^ ((kPatient + 1) << 56)));
  base_hr_ = 66 + 12 * unit_interval(mix(config.seed ^ ((kPatient + 2) << 56)));
  base_spo2_ = 97 + 2 * unit_interval(mix(config.seed ^ ((kPatient + 3) << 56)));
  base_rr_ = 13 + 4 * unit_interval(mix(config.seed ^ ((kPatient + 4) << 56)));
  base_etco2_ = 36 + 4 * unit_interval(mix(config.seed ^ ((kPatient + 5) << 56)));
}

double Model::effect(double t, double ramp_s, double fall_s) const {
  const double end = event_end_s();
  if (t < event_at_s_) return 0;
  if (t < event_at_s_ + ramp_s) return (t - event_at_s_) / ramp_s;
  if (t < end) return 1;
  if (fall_s > 0 && t < end + fall_s) return 1 - (t - end) / fall_s;
  return 0;
}

double Model::systolic(double t) const {
  const bool spike = scenario_->name == "hypertensive-spike";
  return base_sys_ + (spike ? 78 * effect(t, 10, 600) : 0);
}
double Model::diastolic(double t) const {
  const bool spike = scenario_->name == "hypertensive-spike";
  return base_dia_ + (spike ? 38 * effect(t, 10, 600) : 0);
}
double Model::heart_rate(double t) const {
  if (scenario_->name == "hypertensive-spike") return base_hr_ + 30 * effect(t, 10, 600);
  if (scenario_->name == "bradycardia") return base_hr_ - (base_hr_ - 42) * effect(t, 10, 60);
  return base_hr_;
}
double Model::spo2(double t) const {
  if (scenario_->name == "desaturation") return base_spo2_ - (base_spo2_ - 84) * effect(t, 20, 60);
  if (scenario_->name == "respiratory-depression")
    return base_spo2_ - (base_spo2_ - 86) * effect(t, 120, 60);
  return base_spo2_;
}
double Model::respiratory_rate(double t) const {
  if (scenario_->name == "respiratory-depression")
    return base_rr_ - (base_rr_ - 6) * effect(t, 60, 60);
  return base_rr_;
}
double Model::etco2(double t) const {
  if (scenario_->name == "respiratory-depression")
    return base_etco2_ + (58 - base_etco2_) * effect(t, 60, 60);
  return base_etco2_;
}

bool Model::answering(double t) const {
  return !(scenario_->name == "dropout" && t >= event_at_s_ && t < event_end_s());
}

double Model::noise(std::uint64_t key, double amplitude) const {
  // Sum of two uniforms: a triangular distribution in [-amplitude, amplitude].
  const auto h = mix(config_.seed * 0x100000001b3ULL ^ key);
  return amplitude * (unit_interval(h) + unit_interval(mix(h)) - 1);
}

std::vector<core::Observation> Model::sample(const std::string& monitor, core::Timestamp start,
                                             double t) const {
  std::vector<core::Observation> out;
  const auto now = start + seconds(t);
  const auto tick = static_cast<std::uint64_t>(std::llround(t * 1000));
  auto add = [&](core::Parameter p, double v) {
    out.push_back(obs(monitor, p, std::round(v), now));
    out.back().device_time = now + seconds(config_.clock_offset_s);
  };
  add(core::Parameter::hr, heart_rate(t) + noise(tick << 8 | kHr, 2));
  add(core::Parameter::pr, heart_rate(t) + noise(tick << 8 | kPr, 2));
  add(core::Parameter::spo2, std::min(100.0, spo2(t) + noise(tick << 8 | kSpo2, 1)));
  add(core::Parameter::rr, std::max(0.0, respiratory_rate(t) + noise(tick << 8 | kRr, 1)));
  add(core::Parameter::etco2, std::max(0.0, etco2(t) + noise(tick << 8 | kEtco2, 1)));

  // The latest completed cuff cycle: measurement k is taken at k * interval.
  const double interval = config_.nibp_interval_s;
  const auto k = static_cast<std::uint64_t>(std::floor(t / interval));
  const double taken = static_cast<double>(k) * interval;
  if (!answering(taken)) return out;  // the cuff did not measure during a dropout
  const double sys = std::round(systolic(taken) + noise(k << 8 | kSys, 4));
  const double dia = std::round(diastolic(taken) + noise(k << 8 | kDia, 3));
  const double mean = std::round((sys + 2 * dia) / 3);
  for (auto [p, v] : {std::pair{core::Parameter::nibp_sys, sys},
                      {core::Parameter::nibp_dia, dia},
                      {core::Parameter::nibp_mean, mean}}) {
    auto o = obs(monitor, p, v, now);
    o.device_time = start + seconds(taken + config_.clock_offset_s);
    o.measurement_id = k + 1;
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

class SimulatorDriver final : public Driver {
 public:
  SimulatorDriver(const core::MonitorConfig& m, Context& ctx)
      : io_(ctx.io()), monitor_(m.id), model_(m.simulator) {}

  void poll(core::Timestamp now, PollHandler done) override {
    if (!start_) start_ = now;
    const double t = std::chrono::duration<double>(now - *start_).count();
    PollResult r;
    if (stopped_) {
      r.error = errc::stopped;
    } else if (!model_.answering(t)) {
      r.error = errc::timeout;
      r.detail = "simulated dropout";
    } else {
      r.observations = model_.sample(monitor_, *start_, t);
    }
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void stop() override { stopped_ = true; }

 private:
  asio::io_context& io_;
  std::string monitor_;
  Model model_;
  std::optional<core::Timestamp> start_;
  bool stopped_ = false;
};

}  // namespace

std::vector<core::Parameter> parameters(const core::MonitorConfig&) {
  return {core::Parameter::hr,       core::Parameter::pr,       core::Parameter::spo2,
          core::Parameter::rr,       core::Parameter::etco2,    core::Parameter::nibp_sys,
          core::Parameter::nibp_dia, core::Parameter::nibp_mean};
}

void check(const core::MonitorConfig& m, core::Diagnostics& out) {
  if (!find_scenario(m.simulator.scenario)) {
    std::string names;
    for (const auto& s : kScenarios) names += (names.empty() ? "" : ", ") + std::string(s.name);
    out.push_back({m.position("scenario"), "monitor '" + m.id + "': unknown scenario '" +
                                               m.simulator.scenario + "' (known: " + names + ")"});
  }
  if (!(m.simulator.nibp_interval_s > 0))
    out.push_back({m.position("nibp_interval_s"),
                   "monitor '" + m.id + "': nibp_interval_s must be greater than 0"});
  if (m.simulator.event_at_s && *m.simulator.event_at_s < 0)
    out.push_back({m.position("event_at_s"), "monitor '" + m.id + "': event_at_s must be >= 0"});
  if (m.simulator.event_duration_s && *m.simulator.event_duration_s < 0)
    out.push_back(
        {m.position("event_duration_s"), "monitor '" + m.id + "': event_duration_s must be >= 0"});
}

std::unique_ptr<Driver> make(const core::MonitorConfig& m, Context& ctx) {
  return std::make_unique<SimulatorDriver>(m, ctx);
}

}  // namespace vitalsd::drivers::simulator
