// The Modbus driver: one driver, two transports (after libmodbus's backend table).
//   driver = "modbus-tcp": endpoint = "host:port", unit, profile
//   driver = "modbus-rtu": device, baud, parity, data_bits, stop_bits, unit, profile
// Each poll reads the profile's planned blocks one after another over the link shared by every
// monitor on the same endpoint/device, and decodes them into Observations (docs/modbus.md).
#pragma once

#include <memory>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "drivers/driver.hpp"
#include "drivers/modbus/profile.hpp"

namespace vitalsd::drivers::modbus {

void check_tcp(const core::MonitorConfig& monitor, core::Diagnostics& out);
void check_rtu(const core::MonitorConfig& monitor, core::Diagnostics& out);
// The parameters the monitor's profile maps (empty when the profile does not load).
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
// Throw std::runtime_error with every problem when the monitor cannot be driven.
std::unique_ptr<Driver> make_tcp(const core::MonitorConfig& monitor, Context& ctx);
std::unique_ptr<Driver> make_rtu(const core::MonitorConfig& monitor, Context& ctx);

// Worker threads of the pool that runs blocking serial I/O (shared by all RTU links).
inline constexpr int kRtuPoolThreads = 4;

}  // namespace vitalsd::drivers::modbus
