// The one explicit list of drivers (no static self-registration: it is dropped when linking
// static libraries). Names are what `[[monitors]] driver = "..."` accepts.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "drivers/driver.hpp"

namespace vitalsd::drivers {

struct DriverEntry {
  std::string_view name;
  // Validates the driver's part of a monitor's config (scenario, profile, ...), appending problems.
  void (*check)(const core::MonitorConfig&, core::Diagnostics&);
  // Creates the driver. Throws std::runtime_error at start-up when it cannot.
  std::unique_ptr<Driver> (*make)(const core::MonitorConfig&, Context&);
  // The parameters a monitor of this driver can deliver as configured (a Modbus profile's
  // fields, the simulator's list); empty when the driver cannot know (HL7 senders).
  std::vector<core::Parameter> (*parameters)(const core::MonitorConfig&);
  // Whether the driver polls (poll_ms is how often a value arrives) or is sent to.
  bool polled;
};

std::span<const DriverEntry> all_drivers();
const DriverEntry* find_driver(std::string_view name);

// Runs `check` of each monitor's driver; an unknown driver name is a diagnostic too.
void check_monitor(const core::MonitorConfig& m, core::Diagnostics& out);

// What the monitor measures: the config's `parameters` if given, else its driver's list (empty:
// not known, every parameter).
std::vector<core::Parameter> monitor_parameters(const core::MonitorConfig& m);
// How often it sends a value, seconds: the config's send_interval_s, else poll_ms for polled
// drivers and kDefaultSendIntervalS for senders.
inline constexpr double kDefaultSendIntervalS = 10;
double send_interval_s(const core::MonitorConfig& m);

}  // namespace vitalsd::drivers
