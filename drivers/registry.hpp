// The one explicit list of drivers (no static self-registration: it is dropped when linking
// static libraries). Names are what `[[monitors]] driver = "..."` accepts.
#pragma once

#include <memory>
#include <span>
#include <string_view>

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
};

std::span<const DriverEntry> all_drivers();
const DriverEntry* find_driver(std::string_view name);

// Runs `check` of each monitor's driver; an unknown driver name is a diagnostic too.
void check_monitor(const core::MonitorConfig& m, core::Diagnostics& out);

}  // namespace vitalsd::drivers
