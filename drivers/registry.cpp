#include "drivers/registry.hpp"

#include <array>
#include <string>

#include "drivers/datex/datex.hpp"
#include "drivers/hl7/hl7.hpp"
#include "drivers/intellivue/intellivue.hpp"
#include "drivers/masimo/masimo.hpp"
#include "drivers/modbus/modbus.hpp"
#include "drivers/simulator/simulator.hpp"

namespace vitalsd::drivers {
namespace {
// The one list of drivers. Add a line here for a new driver.
const std::array kDrivers{
    DriverEntry{"simulator", &simulator::check, &simulator::make, &simulator::parameters, true},
    DriverEntry{"modbus-tcp", &modbus::check_tcp, &modbus::make_tcp, &modbus::parameters, true},
    DriverEntry{"modbus-rtu", &modbus::check_rtu, &modbus::make_rtu, &modbus::parameters, true},
    DriverEntry{"hl7", &hl7::check, &hl7::make, &hl7::parameters, false},
    DriverEntry{"intellivue", &intellivue::check, &intellivue::make, &intellivue::parameters, true},
    DriverEntry{"masimo-serial", &masimo::check, &masimo::make, &masimo::parameters, true},
    DriverEntry{"datex-s5", &datex::check, &datex::make, &datex::parameters, true},
};
}  // namespace

std::span<const DriverEntry> all_drivers() {
  return kDrivers;
}

const DriverEntry* find_driver(std::string_view name) {
  for (const auto& d : kDrivers)
    if (d.name == name) return &d;
  return nullptr;
}

void check_monitor(const core::MonitorConfig& m, core::Diagnostics& out) {
  if (const auto* d = find_driver(m.driver)) {
    d->check(m, out);
    return;
  }
  std::string names;
  for (const auto& d : kDrivers) names += (names.empty() ? "" : ", ") + std::string(d.name);
  out.push_back({m.position("driver"), "monitor '" + m.id + "': unknown driver '" + m.driver +
                                           "' (known: " + names + ")"});
}

std::vector<core::Parameter> monitor_parameters(const core::MonitorConfig& m) {
  if (!m.parameters.empty()) return m.parameters;
  if (const auto* d = find_driver(m.driver)) return d->parameters(m);
  return {};
}

double send_interval_s(const core::MonitorConfig& m) {
  if (m.send_interval_s) return *m.send_interval_s;
  const auto* d = find_driver(m.driver);
  if (d && !d->polled) return kDefaultSendIntervalS;
  return std::chrono::duration<double>(m.poll).count();
}

}  // namespace vitalsd::drivers
