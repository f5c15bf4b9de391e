// The simulator driver: seeded, timed vitals scenarios. It is the shipped config's default
// monitor, and what tests, demos and benchmarks replay. Everything is a pure function of the
// seed and the time since the first poll, so the same seed and poll times give the same series.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "drivers/driver.hpp"

namespace vitalsd::drivers::simulator {

struct ScenarioInfo {
  std::string_view name;
  std::string_view description;
  double default_event_at_s;
  double default_event_duration_s;
};

std::span<const ScenarioInfo> scenarios();
const ScenarioInfo* find_scenario(std::string_view name);

// What the simulated patient's vitals are at a time. Values are the "true" physiology plus
// seeded measurement noise.
class Model {
 public:
  explicit Model(
      const core::SimulatorConfig& config);  // throws std::invalid_argument on an unknown scenario

  // Whether the device answers at `t_s` seconds after start (false during a dropout).
  bool answering(double t_s) const;
  // Observations a poll at `t_s` sees: HR, PR, SpO2, RR and EtCO2 measured now; the latest
  // completed NIBP cuff measurement (systolic, diastolic, mean) with its measurement id and device
  // time.
  std::vector<core::Observation> sample(const std::string& monitor, core::Timestamp start,
                                        double t_s) const;

  // Scenario curves without noise (for documentation and tests).
  double systolic(double t_s) const;
  double diastolic(double t_s) const;
  double heart_rate(double t_s) const;
  double spo2(double t_s) const;
  double respiratory_rate(double t_s) const;
  double etco2(double t_s) const;

  double event_at_s() const { return event_at_s_; }
  double event_end_s() const { return event_at_s_ + event_duration_s_; }

 private:
  double noise(std::uint64_t key, double amplitude) const;
  double effect(double t_s, double ramp_s, double fall_s) const;

  const ScenarioInfo* scenario_;
  core::SimulatorConfig config_;
  double event_at_s_;
  double event_duration_s_;
  double base_sys_, base_dia_, base_hr_, base_spo2_, base_rr_, base_etco2_;
};

void check(const core::MonitorConfig& monitor, core::Diagnostics& out);
// Every parameter the simulated monitor produces.
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
std::unique_ptr<Driver> make(const core::MonitorConfig& monitor, Context& ctx);

}  // namespace vitalsd::drivers::simulator
